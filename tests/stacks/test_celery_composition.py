"""Celery pools, beat, Flower and the RabbitMQ cluster as the stacks compose them (production's
settings through stacks.kubernetes_specs), as manifests. The pool renderers alone, from literal
specs, are tested in tests/components/worker_pool/."""

from __future__ import annotations

from typing import Any

import pytest

from components.rabbitmq.manifests import additional_config, rabbitmq_manifests
from components.worker_pool.manifests import pool_manifests
from stacks.config_source import load_settings
from stacks.errors import SettingsError
from stacks.kubernetes_specs import PlatformSpecs, platform_specs
from stacks.policy import environment_warnings
from stacks.settings import PlatformSettings
from tests.conftest import stack_settings

BACKUPS = {"destinationPath": "s3://teknofest-backups/production"}


@pytest.fixture()
def specs(production_settings: PlatformSettings) -> PlatformSpecs:
    return platform_specs(production_settings)


def objects_of(spec: Any) -> dict[str, dict[str, Any]]:
    return {m["kind"]: m for m in pool_manifests(spec)}


def pod(spec: Any) -> dict[str, Any]:
    return objects_of(spec)["Deployment"]["spec"]["template"]["spec"]  # type: ignore[no-any-return]


def test_one_pool_per_queue_group_with_the_guides_bounds(specs: PlatformSpecs) -> None:
    bounds = {p.name: (p.min_replicas, p.max_replicas) for p in specs.celery_pools}
    assert bounds == {"celery-default": (2, 10), "celery-ai": (2, 4), "celery-data": (2, 10)}
    for spec in specs.celery_pools:
        command = list(spec.command)
        queue = spec.name.removeprefix("celery-")
        assert command[command.index("-Q") + 1] == queue
        assert command[command.index("--hostname") + 1] == f"{queue}@%h"
        assert "--max-tasks-per-child" in command and "--prefetch-multiplier" in command


def test_prefetch_one_and_late_acks_for_ai_and_data(specs: PlatformSpecs) -> None:
    env = {s.name: dict(s.env) for s in specs.celery_pools}
    for name in ("celery-ai", "celery-data"):
        assert env[name]["CELERY_WORKER_PREFETCH_MULTIPLIER"] == "1"
        assert env[name]["CELERY_TASK_ACKS_LATE"] == "true"
    assert env["celery-default"]["CELERY_TASK_ACKS_LATE"] == "false"
    assert env["celery-default"]["CELERY_TASK_DEFAULT_QUEUE_TYPE"] == "quorum"


