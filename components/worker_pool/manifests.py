"""Pure manifest builders for a pool of workers: a spec in, Kubernetes manifest dicts out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from components.common import labels as lbl
from components.common.kubernetes.manifests import (
    container_resources,
    ingress_policy,
    metadata,
    namespace_peer,
    pod_disruption_budget,
    service_account,
    service_monitor,
    spread_constraints,
)
from components.common.kubernetes.pod_security import container_security_context, pod_security_context
from components.common.values import Autoscaling, GpuPlacement, Probes, Resources

# The application image runs as this unprivileged user.
APP_USER = 10001


@dataclass(frozen=True)
class SecretEnv:
    """An environment variable read from a key of a Kubernetes Secret."""

    name: str
    secret_name: str
    key: str


@dataclass(frozen=True)
class WorkerPoolSpec:
    name: str
    namespace: str
    component: str
    environment: str
    image: str
    command: tuple[str, ...]
    resources: Resources
    min_replicas: int
    max_replicas: int
    autoscaling: Autoscaling
    gpu: GpuPlacement
    termination_grace_period_seconds: int
    pre_stop_seconds: int
    # HTTP workers serve on a port and are probed over HTTP; None means no port and no HTTP probes.
    http_port: int | None = None
    probes: Probes | None = None
    metrics_path: str | None = None
    env: tuple[tuple[str, str], ...] = ()
    secret_env: tuple[SecretEnv, ...] = ()
    # Pods allowed to reach the HTTP port (NetworkPolicy peers, e.g. the load balancer's pods).
    ingress_from: tuple[dict[str, Any], ...] = ()
    monitoring_namespace: str | None = None
    # PromQL of the pool's total request rate, divided by KEDA among the replicas.
    request_rate_query: str | None = None
    prometheus_url: str | None = None
    priority_class_name: str | None = None
    # Workers without HTTP: liveness and readiness run this command (e.g. `celery inspect ping`).
    exec_probe: tuple[str, ...] | None = None
    exec_probe_period_seconds: int = 60
    # A fixed count (no autoscaler), e.g. Celery beat, which must never run twice.
    replicas: int | None = None
    recreate: bool = False
    # KEDA rabbitmq triggers: (queue, messages per pod); they replace the CPU/memory triggers.
    queue_triggers: tuple[tuple[str, int], ...] = ()
    trigger_authentication: str | None = None

    @property
    def selector(self) -> dict[str, str]:
        return lbl.selector_labels(self.name)

    @property
    def labels(self) -> dict[str, str]:
        return lbl.standard_labels(self.name, self.component, self.environment, self.image)

    @property
    def headless_service_name(self) -> str:
        return f"{self.name}-headless"


def pool_manifests(spec: WorkerPoolSpec) -> list[dict[str, Any]]:
    """Every object of the pool, in apply order."""
    objects = [service_account(spec.name, spec.namespace, spec.labels), deployment(spec)]
    objects += services(spec)
    objects.append(pod_disruption_budget(spec.name, spec.namespace, spec.labels, spec.selector))
    if spec.replicas is None:
        objects.append(scaled_object(spec) if spec.autoscaling.engine == "keda" else horizontal_pod_autoscaler(spec))
    if spec.autoscaling.vpa_recommendations:
        objects.append(vertical_pod_autoscaler(spec))
    if spec.http_port is not None:
        objects.append(ingress_network_policy(spec))
        if spec.monitoring_namespace and spec.metrics_path:
            objects.append(
                service_monitor(spec.name, spec.namespace, spec.labels, spec.selector, "http", spec.metrics_path)
            )
    return objects


def _container(spec: WorkerPoolSpec) -> dict[str, Any]:
    resources = container_resources(spec.resources)
    if spec.gpu.enabled:
        # Extended resources are requested through limits only; requests default to the same.
        resources["limits"][spec.gpu.resource_name] = spec.gpu.count
    env: list[dict[str, Any]] = [{"name": name, "value": value} for name, value in spec.env]
    env += [
        {"name": s.name, "valueFrom": {"secretKeyRef": {"name": s.secret_name, "key": s.key}}} for s in spec.secret_env
    ]
    container: dict[str, Any] = {
        "name": spec.name,
        "image": spec.image,
        "imagePullPolicy": "IfNotPresent",
        "command": list(spec.command),
        "env": env,
        "resources": resources,
        "securityContext": container_security_context(),
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
        # Let the Service and the load balancer's DNS forget the pod before it is told to stop.
        "lifecycle": {"preStop": {"sleep": {"seconds": spec.pre_stop_seconds}}} if spec.pre_stop_seconds else {},
    }
    if not container["lifecycle"]:
        del container["lifecycle"]
    if spec.http_port is not None:
        container["ports"] = [{"name": "http", "containerPort": spec.http_port, "protocol": "TCP"}]
    if spec.exec_probe is not None:
        command_probe = {
            "exec": {"command": list(spec.exec_probe)},
            "periodSeconds": spec.exec_probe_period_seconds,
            "timeoutSeconds": 30,
            "failureThreshold": 3,
        }
        container["livenessProbe"] = command_probe
        container["readinessProbe"] = dict(command_probe)
    if spec.http_port is not None and spec.probes is not None:
        p = spec.probes

        def probe(path: str, failure_threshold: int) -> dict[str, Any]:
            return {
                "httpGet": {"path": path, "port": "http"},
                "periodSeconds": p.period_seconds,
                "timeoutSeconds": p.timeout_seconds,
                "failureThreshold": failure_threshold,
            }

        container["startupProbe"] = probe(p.startup_path, p.startup_failure_threshold)
        container["livenessProbe"] = probe(p.live_path, p.failure_threshold)
        container["readinessProbe"] = probe(p.ready_path, p.failure_threshold)
    return container


def deployment(spec: WorkerPoolSpec) -> dict[str, Any]:
    pod_spec: dict[str, Any] = {
        "serviceAccountName": spec.name,
        "automountServiceAccountToken": False,
        "securityContext": pod_security_context(APP_USER, APP_USER),
        "terminationGracePeriodSeconds": spec.termination_grace_period_seconds,
        "containers": [_container(spec)],
        "volumes": [{"name": "tmp", "emptyDir": {"medium": "Memory", "sizeLimit": "256Mi"}}],
        "topologySpreadConstraints": spread_constraints(spec.selector),
        "affinity": {
            "podAntiAffinity": {
                "preferredDuringSchedulingIgnoredDuringExecution": [
                    {
                        "weight": 100,
                        "podAffinityTerm": {
                            "topologyKey": "kubernetes.io/hostname",
                            "labelSelector": {"matchLabels": spec.selector},
                        },
                    }
                ]
            }
        },
    }
    if spec.gpu.enabled:
        pod_spec["nodeSelector"] = dict(spec.gpu.node_selector)
        pod_spec["tolerations"] = [{"key": spec.gpu.taint_key, "operator": "Exists", "effect": "NoSchedule"}]
    if spec.priority_class_name:
        pod_spec["priorityClassName"] = spec.priority_class_name
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata(spec.name, spec.namespace, spec.labels),
        # No spec.replicas unless fixed: an autoscaler owns the count, and `pulumi up` must not reset it.
        "spec": {
            **({"replicas": spec.replicas} if spec.replicas is not None else {}),
            "revisionHistoryLimit": 5,
            "selector": {"matchLabels": spec.selector},
            # Recreate: the old pod is gone before the new one starts (beat must never run twice).
            "strategy": {"type": "Recreate"}
            if spec.recreate
            else {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 0}},
            "template": {
                "metadata": {
                    "labels": spec.labels,
                },
                "spec": pod_spec,
            },
        },
    }


def services(spec: WorkerPoolSpec) -> list[dict[str, Any]]:
    """A ClusterIP Service for in-cluster callers and scraping, and a headless one whose A records
    list the ready pods, for the load balancer's DNS service discovery."""
    if spec.http_port is None:
        return []
    port = [{"name": "http", "port": spec.http_port, "targetPort": "http", "protocol": "TCP"}]
    return [
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": metadata(spec.name, spec.namespace, {**spec.labels, lbl.METRICS_SERVICE: "true"}),
            "spec": {"type": "ClusterIP", "selector": spec.selector, "ports": port},
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": metadata(spec.headless_service_name, spec.namespace, spec.labels),
            "spec": {
                "clusterIP": "None",
                "publishNotReadyAddresses": False,
                "selector": spec.selector,
                "ports": port,
            },
        },
    ]


