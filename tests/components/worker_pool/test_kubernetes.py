"""WorkerPool under Pulumi's mock engine, from a literal spec."""

from __future__ import annotations

from components.common.values import Autoscaling, GpuPlacement, Probes
from components.worker_pool.kubernetes import WorkerPool, WorkerPoolArgs
from components.worker_pool.manifests import SecretEnv, WorkerPoolSpec
from stacks.mock_engine import run_under_mocks, unwrap
from tests.components.conftest import NAMESPACE, SMALL, children_of, kinds, object_names


def api_spec(name: str = "api") -> WorkerPoolSpec:
    return WorkerPoolSpec(
        name=name,
        namespace=NAMESPACE,
        component="api",
        environment="staging",
        image="ghcr.io/example/api:1.0.0",
        command=("gunicorn", "app:app"),
        resources=SMALL,
        min_replicas=2,
        max_replicas=6,
        autoscaling=Autoscaling(),
        gpu=GpuPlacement(),
        termination_grace_period_seconds=45,
        pre_stop_seconds=5,
        http_port=8000,
        probes=Probes(),
        metrics_path="/metrics",
        secret_env=(SecretEnv("DATABASE_URL", "postgres-client", "url"),),
        monitoring_namespace="monitoring",
        request_rate_query="sum(rate(haproxy_backend_http_requests_total[1m]))",
        prometheus_url="http://prometheus.monitoring.svc:9090",
    )


def test_worker_pool_registers_its_objects_as_children() -> None:
    spec = api_spec()
    render = run_under_mocks(lambda: WorkerPool("api", WorkerPoolArgs(spec)))
    children = children_of(render, "teknofest:platform:WorkerPool")
    assert kinds(children) == [
        "Deployment",
        "NetworkPolicy",
        "PodDisruptionBudget",
        "ScaledObject",
        "Service",
        "Service",
        "ServiceAccount",
        "ServiceMonitor",
        "VerticalPodAutoscaler",
    ]
    # Every registered object is a child: nothing escapes the component.
    assert len(render.resources) == len(children) + 1
    deployment = next(unwrap(r.inputs) for r in children if r.type == "kubernetes:apps/v1:Deployment")
    assert deployment["metadata"] == {"name": "api", "namespace": NAMESPACE, "labels": spec.labels}
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    # Integers arrive as doubles over RPC; unwrap gives them back as integers.
    port = container["ports"][0]["containerPort"]
    assert port == 8000 and isinstance(port, int)
    assert {
        "name": "DATABASE_URL",
        "valueFrom": {"secretKeyRef": {"name": "postgres-client", "key": "url"}},
    } in container["env"]


def test_two_pools_coexist() -> None:
    def program() -> None:
        WorkerPool("api", WorkerPoolArgs(api_spec("api")))
        WorkerPool("admin-api", WorkerPoolArgs(api_spec("admin-api")))

    names = object_names(run_under_mocks(program))
    assert len(names) == len(set(names))
