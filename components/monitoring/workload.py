"""One small server of the monitoring stack (Loki, Jaeger, the collector, exporters) as manifests:
its config in a ConfigMap, a Deployment or StatefulSet, a ClusterIP Service, a ServiceMonitor and a PDB.

Servers bind to the pod's own address (POD_IP from the downward API), not 0.0.0.0: kubelet probes,
Services and Prometheus all reach a pod on that address, and nothing else needs to listen.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Literal

from components.common import labels as lbl
from components.common.kubernetes.manifests import (
    POD_IP_ENV,
    container_resources,
    metadata,
    pod_disruption_budget,
    rendered_config_map,
    service_account,
    service_monitor,
    spread_constraints,
    volume_claim_spec,
)
from components.common.kubernetes.pod_security import container_security_context, pod_security_context
from components.common.values import Resources

CONFIG_CHECKSUM_ANNOTATION = "teknofest.org/config-checksum"


@dataclass(frozen=True)
class Port:
    name: str
    port: int


@dataclass(frozen=True)
class Volume:
    """A PersistentVolumeClaim template (StatefulSet) mounted at `mount_path`."""

    size: str
    mount_path: str
    storage_class: str | None = None


@dataclass(frozen=True)
class SecretMount:
    secret_name: str
    mount_path: str


@dataclass(frozen=True)
class ServerSpec:
    name: str
    namespace: str
    component: str
    environment: str
    image: str
    args: tuple[str, ...]
    ports: tuple[Port, ...]
    resources: Resources
    replicas: int = 1
    # Rendered config files (file name -> text), mounted read-only at config_dir.
    config: dict[str, str] = field(default_factory=dict)
    config_dir: str = "/etc/config"
    # The capability the synth writes the config under (build/<stack>/configs/<capability>/...).
    config_capability: str = "config"
    metrics_port: str | None = "metrics"
    metrics_path: str = "/metrics"
    ready_path: str | None = None
    live_path: str | None = None
    probe_port: str | None = None
    data: Volume | None = None
    secret_mounts: tuple[SecretMount, ...] = ()
    env: tuple[dict[str, Any], ...] = ()
    user: int = 10001
    # The data volume is single-writer (Badger, Loki's filesystem store): never two pods at once.
    kind: Literal["Deployment", "StatefulSet"] = "Deployment"

    @property
    def labels(self) -> dict[str, str]:
        return lbl.standard_labels(self.name, self.component, self.environment, self.image)

    @property
    def selector(self) -> dict[str, str]:
        return lbl.selector_labels(self.name)

    @property
    def config_map_name(self) -> str:
        return f"{self.name}-config"


def config_checksum(files: dict[str, str]) -> str:
    """Changes with the config: as a pod annotation it rolls the pods when the config changes."""
    return hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()


def _probe(path: str, port: str, period: int, failures: int) -> dict[str, Any]:
    return {
        "httpGet": {"path": path, "port": port},
        "periodSeconds": period,
        "timeoutSeconds": 3,
        "failureThreshold": failures,
    }


def _pod_template(spec: ServerSpec) -> dict[str, Any]:
    mounts: list[dict[str, Any]] = [{"name": "tmp", "mountPath": "/tmp"}]
    volumes: list[dict[str, Any]] = [{"name": "tmp", "emptyDir": {}}]
    if spec.config:
        mounts.append({"name": "config", "mountPath": spec.config_dir, "readOnly": True})
        volumes.append({"name": "config", "configMap": {"name": spec.config_map_name}})
    for index, secret in enumerate(spec.secret_mounts):
        mounts.append({"name": f"secret-{index}", "mountPath": secret.mount_path, "readOnly": True})
        volumes.append({"name": f"secret-{index}", "secret": {"secretName": secret.secret_name}})
    if spec.data is not None:
        mounts.append({"name": "data", "mountPath": spec.data.mount_path})
    container: dict[str, Any] = {
        "name": spec.name,
        "image": spec.image,
        "args": list(spec.args),
        "env": [POD_IP_ENV, *spec.env],
        "ports": [{"name": p.name, "containerPort": p.port, "protocol": "TCP"} for p in spec.ports],
        "resources": container_resources(spec.resources),
        "securityContext": container_security_context(),
        "volumeMounts": mounts,
    }
    probe_port = spec.probe_port or spec.ports[0].name
    if spec.ready_path:
        container["readinessProbe"] = _probe(spec.ready_path, probe_port, 10, 3)
        container["startupProbe"] = _probe(spec.ready_path, probe_port, 5, 60)
    if spec.live_path:
        container["livenessProbe"] = _probe(spec.live_path, probe_port, 20, 3)
    return {
        "metadata": {"labels": spec.labels, "annotations": {CONFIG_CHECKSUM_ANNOTATION: config_checksum(spec.config)}},
        "spec": {
            "serviceAccountName": spec.name,
            "automountServiceAccountToken": False,
            "securityContext": pod_security_context(spec.user, spec.user),
            "topologySpreadConstraints": spread_constraints(spec.selector),
            "terminationGracePeriodSeconds": 30,
            "containers": [container],
            "volumes": volumes,
        },
    }


def _workload(spec: ServerSpec) -> dict[str, Any]:
    body: dict[str, Any] = {
        "replicas": spec.replicas,
        "revisionHistoryLimit": 5,
        "selector": {"matchLabels": spec.selector},
        "template": _pod_template(spec),
    }
    if spec.kind == "StatefulSet":
        body["serviceName"] = spec.name
        body["podManagementPolicy"] = "Parallel"
        if spec.data is not None:
            claim = volume_claim_spec(spec.data.size, spec.data.storage_class)
            body["volumeClaimTemplates"] = [{"metadata": {"name": "data"}, "spec": claim}]
    else:
        body["strategy"] = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}
    return {
        "apiVersion": "apps/v1",
        "kind": spec.kind,
        "metadata": metadata(spec.name, spec.namespace, spec.labels),
        "spec": body,
    }


def _service(spec: ServerSpec) -> dict[str, Any]:
    labels = {**spec.labels, lbl.METRICS_SERVICE: "true"} if spec.metrics_port else spec.labels
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata(spec.name, spec.namespace, labels),
        "spec": {
            "type": "ClusterIP",
            "selector": spec.selector,
            "ports": [{"name": p.name, "port": p.port, "targetPort": p.name, "protocol": "TCP"} for p in spec.ports],
        },
    }


def server_manifests(spec: ServerSpec) -> list[dict[str, Any]]:
    manifests = [service_account(spec.name, spec.namespace, spec.labels)]
    if spec.config:
        manifests.append(
            rendered_config_map(spec.config_map_name, spec.namespace, spec.labels, spec.config, spec.config_capability)
        )
    manifests += [_workload(spec), _service(spec)]
    if spec.metrics_port:
        manifests.append(
            service_monitor(spec.name, spec.namespace, spec.labels, spec.selector, spec.metrics_port, spec.metrics_path)
        )
    if spec.replicas > 1:
        manifests.append(pod_disruption_budget(spec.name, spec.namespace, spec.labels, spec.selector))
    return manifests