def _deployment_ref(spec: WorkerPoolSpec) -> dict[str, str]:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "name": spec.name}


def _behavior(autoscaling: Autoscaling) -> dict[str, Any]:
    def direction(policy: Any, select: str) -> dict[str, Any]:
        return {
            "stabilizationWindowSeconds": policy.stabilization_window_seconds,
            "selectPolicy": select,
            "policies": [{"type": "Percent", "value": policy.percent, "periodSeconds": policy.period_seconds}],
        }

    return {"scaleUp": direction(autoscaling.scale_up, "Max"), "scaleDown": direction(autoscaling.scale_down, "Min")}


def scaled_object(spec: WorkerPoolSpec) -> dict[str, Any]:
    a = spec.autoscaling
    triggers: list[dict[str, Any]] = [
        {"type": "cpu", "metricType": "Utilization", "metadata": {"value": str(a.cpu_utilization)}},
        {"type": "memory", "metricType": "Utilization", "metadata": {"value": str(a.memory_utilization)}},
    ]
    if spec.queue_triggers:
        # A worker pool scales on the work waiting for it, not on how busy its CPUs look.
        triggers = [
            {
                "type": "rabbitmq",
                "name": f"queue-{queue}",
                "metadata": {"protocol": "amqp", "queueName": queue, "mode": "QueueLength", "value": str(per_pod)},
                "authenticationRef": {"name": spec.trigger_authentication},
            }
            for queue, per_pod in spec.queue_triggers
        ]
    if a.http_requests_per_second is not None and spec.request_rate_query and spec.prometheus_url:
        triggers.append(
            {
                "type": "prometheus",
                "name": "http_requests_per_second",
                "metricType": "AverageValue",
                "metadata": {
                    "serverAddress": spec.prometheus_url,
                    "query": spec.request_rate_query,
                    "threshold": str(a.http_requests_per_second),
                    # No samples (no traffic yet) means zero, not an error that blocks scaling.
                    "ignoreNullValues": "true",
                },
            }
        )
    return {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": metadata(spec.name, spec.namespace, spec.labels),
        "spec": {
            "scaleTargetRef": _deployment_ref(spec),
            "minReplicaCount": spec.min_replicas,
            "maxReplicaCount": spec.max_replicas,
            "pollingInterval": 15,
            "advanced": {
                "horizontalPodAutoscalerConfig": {"name": spec.name, "behavior": _behavior(a)},
            },
            "triggers": triggers,
        },
    }


