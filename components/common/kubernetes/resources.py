"""Turns a manifest dict (as it would be written in YAML) into the pulumi-kubernetes resource."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

_BUILT_IN: dict[tuple[str, str], Any] = {
    ("v1", "Namespace"): k8s.core.v1.Namespace,
    ("v1", "ConfigMap"): k8s.core.v1.ConfigMap,
    ("v1", "Secret"): k8s.core.v1.Secret,
    ("v1", "Service"): k8s.core.v1.Service,
    ("v1", "ServiceAccount"): k8s.core.v1.ServiceAccount,
    ("apps/v1", "Deployment"): k8s.apps.v1.Deployment,
    ("apps/v1", "StatefulSet"): k8s.apps.v1.StatefulSet,
    ("apps/v1", "DaemonSet"): k8s.apps.v1.DaemonSet,
    ("policy/v1", "PodDisruptionBudget"): k8s.policy.v1.PodDisruptionBudget,
    ("batch/v1", "CronJob"): k8s.batch.v1.CronJob,
    ("autoscaling/v2", "HorizontalPodAutoscaler"): k8s.autoscaling.v2.HorizontalPodAutoscaler,
    ("networking.k8s.io/v1", "NetworkPolicy"): k8s.networking.v1.NetworkPolicy,
    ("networking.k8s.io/v1", "Ingress"): k8s.networking.v1.Ingress,
    ("scheduling.k8s.io/v1", "PriorityClass"): k8s.scheduling.v1.PriorityClass,
}


def api_group(manifest: dict[str, Any]) -> str:
    """The API group: "apps" of "apps/v1", and "" for the core group ("v1")."""
    api_version: str = manifest["apiVersion"]
    return api_version.split("/", 1)[0] if "/" in api_version else ""


@dataclass(frozen=True)
class CrdInstallers:
    """The resources that install CRDs, by API group. A custom resource of a listed group waits for
    them: pulumi-kubernetes retries "no matches for kind" for about a minute only, and a Helm release
    that installs CRDs can take far longer to become ready."""

    by_group: Mapping[str, tuple[pulumi.Resource, ...]] = field(default_factory=dict)

    def merged(self, group: str, installers: list[pulumi.Resource]) -> CrdInstallers:
        """These installers added for one group (none: unchanged, the cluster already has it)."""
        if not installers:
            return self
        return CrdInstallers({**self.by_group, group: (*self.by_group.get(group, ()), *installers)})

    def __add__(self, other: CrdInstallers) -> CrdInstallers:
        result = self
        for group, installers in other.by_group.items():
            result = result.merged(group, list(installers))
        return result

    def for_manifest(self, manifest: dict[str, Any]) -> list[pulumi.Resource]:
        return list(self.by_group.get(api_group(manifest), ()))


# For args whose component installs nothing's CRDs itself and is given none: the cluster has them.
NO_CRD_INSTALLERS = CrdInstallers()


def logical_name(manifest: dict[str, Any]) -> str:
    meta = manifest["metadata"]
    return f"{meta['namespace']}/{meta['name']}" if meta.get("namespace") else meta["name"]


def create(
    manifest: dict[str, Any], opts: pulumi.ResourceOptions, crds: CrdInstallers | None = None
) -> pulumi.CustomResource:
    """Register one object; built-in kinds get their typed class, custom resources the generic one,
    after the resources that install their CRD (`crds`)."""
    api_version, kind = manifest["apiVersion"], manifest["kind"]
    installers = crds.for_manifest(manifest) if crds else []
    if installers:
        opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=installers))
    body = {key: value for key, value in manifest.items() if key not in ("apiVersion", "kind")}
    resource_class = _BUILT_IN.get((api_version, kind))
    if resource_class is not None:
        resource: pulumi.CustomResource = resource_class(logical_name(manifest), opts=opts, **_snake_top_level(body))
        return resource
    return k8s.apiextensions.CustomResource(
        logical_name(manifest), api_version=api_version, kind=kind, opts=opts, **_snake_top_level(body)
    )


def _snake_top_level(body: dict[str, Any]) -> dict[str, Any]:
    # Resource constructors take snake_case arguments; nested dicts pass through as written.
    renames = {
        "stringData": "string_data",
        "automountServiceAccountToken": "automount_service_account_token",
        "preemptionPolicy": "preemption_policy",
        "globalDefault": "global_default",
    }
    return {renames.get(key, key): value for key, value in body.items()}
