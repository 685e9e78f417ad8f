"""Worker pool manifests from a literal API spec: security, probes, placement, autoscaling."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from components.common import labels as lbl
from components.common.values import GpuPlacement
from components.worker_pool.commands import gunicorn_command
from components.worker_pool.manifests import SecretEnv, WorkerPoolSpec, pool_manifests
from components.worker_pool.settings import ApiPool

API = ApiPool()
# The API as production runs it: 2-20 replicas, the guide's autoscaling, reached by HAProxy only.
PRODUCTION_API = WorkerPoolSpec(
    name="api",
    namespace="teknofest-production",
    component="api",
    environment="production",
    image="ghcr.io/teknofest/egitim-eylemci-api:1.3.0",
    command=gunicorn_command(API),
    resources=API.resources,
    min_replicas=API.min_replicas,
    max_replicas=API.max_replicas,
    autoscaling=API.autoscaling,
    gpu=API.gpu,
    termination_grace_period_seconds=API.termination_grace_period_seconds,
    pre_stop_seconds=API.pre_stop_seconds,
    http_port=API.port,
    probes=API.probes,
    metrics_path=API.metrics_path,
    env=(("APP_ENV", "production"),),
    secret_env=(
        SecretEnv("SECRET_KEY", "api-secrets", "secret-key"),
        SecretEnv("DATABASE_URL", "postgres-client", "url"),
    ),
    ingress_from=({"podSelector": {"matchLabels": lbl.selector_labels("haproxy")}},),
    monitoring_namespace="monitoring",
    request_rate_query='sum(rate(haproxy_backend_http_requests_total{namespace="teknofest-production",proxy="api"}[1m]))',
    prometheus_url="http://kube-prometheus-stack-prometheus.monitoring.svc:9090",
)


@pytest.fixture()
def api_spec() -> WorkerPoolSpec:
    return PRODUCTION_API


def by_kind(spec: WorkerPoolSpec) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for manifest in pool_manifests(spec):
        found.setdefault(manifest["kind"], []).append(manifest)
    return found


def pod_spec(spec: WorkerPoolSpec) -> dict[str, Any]:
    return by_kind(spec)["Deployment"][0]["spec"]["template"]["spec"]  # type: ignore[no-any-return]


def test_the_api_pool_has_every_object_it_needs(api_spec: WorkerPoolSpec) -> None:
    kinds = {kind: len(items) for kind, items in by_kind(api_spec).items()}
    assert kinds == {
        "ServiceAccount": 1,
        "Deployment": 1,
        "Service": 2,
        "PodDisruptionBudget": 1,
        "ScaledObject": 1,
        "VerticalPodAutoscaler": 1,
        "NetworkPolicy": 1,
        "ServiceMonitor": 1,
    }


def test_restricted_security_context(api_spec: WorkerPoolSpec) -> None:
    pod = pod_spec(api_spec)
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["automountServiceAccountToken"] is False
    container = pod["containers"][0]["securityContext"]
    assert container["readOnlyRootFilesystem"] is True
    assert container["allowPrivilegeEscalation"] is False
    assert container["capabilities"] == {"drop": ["ALL"]}


def test_probes_and_graceful_termination(api_spec: WorkerPoolSpec) -> None:
    pod = pod_spec(api_spec)
    container = pod["containers"][0]
    assert container["livenessProbe"]["httpGet"]["path"] == "/health/live"
    assert container["readinessProbe"]["httpGet"]["path"] == "/health/ready"
    assert container["startupProbe"]["httpGet"]["path"] == "/health/startup"
    assert container["lifecycle"]["preStop"] == {"sleep": {"seconds": 5}}
    assert pod["terminationGracePeriodSeconds"] == 45
    assert "--graceful-timeout" in container["command"]


def test_the_autoscaler_owns_the_replica_count(api_spec: WorkerPoolSpec) -> None:
    assert "replicas" not in by_kind(api_spec)["Deployment"][0]["spec"]


def test_keda_carries_the_guides_targets_and_behaviour(api_spec: WorkerPoolSpec) -> None:
    so = by_kind(api_spec)["ScaledObject"][0]["spec"]
    assert (so["minReplicaCount"], so["maxReplicaCount"]) == (2, 20)
    triggers = {t["type"]: t for t in so["triggers"]}
    assert triggers["cpu"]["metadata"] == {"value": "70"} and triggers["cpu"]["metricType"] == "Utilization"
    assert triggers["memory"]["metadata"] == {"value": "80"}
    prom = triggers["prometheus"]
    assert prom["metricType"] == "AverageValue" and prom["metadata"]["threshold"] == "100"
    assert (
        'haproxy_backend_http_requests_total{namespace="teknofest-production",proxy="api"}' in prom["metadata"]["query"]
    )
    behavior = so["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]
    assert behavior["scaleUp"]["stabilizationWindowSeconds"] == 60
    assert behavior["scaleUp"]["policies"] == [{"type": "Percent", "value": 100, "periodSeconds": 30}]
    assert behavior["scaleDown"]["stabilizationWindowSeconds"] == 300
    assert behavior["scaleDown"]["policies"] == [{"type": "Percent", "value": 50, "periodSeconds": 60}]


def test_plain_hpa_with_the_same_behaviour_when_keda_is_off(api_spec: WorkerPoolSpec) -> None:
    spec = dataclasses.replace(api_spec, autoscaling=api_spec.autoscaling.model_copy(update={"engine": "hpa"}))
    kinds = by_kind(spec)
    assert "ScaledObject" not in kinds
    hpa = kinds["HorizontalPodAutoscaler"][0]["spec"]
    keda = by_kind(api_spec)["ScaledObject"][0]["spec"]
    assert hpa["behavior"] == keda["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (2, 20)
    metrics = {m["type"]: m for m in hpa["metrics"]}
    assert metrics["Pods"]["pods"]["metric"]["name"] == "http_requests_per_second"
    assert metrics["Pods"]["pods"]["target"]["averageValue"] == "100"


def test_vpa_only_recommends(api_spec: WorkerPoolSpec) -> None:
    assert by_kind(api_spec)["VerticalPodAutoscaler"][0]["spec"]["updatePolicy"] == {"updateMode": "Off"}


def test_gpu_placement_only_when_enabled(api_spec: WorkerPoolSpec) -> None:
    pod = pod_spec(api_spec)
    assert "nodeSelector" not in pod and "tolerations" not in pod
    assert "nvidia.com/gpu" not in pod["containers"][0]["resources"]["limits"]
    gpu_pod = pod_spec(dataclasses.replace(api_spec, gpu=GpuPlacement(enabled=True, count=2)))
    assert gpu_pod["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
    assert gpu_pod["tolerations"] == [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
    assert gpu_pod["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == 2


def test_secrets_come_from_secret_refs_only(api_spec: WorkerPoolSpec) -> None:
    env = pod_spec(api_spec)["containers"][0]["env"]
    secret_key = next(e for e in env if e["name"] == "SECRET_KEY")
    assert secret_key == {
        "name": "SECRET_KEY",
        "valueFrom": {"secretKeyRef": {"name": "api-secrets", "key": "secret-key"}},
    }
    assert all("value" not in e for e in env if e["name"] == "SECRET_KEY")


def test_only_the_load_balancer_and_prometheus_reach_the_api(api_spec: WorkerPoolSpec) -> None:
    policy = by_kind(api_spec)["NetworkPolicy"][0]["spec"]
    sources = policy["ingress"][0]["from"]
    assert {
        "podSelector": {
            "matchLabels": {"app.kubernetes.io/name": "haproxy", "app.kubernetes.io/part-of": "teknofest-platform"}
        }
    } in sources
    assert {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}} in sources
    assert len(sources) == 2


def test_headless_service_lists_only_ready_pods(api_spec: WorkerPoolSpec) -> None:
    services = {s["metadata"]["name"]: s["spec"] for s in by_kind(api_spec)["Service"]}
    assert services["api-headless"]["clusterIP"] == "None"
    assert services["api-headless"]["publishNotReadyAddresses"] is False
    assert services["api"]["type"] == "ClusterIP"
