"""ClusterAddons: the cluster-wide Helm releases the platform's objects need (KEDA, cert-manager,
the VPA recommender), each optional where the cluster already has it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.common.kubernetes.resources import CrdInstallers


@dataclass(frozen=True)
class HelmChartRelease:
    """One pinned chart installed into its own namespace."""

    # Helm's release name (also the logical name's suffix).
    release: str
    chart: str
    version: str
    repository: str
    namespace: str
    values: Mapping[str, Any] = field(default_factory=dict)
    # API groups of the CRDs the chart installs: custom resources of these groups wait for the release.
    crd_groups: tuple[str, ...] = ()


@dataclass(frozen=True)
class ClusterAddonsArgs:
    # The releases to install; an add-on the cluster already has is simply not listed.
    releases: tuple[HelmChartRelease, ...]
    # Seconds Helm waits for each release's pods to become ready before rolling it back.
    timeout_seconds: int = 600


class ClusterAddons(pulumi.ComponentResource):
    """Installs each release atomically (a failed install is rolled back) and exposes them as the
    installers of their CRDs."""

    crds: CrdInstallers
    releases: dict[str, k8s.helm.v3.Release]

    def __init__(self, name: str, args: ClusterAddonsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("teknofest:platform:ClusterAddons", name, None, opts)
        self.crds = CrdInstallers()
        self.releases = {}
        for spec in args.releases:
            release = k8s.helm.v3.Release(
                f"{name}-{spec.release}",
                name=spec.release,
                chart=spec.chart,
                version=spec.version,
                namespace=spec.namespace,
                create_namespace=True,
                repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=spec.repository),
                values=dict(spec.values),
                atomic=True,
                timeout=args.timeout_seconds,
                opts=pulumi.ResourceOptions(parent=self),
            )
            self.releases[spec.release] = release
            for group in spec.crd_groups:
                self.crds = self.crds.merged(group, [release])
        self.register_outputs(
            {"releases": {key: spec.version for key, spec in zip(self.releases, args.releases, strict=True)}}
        )