def test_gpu_placement_only_on_ai(specs: PlatformSpecs) -> None:
    for spec in specs.celery_pools:
        p = pod(spec)
        limits = p["containers"][0]["resources"]["limits"]
        if spec.name == "celery-ai":
            assert p["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
            assert p["tolerations"] == [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
            assert limits["nvidia.com/gpu"] == 1
            assert p["priorityClassName"] == "teknofest-production-gpu"
        else:
            assert "nodeSelector" not in p and "tolerations" not in p and "nvidia.com/gpu" not in limits
            assert p["priorityClassName"] == "teknofest-production-batch"


def test_workers_are_probed_by_ping_and_drain_on_shutdown(specs: PlatformSpecs) -> None:
    default = next(s for s in specs.celery_pools if s.name == "celery-default")
    container = pod(default)["containers"][0]
    command = container["livenessProbe"]["exec"]["command"]
    assert command[:2] == ["sh", "-c"] and "inspect ping" in command[2] and '"default@$HOSTNAME"' in command[2]
    assert "httpGet" not in container["livenessProbe"] and "ports" not in container
    assert pod(default)["terminationGracePeriodSeconds"] == 300


def test_keda_scales_each_pool_on_its_queue(specs: PlatformSpecs) -> None:
    for spec in specs.celery_pools:
        so = objects_of(spec)["ScaledObject"]["spec"]
        queue = spec.name.removeprefix("celery-")
        assert so["triggers"] == [
            {
                "type": "rabbitmq",
                "name": f"queue-{queue}",
                "metadata": {"protocol": "amqp", "queueName": queue, "mode": "QueueLength", "value": "20"},
                "authenticationRef": {"name": "rabbitmq-keda"},
            }
        ]
        assert (so["minReplicaCount"], so["maxReplicaCount"]) == (spec.min_replicas, spec.max_replicas)
        # Scale down slowly: 5 minutes of calm first, at most half the pool per minute.
        assert (
            so["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]["scaleDown"]["stabilizationWindowSeconds"]
            == 300
        )


def test_plain_hpa_on_cpu_when_keda_is_off() -> None:
    settings = stack_settings("dev")
    ai = next(s for s in platform_specs(settings).celery_pools if s.name == "celery-ai")
    hpa = objects_of(ai)["HorizontalPodAutoscaler"]["spec"]
    assert [m["resource"]["name"] for m in hpa["metrics"]] == ["cpu"]


def test_beat_runs_exactly_once(specs: PlatformSpecs) -> None:
    assert specs.beat is not None
    found = objects_of(specs.beat)
    deployment = found["Deployment"]["spec"]
    assert deployment["replicas"] == 1 and deployment["strategy"] == {"type": "Recreate"}
    assert "ScaledObject" not in found and "HorizontalPodAutoscaler" not in found
    assert "beat" in deployment["template"]["spec"]["containers"][0]["command"]


def test_flower_needs_credentials_and_is_not_public(specs: PlatformSpecs) -> None:
    assert specs.flower is not None
    found = {(m["kind"], m["metadata"]["name"]): m for m in pool_manifests(specs.flower)}
    services = [m for (kind, _), m in found.items() if kind == "Service"]
    assert {s["spec"].get("type", "ClusterIP") for s in services} <= {"ClusterIP"}
    sources = found[("NetworkPolicy", "flower-ingress")]["spec"]["ingress"][0]["from"]
    assert sources == [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}]
    env = {e["name"]: e for e in found[("Deployment", "flower")]["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["FLOWER_BASIC_AUTH"]["valueFrom"]["secretKeyRef"] == {"name": "flower-auth", "key": "basic-auth"}


def test_every_routed_queue_needs_a_consumer() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(
            {"backups": BACKUPS, "celery": {"routes": {"src.tasks.reports.*": "reports"}}},
            "production",
            "Pulumi.production.yaml",
        )
    message = str(caught.value)
    assert "teknofest-platform:celery.routes" in message
    assert "routes send 'src.tasks.reports.*' to queue 'reports', which no pool consumes" in message
    assert "pools consume: ai, data, default" in message
    ok = load_settings(
        {
            "backups": BACKUPS,
            "celery": {
                "routes": {"src.tasks.reports.*": "reports"},
                "pools": {"reports": {"queues": ["reports"], "minReplicas": 1, "maxReplicas": 2}},
            },
        },
        "production",
        "Pulumi.production.yaml",
    )
    assert "reports" in ok.celery.pools


def test_a_stack_without_gpus_runs_ai_on_cpu_with_a_warning() -> None:
    settings = load_settings(
        {"backups": BACKUPS, "celery": {"pools": {"ai": {"gpu": {"enabled": False}}}}},
        "production",
        "Pulumi.production.yaml",
    )
    ai = next(s for s in platform_specs(settings).celery_pools if s.name == "celery-ai")
    assert "nodeSelector" not in pod(ai)
    assert pod(ai)["priorityClassName"] == "teknofest-production-batch"
    assert [w for w in environment_warnings(settings) if "celery" in w] == [
        "teknofest-platform:celery.pools.ai.gpu.enabled = false: the ai pool runs on CPU nodes; inference will "
        "be slow (set it to true where the cluster has GPU nodes)"
    ]


def test_rabbitmq_cluster(specs: PlatformSpecs) -> None:
    found = {(m["kind"], m["metadata"]["name"]): m for m in rabbitmq_manifests(specs.rabbitmq)}
    cluster = found[("RabbitmqCluster", "rabbitmq")]["spec"]
    assert cluster["replicas"] == 3
    assert cluster["secretBackend"] == {"externalSecret": {"name": "rabbitmq-default-user"}}
    assert cluster["resources"]["requests"] == cluster["resources"]["limits"]
    assert "requiredDuringSchedulingIgnoredDuringExecution" in cluster["affinity"]["podAntiAffinity"]
    config = additional_config(specs.rabbitmq).splitlines()
    assert "default_queue_type = quorum" in config
    assert "vm_memory_high_watermark.relative = 0.6" in config
    assert f"disk_free_limit.absolute = {2 * 2**30}" in config
    auth = found[("TriggerAuthentication", "rabbitmq-keda")]["spec"]
    assert auth == {"secretTargetRef": [{"parameter": "host", "name": "rabbitmq-client", "key": "url"}]}
    monitor = found[("ServiceMonitor", "rabbitmq")]["spec"]["endpoints"][1]
    assert monitor["path"] == "/metrics/detailed" and "queue_coarse_metrics" in monitor["params"]["family"]
    ingress = found[("NetworkPolicy", "rabbitmq")]["spec"]["ingress"]
    keda = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "keda"}}}
    assert {"from": [keda], "ports": [{"port": 5672, "protocol": "TCP"}]} in ingress
    clients = {name for kind, name in found if kind == "NetworkPolicy" and name.endswith("-to-rabbitmq")}
    assert clients == {
        f"{p}-to-rabbitmq"
        for p in ("api", "celery-ai", "celery-data", "celery-default", "celery-beat", "flower", "celery-exporter")
    }
    assert platform_specs(stack_settings("staging")).rabbitmq.settings.replicas == 1


def test_the_api_routes_and_declares_tasks_as_the_workers_do(specs: PlatformSpecs) -> None:
    """The API sends the tasks: without the routes it would put every task on the default queue,
    and without the queue type declare it classic where the workers declare it quorum."""

    def env(spec: Any) -> dict[str, str]:
        container = pod(spec)["containers"][0]
        return {e["name"]: e["value"] for e in container["env"] if "value" in e}

    api, worker = env(specs.api), env(next(s for s in specs.celery_pools if s.name == "celery-ai"))
    keys = ("CELERY_TASK_ROUTES", "CELERY_TASK_DEFAULT_QUEUE", "CELERY_TASK_DEFAULT_QUEUE_TYPE")
    assert all(api[key] == worker[key] for key in keys)
    assert api["CELERY_TASK_SEND_SENT_EVENT"] == "true"
