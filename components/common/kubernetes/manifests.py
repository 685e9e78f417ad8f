"""Small pure builders of manifests that several components write the same way."""

from __future__ import annotations

from typing import Any

from components.common import labels as lbl
from components.common.values import Resources


def metadata(
    name: str, namespace: str | None, labels: dict[str, str], annotations: dict[str, str] | None = None
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "labels": dict(labels)}
    if namespace is not None:
        meta["namespace"] = namespace
    if annotations:
        meta["annotations"] = dict(annotations)
    return meta


def container_resources(resources: Resources) -> dict[str, Any]:
    """Settings' requests and limits as a container's `resources` (a fresh dict each call)."""
    return {
        "requests": {"cpu": resources.requests.cpu, "memory": resources.requests.memory},
        "limits": {"cpu": resources.limits.cpu, "memory": resources.limits.memory},
    }


# The pod's own address from the downward API: servers bind it instead of 0.0.0.0.
POD_IP_ENV: dict[str, Any] = {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}


def rendered_config_map(
    name: str, namespace: str, labels: dict[str, str], files: dict[str, str], capability: str
) -> dict[str, Any]:
    """A ConfigMap of generated config files; the synth writes them to configs/<capability>/."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": metadata(name, namespace, labels, {lbl.RENDERED_CONFIG_ANNOTATION: capability}),
        "data": dict(files),
    }


def volume_claim_spec(size: str, storage_class: str | None) -> dict[str, Any]:
    """A ReadWriteOnce claim of `size`, on the cluster's default StorageClass unless one is named."""
    spec: dict[str, Any] = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}}
    if storage_class:
        spec["storageClassName"] = storage_class
    return spec


def namespace_peer(name: str) -> dict[str, Any]:
    """A NetworkPolicy peer: every pod of the namespace `name`."""
    return {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": name}}}


def pods_peer(selector: dict[str, str]) -> dict[str, Any]:
    """A NetworkPolicy peer: the pods of the policy's namespace with these labels."""
    return {"podSelector": {"matchLabels": dict(selector)}}


def tcp(*ports: int | str) -> list[dict[str, Any]]:
    return [{"port": port, "protocol": "TCP"} for port in ports]


def ingress_policy(
    name: str,
    namespace: str,
    labels: dict[str, str],
    selector: dict[str, str],
    rules: list[tuple[list[dict[str, Any]], list[int | str]]],
) -> dict[str, Any]:
    """An ingress-only NetworkPolicy: each rule admits its peers on its TCP ports."""
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": metadata(name, namespace, labels),
        "spec": {
            "podSelector": {"matchLabels": dict(selector)},
            "policyTypes": ["Ingress"],
            "ingress": [{"from": peers, "ports": tcp(*ports)} for peers, ports in rules],
        },
    }


def client_egress_policies(
    clients: tuple[tuple[str, dict[str, str]], ...],
    target: str,
    namespace: str,
    labels: dict[str, str],
    egress: list[dict[str, Any]],
) -> list[dict[str, Any]]:
    """One policy per client pool, "<client>-to-<target>", allowing the given egress rules."""
    return [
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": metadata(f"{client}-to-{target}", namespace, labels),
            "spec": {"podSelector": {"matchLabels": dict(selector)}, "policyTypes": ["Egress"], "egress": egress},
        }
        for client, selector in clients
    ]


def secret_manifest(
    name: str, namespace: str, labels: dict[str, str], string_data: dict[str, Any], secret_type: str = "Opaque"
) -> dict[str, Any]:
    """A Secret from stringData; values may be Pulumi Outputs, which the callers mark secret."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": metadata(name, namespace, labels),
        "type": secret_type,
        "stringData": string_data,
    }


def pod_disruption_budget(
    name: str, namespace: str, labels: dict[str, str], selector: dict[str, str]
) -> dict[str, Any]:
    # maxUnavailable keeps working while an autoscaler changes the replica count; AlwaysAllow lets a
    # node drain evict pods that are crash-looping anyway.
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": metadata(name, namespace, labels),
        "spec": {
            "maxUnavailable": 1,
            "selector": {"matchLabels": dict(selector)},
            "unhealthyPodEvictionPolicy": "AlwaysAllow",
        },
    }


def service_account(name: str, namespace: str, labels: dict[str, str]) -> dict[str, Any]:
    # No workload of this slice talks to the Kubernetes API: no token in the pods.
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": metadata(name, namespace, labels),
        "automountServiceAccountToken": False,
    }


def spread_constraints(
    selector: dict[str, str], hostname_when_unsatisfiable: str = "ScheduleAnyway"
) -> list[dict[str, Any]]:
    """Spread replicas over nodes and zones."""
    return [
        {
            "maxSkew": 1,
            "topologyKey": key,
            "whenUnsatisfiable": mode,
            "labelSelector": {"matchLabels": dict(selector)},
        }
        for key, mode in (
            ("kubernetes.io/hostname", hostname_when_unsatisfiable),
            ("topology.kubernetes.io/zone", "ScheduleAnyway"),
        )
    ]


def service_monitor(
    name: str, namespace: str, labels: dict[str, str], selector: dict[str, str], port: str, path: str
) -> dict[str, Any]:
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "ServiceMonitor",
        "metadata": metadata(name, namespace, labels),
        "spec": {
            "selector": {"matchLabels": {**selector, lbl.METRICS_SERVICE: "true"}},
            "namespaceSelector": {"matchNames": [namespace]},
            "endpoints": [{"port": port, "path": path, "interval": "15s", "scrapeTimeout": "10s"}],
        },
    }
