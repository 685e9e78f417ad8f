"""Celery on the shared worker pool: one pool per queue group, beat and Flower (pure builders).

The application reads its Celery configuration from the environment:
CELERY_BROKER_URL, CELERY_RESULT_BACKEND, CELERY_TASK_DEFAULT_QUEUE, CELERY_TASK_DEFAULT_QUEUE_TYPE
(quorum), CELERY_TASK_ROUTES (JSON: task glob -> queue), CELERY_TASK_ACKS_LATE and
CELERY_WORKER_PREFETCH_MULTIPLIER (per pool), CELERY_WORKER_SEND_TASK_EVENTS and
CELERY_TASK_SEND_SENT_EVENT (for the Celery exporter), plus DATABASE_URL and REDIS_URL like the API.
"""

from __future__ import annotations

import json
from typing import Any

from components.common import labels as lbl
from components.common.kubernetes.manifests import metadata
from components.common.values import Autoscaling, GpuPlacement, Probes, ResourceAmounts, Resources
from components.worker_pool.manifests import SecretEnv, WorkerPoolSpec
from components.worker_pool.settings import CeleryPool
from stacks.settings import PlatformSettings

FLOWER_SECRET = "flower-auth"
FLOWER_PORT = 5555
# Beat and Flower: one small pod each, at a fixed count (no autoscaler, no VPA).
_SINGLE_POD_RESOURCES = Resources(
    requests=ResourceAmounts(cpu="100m", memory="256Mi"), limits=ResourceAmounts(cpu="500m", memory="512Mi")
)
_NOT_AUTOSCALED = Autoscaling(vpa_recommendations=False, http_requests_per_second=None)


def priority_class_name(settings: PlatformSettings, tier: str) -> str:
    return f"teknofest-{settings.environment}-{tier}"


def priority_classes(settings: PlatformSettings) -> list[dict[str, Any]]:
    """GPU inference may preempt batch work; batch work never preempts anything."""
    labels = {"app.kubernetes.io/part-of": lbl.PART_OF, "teknofest.org/environment": settings.environment}
    return [
        {
            "apiVersion": "scheduling.k8s.io/v1",
            "kind": "PriorityClass",
            "metadata": metadata(priority_class_name(settings, "gpu"), None, labels),
            "value": 100000,
            "preemptionPolicy": "PreemptLowerPriority",
            "globalDefault": False,
            "description": "Celery pools on GPU nodes (TEKNOFEST platform)",
        },
        {
            "apiVersion": "scheduling.k8s.io/v1",
            "kind": "PriorityClass",
            "metadata": metadata(priority_class_name(settings, "batch"), None, labels),
            "value": 10000,
            "preemptionPolicy": "Never",
            "globalDefault": False,
            "description": "Celery batch pools (TEKNOFEST platform)",
        },
    ]


def _common_env(settings: PlatformSettings) -> dict[str, str]:
    celery = settings.celery
    return {
        "APP_ENV": settings.environment,
        "CELERY_TASK_DEFAULT_QUEUE": celery.default_queue,
        "CELERY_TASK_DEFAULT_QUEUE_TYPE": "quorum",
        "CELERY_TASK_ROUTES": json.dumps({task: {"queue": queue} for task, queue in sorted(celery.routes.items())}),
        # Task events feed the Celery exporter (and Flower); sent events carry the queue name.
        "CELERY_WORKER_SEND_TASK_EVENTS": "true",
        "CELERY_TASK_SEND_SENT_EVENT": "true",
    }


def _secret_env(secrets: dict[str, tuple[str, str]]) -> tuple[SecretEnv, ...]:
    return tuple(SecretEnv(name, secret, key) for name, (secret, key) in secrets.items())


def pool_name(name: str) -> str:
    return f"celery-{name}"


