"""The application's pools from the settings: the API, one Celery pool per queue group, beat and
Flower, each as the worker-pool spec its component builds (commands and environment from the
target-neutral renderers in components/worker_pool/commands.py)."""

from __future__ import annotations

from components.common import labels as lbl
from components.common.values import Autoscaling, GpuPlacement, Probes, ResourceAmounts, Resources
from components.redis.redis_config import APP_USER, MASTER_NAME
from components.worker_pool.celery import priority_class_name
from components.worker_pool.commands import (
    FLOWER_PORT,
    api_env,
    celery_beat_command,
    celery_env,
    celery_pool_env,
    celery_worker_command,
    celery_worker_ping,
    flower_command,
    gunicorn_command,
)
from components.worker_pool.manifests import SecretEnv, WorkerPoolSpec
from components.worker_pool.settings import CeleryPool
from stacks.instances import LOAD_BALANCER, POSTGRES, RABBITMQ, REDIS
from stacks.settings import PlatformSettings

API_NAME = "api"
API_SECRET = "api-secrets"
FLOWER_SECRET = "flower-auth"
# Beat and Flower: one small pod each, at a fixed count (no autoscaler, no VPA).
_SINGLE_POD_RESOURCES = Resources(
    requests=ResourceAmounts(cpu="100m", memory="256Mi"), limits=ResourceAmounts(cpu="500m", memory="512Mi")
)
_NOT_AUTOSCALED = Autoscaling(vpa_recommendations=False, http_requests_per_second=None)
# What Celery processes read from Secrets: (Secret, key) per variable.
APP_SECRETS: dict[str, tuple[str, str]] = {
    "CELERY_BROKER_URL": (RABBITMQ.client_secret, "url"),
    "CELERY_RESULT_BACKEND": (REDIS.client_secret, "celery-result-backend"),
    "DATABASE_URL": (POSTGRES.client_secret, "url"),
    "REDIS_URL": (REDIS.client_secret, "url"),
    "SECRET_KEY": (API_SECRET, "secret-key"),
}
BROKER_SECRET = (RABBITMQ.client_secret, "url")


def monitoring_namespace(settings: PlatformSettings) -> str | None:
    """Where Prometheus runs, admitted to every exporter; None when the stack has no monitoring."""
    return settings.monitoring.namespace if settings.monitoring.enabled else None


def request_rate_query(settings: PlatformSettings) -> str:
    """Requests per second reaching the API backend, as counted by HAProxy's own exporter."""
    if settings.api.autoscaling.request_rate_query:
        return settings.api.autoscaling.request_rate_query
    return f'sum(rate(haproxy_backend_http_requests_total{{namespace="{settings.namespace}",proxy="api"}}[1m]))'


def api_pool_spec(settings: PlatformSettings) -> WorkerPoolSpec:
    api = settings.api
    env = {
        # The API sends Celery tasks: it routes them and declares their queues as the workers do.
        **_celery_env(settings),
        **api_env(settings.environment, api),
        # For clients that speak Sentinel; REDIS_URL (a Secret) reaches the master through redis-master.
        "REDIS_SENTINELS": f"{REDIS.sentinel}.{settings.namespace}.svc:26379",
        "REDIS_MASTER_NAME": MASTER_NAME,
        # The Redis ACL user of REDIS_PASSWORD (REDIS_URL carries it too).
        "REDIS_USERNAME": APP_USER.name,
        **api.env,
    }
    return WorkerPoolSpec(
        name=API_NAME,
        namespace=settings.namespace,
        component="api",
        environment=settings.environment,
        image=settings.images.api,
        command=gunicorn_command(api),
        resources=api.resources,
        min_replicas=api.min_replicas,
        max_replicas=api.max_replicas,
        autoscaling=api.autoscaling,
        gpu=api.gpu,
        termination_grace_period_seconds=api.termination_grace_period_seconds,
        pre_stop_seconds=api.pre_stop_seconds,
        http_port=api.port,
        probes=api.probes,
        metrics_path=api.metrics_path,
        env=tuple(sorted(env.items())),
        secret_env=(
            SecretEnv("SECRET_KEY", API_SECRET, "secret-key"),
            SecretEnv("DATABASE_URL", POSTGRES.client_secret, "url"),
            SecretEnv("DATABASE_READ_ONLY_URL", POSTGRES.client_secret, "read-only-url"),
            SecretEnv("REDIS_URL", REDIS.client_secret, "url"),
            SecretEnv("REDIS_PASSWORD", REDIS.client_secret, "password"),
            SecretEnv("REDIS_SENTINEL_PASSWORD", REDIS.client_secret, "sentinel-password"),
            # The API enqueues Celery tasks and reads their results.
            SecretEnv("CELERY_BROKER_URL", RABBITMQ.client_secret, "url"),
            SecretEnv("CELERY_RESULT_BACKEND", REDIS.client_secret, "celery-result-backend"),
        ),
        ingress_from=({"podSelector": {"matchLabels": lbl.selector_labels(LOAD_BALANCER)}},),
        monitoring_namespace=monitoring_namespace(settings),
        request_rate_query=request_rate_query(settings),
        prometheus_url=settings.monitoring.prometheus_url,
    )


