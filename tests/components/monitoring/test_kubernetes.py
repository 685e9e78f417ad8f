"""MonitoringStack under Pulumi's mock engine, from literal args."""

from __future__ import annotations

from components.monitoring.kubernetes import MonitoringStack, MonitoringStackArgs
from components.monitoring.platform import MonitoredPlatform, MonitoringImages
from components.monitoring.settings import Monitoring
from components.worker_pool.settings import CeleryPool
from stacks.mock_engine import SECRET_SIG, SIG_KEY, run_under_mocks, unwrap
from tests.components.conftest import API_CLIENT, NAMESPACE, children_of, kinds

IMAGES = MonitoringImages(
    loki="docker.io/grafana/loki:3.7.7",
    jaeger="docker.io/jaegertracing/jaeger:2.11.0",
    otel_collector="docker.io/otel/opentelemetry-collector-contrib:0.138.0",
    celery_exporter="docker.io/danihodovic/celery-exporter:0.10.14",
    elasticsearch_exporter="quay.io/prometheuscommunity/elasticsearch-exporter:v1.9.0",
    curl="docker.io/curlimages/curl:8.11.1",
)


def platform(monitoring: Monitoring) -> MonitoredPlatform:
    return MonitoredPlatform(
        monitoring=monitoring,
        images=IMAGES,
        namespace=NAMESPACE,
        environment="production",
        tls_enabled=True,
        celery_pools={"default": CeleryPool(queues=["default"])},
        redis_replicas=2,
        redis_quorum=2,
        rabbitmq_replicas=3,
    )


def test_monitoring_stack_owns_its_children_and_keeps_every_credential_secret() -> None:
    args = MonitoringStackArgs(
        platform(Monitoring()), broker_secret=("rabbitmq-client", "url"), trace_clients=(API_CLIENT,)
    )
    render = run_under_mocks(lambda: MonitoringStack("monitoring", args))
    children = children_of(render, "teknofest:platform:MonitoringStack")
    assert len(render.resources) == len(children) + 1, "nothing escapes the component"
    by_kind = kinds(children)
    assert by_kind.count("Release") == 2 and by_kind.count("DaemonSet") == 1 and by_kind.count("Ingress") == 0
    # Grafana's admin and three Elasticsearch users: all generated (UI basic auth lives at the edge).
    assert by_kind.count("RandomPassword") == 4
    release = next(
        unwrap(r.inputs) for r in children if r.type.endswith(":Release") and r.name.endswith("kube-prometheus-stack")
    )
    assert release["name"] == "kube-prometheus-stack" and release["version"] == "88.5.3"
    assert release["namespace"] == "monitoring"
    assert release["values"]["grafana"]["admin"]["existingSecret"] == "grafana-admin"
    secrets = [r for r in children if r.type == "kubernetes:core/v1:Secret"]
    with_credentials = {
        r.name.split("/")[-1]
        for r in secrets
        if any(isinstance(v, dict) and v.get(SIG_KEY) == SECRET_SIG for v in r.inputs["stringData"].values())
        or r.inputs["stringData"].get(SIG_KEY) == SECRET_SIG
    }
    assert {
        "grafana-admin",
        "alertmanager-platform",
        "elasticsearch-writer",
        "elasticsearch-reader",
        "elasticsearch-monitor",
    } <= with_credentials
    names = {r.name for r in children}
    # The exporter and the rules live beside the application they watch.
    assert f"{NAMESPACE}/celery-exporter" in names and f"{NAMESPACE}/platform-alerts" in names


def test_without_elasticsearch_there_is_no_eck_release_nor_its_users() -> None:
    off = Monitoring.model_validate({"elasticsearch": {"enabled": False}, "tracing": {"storage": "badger"}})
    args = MonitoringStackArgs(platform(off), broker_secret=("rabbitmq-client", "url"), trace_clients=())
    by_kind = kinds(
        children_of(run_under_mocks(lambda: MonitoringStack("monitoring", args)), "teknofest:platform:MonitoringStack")
    )
    assert by_kind.count("Release") == 1 and by_kind.count("RandomPassword") == 1