def celery_pool_spec(
    settings: PlatformSettings, name: str, pool: CeleryPool, secrets: dict[str, tuple[str, str]], trigger_auth: str
) -> WorkerPoolSpec:
    celery = settings.celery
    hostname = f"{name}@%h"
    command = [
        "celery",
        "-A",
        celery.app,
        "worker",
        "--loglevel",
        "INFO",
        "-Q",
        ",".join(pool.queues),
        "--concurrency",
        str(pool.concurrency),
        "--hostname",
        hostname,
        "--max-tasks-per-child",
        str(pool.max_tasks_per_child),
        "--prefetch-multiplier",
        str(pool.prefetch_multiplier),
        # Fair scheduling: a long task does not hold back the prefetched ones behind it.
        "-O",
        "fair",
        "--without-gossip",
        "--without-mingle",
        "--task-events",
    ]
    if pool.max_memory_per_child_kib:
        command += ["--max-memory-per-child", str(pool.max_memory_per_child_kib)]
    env = {
        **_common_env(settings),
        "CELERY_WORKER_PREFETCH_MULTIPLIER": str(pool.prefetch_multiplier),
        "CELERY_TASK_ACKS_LATE": "true" if pool.late_acks else "false",
    }
    ping = f'celery -A {celery.app} inspect ping --destination "{name}@$HOSTNAME" --timeout 20'
    return WorkerPoolSpec(
        name=pool_name(name),
        namespace=settings.namespace,
        component="celery-worker",
        environment=settings.environment,
        image=settings.worker_image,
        command=tuple(command),
        resources=pool.resources,
        min_replicas=pool.min_replicas,
        max_replicas=pool.max_replicas,
        autoscaling=Autoscaling(
            engine=settings.api.autoscaling.engine,
            http_requests_per_second=None,
            vpa_recommendations=settings.api.autoscaling.vpa_recommendations,
        ),
        gpu=pool.gpu,
        # SIGTERM starts Celery's warm shutdown: running tasks finish within this grace period.
        termination_grace_period_seconds=pool.termination_grace_period_seconds,
        pre_stop_seconds=0,
        env=tuple(sorted(env.items())),
        secret_env=_secret_env(secrets),
        priority_class_name=priority_class_name(settings, "gpu" if pool.gpu.enabled else "batch"),
        exec_probe=("sh", "-c", ping),
        queue_triggers=tuple((queue, pool.queue_length_target) for queue in pool.queues),
        trigger_authentication=trigger_auth,
    )


def beat_spec(settings: PlatformSettings, secrets: dict[str, tuple[str, str]]) -> WorkerPoolSpec:
    app = settings.celery.app
    return WorkerPoolSpec(
        name="celery-beat",
        namespace=settings.namespace,
        component="celery-beat",
        environment=settings.environment,
        image=settings.worker_image,
        command=("celery", "-A", app, "beat", "--loglevel", "INFO", "--schedule", "/tmp/celerybeat-schedule"),
        resources=_SINGLE_POD_RESOURCES,
        min_replicas=1,
        max_replicas=1,
        autoscaling=_NOT_AUTOSCALED,
        gpu=GpuPlacement(),
        termination_grace_period_seconds=30,
        pre_stop_seconds=0,
        env=tuple(sorted(_common_env(settings).items())),
        secret_env=_secret_env(secrets),
        priority_class_name=priority_class_name(settings, "batch"),
        # Exactly one scheduler: a fixed single replica, and the old pod stops before the new starts.
        replicas=1,
        recreate=True,
    )


def flower_spec(settings: PlatformSettings, broker_secret: tuple[str, str]) -> WorkerPoolSpec:
    return WorkerPoolSpec(
        name="flower",
        namespace=settings.namespace,
        component="celery-flower",
        environment=settings.environment,
        image=settings.images.flower,
        command=("celery", "flower", f"--port={FLOWER_PORT}", "--url_prefix=", "--purge_offline_workers=300"),
        resources=_SINGLE_POD_RESOURCES,
        min_replicas=1,
        max_replicas=1,
        autoscaling=_NOT_AUTOSCALED,
        gpu=GpuPlacement(),
        termination_grace_period_seconds=15,
        pre_stop_seconds=0,
        http_port=FLOWER_PORT,
        probes=Probes(live_path="/healthcheck", ready_path="/healthcheck", startup_path="/healthcheck"),
        metrics_path="/metrics",
        secret_env=(
            SecretEnv("CELERY_BROKER_URL", *broker_secret),
            SecretEnv("FLOWER_BASIC_AUTH", FLOWER_SECRET, "basic-auth"),
        ),
        # Not public: no Service outside the cluster, and only Prometheus may connect (port-forward
        # goes through the kubelet).
        ingress_from=(),
        monitoring_namespace=settings.monitoring.namespace if settings.monitoring.enabled else None,
        replicas=1,
        recreate=True,
    )