def horizontal_pod_autoscaler(spec: WorkerPoolSpec) -> dict[str, Any]:
    a = spec.autoscaling
    metrics: list[dict[str, Any]] = [
        {"type": "Resource", "resource": {"name": name, "target": {"type": "Utilization", "averageUtilization": value}}}
        for name, value in (("cpu", a.cpu_utilization), ("memory", a.memory_utilization))
        # Queue workers fall back to CPU alone: their memory follows the tasks, not the load.
        if name == "cpu" or not spec.queue_triggers
    ]
    if a.http_requests_per_second is not None and spec.http_port is not None:
        # Served by a custom-metrics adapter (prometheus-adapter); without one the HPA scales on the others.
        metrics.append(
            {
                "type": "Pods",
                "pods": {
                    "metric": {"name": "http_requests_per_second"},
                    "target": {"type": "AverageValue", "averageValue": str(a.http_requests_per_second)},
                },
            }
        )
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": metadata(spec.name, spec.namespace, spec.labels),
        "spec": {
            "scaleTargetRef": _deployment_ref(spec),
            "minReplicas": spec.min_replicas,
            "maxReplicas": spec.max_replicas,
            "metrics": metrics,
            "behavior": _behavior(a),
        },
    }


def vertical_pod_autoscaler(spec: WorkerPoolSpec) -> dict[str, Any]:
    # Recommendation mode only: the HPA scales on CPU and memory, so the VPA must never resize pods.
    return {
        "apiVersion": "autoscaling.k8s.io/v1",
        "kind": "VerticalPodAutoscaler",
        "metadata": metadata(spec.name, spec.namespace, spec.labels),
        "spec": {
            "targetRef": _deployment_ref(spec),
            "updatePolicy": {"updateMode": "Off"},
            "resourcePolicy": {"containerPolicies": [{"containerName": "*", "controlledResources": ["cpu", "memory"]}]},
        },
    }


def ingress_network_policy(spec: WorkerPoolSpec) -> dict[str, Any]:
    """Who may reach the pool's HTTP port: the given peers, and Prometheus for /metrics."""
    peers = list(spec.ingress_from)
    if spec.monitoring_namespace:
        peers.append(namespace_peer(spec.monitoring_namespace))
    return ingress_policy(f"{spec.name}-ingress", spec.namespace, spec.labels, spec.selector, [(peers, ["http"])])