def _secret_env(secrets: dict[str, tuple[str, str]]) -> tuple[SecretEnv, ...]:
    return tuple(SecretEnv(name, secret, key) for name, (secret, key) in secrets.items())


def pool_name(name: str) -> str:
    return f"celery-{name}"


def _celery_env(settings: PlatformSettings) -> dict[str, str]:
    celery = settings.celery
    return celery_env(settings.environment, celery.default_queue, celery.routes)


def celery_pool_spec(settings: PlatformSettings, name: str, pool: CeleryPool) -> WorkerPoolSpec:
    app = settings.celery.app
    env = {**_celery_env(settings), **celery_pool_env(pool)}
    return WorkerPoolSpec(
        name=pool_name(name),
        namespace=settings.namespace,
        component="celery-worker",
        environment=settings.environment,
        image=settings.worker_image,
        command=celery_worker_command(app, name, pool),
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
        secret_env=_secret_env(APP_SECRETS),
        priority_class_name=priority_class_name(settings.environment, "gpu" if pool.gpu.enabled else "batch"),
        exec_probe=("sh", "-c", celery_worker_ping(app, name)),
        queue_triggers=tuple((queue, pool.queue_length_target) for queue in pool.queues),
        trigger_authentication=RABBITMQ.trigger_authentication,
    )


def beat_spec(settings: PlatformSettings) -> WorkerPoolSpec:
    return WorkerPoolSpec(
        name="celery-beat",
        namespace=settings.namespace,
        component="celery-beat",
        environment=settings.environment,
        image=settings.worker_image,
        command=celery_beat_command(settings.celery.app),
        resources=_SINGLE_POD_RESOURCES,
        min_replicas=1,
        max_replicas=1,
        autoscaling=_NOT_AUTOSCALED,
        gpu=GpuPlacement(),
        termination_grace_period_seconds=30,
        pre_stop_seconds=0,
        env=tuple(sorted(_celery_env(settings).items())),
        secret_env=_secret_env(APP_SECRETS),
        priority_class_name=priority_class_name(settings.environment, "batch"),
        # Exactly one scheduler: a fixed single replica, and the old pod stops before the new starts.
        replicas=1,
        recreate=True,
    )


def flower_spec(settings: PlatformSettings) -> WorkerPoolSpec:
    return WorkerPoolSpec(
        name="flower",
        namespace=settings.namespace,
        component="celery-flower",
        environment=settings.environment,
        image=settings.images.flower,
        command=flower_command(),
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
            SecretEnv("CELERY_BROKER_URL", *BROKER_SECRET),
            SecretEnv("FLOWER_BASIC_AUTH", FLOWER_SECRET, "basic-auth"),
        ),
        # Not public: no Service outside the cluster, and only Prometheus may connect (port-forward
        # goes through the kubelet).
        ingress_from=(),
        monitoring_namespace=monitoring_namespace(settings),
        replicas=1,
        recreate=True,
    )
