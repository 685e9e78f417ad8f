"""Settings of the application's pools: the API (Gunicorn) and the Celery workers, beat and Flower."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import (
    AfterValidator,
    Field,
    model_validator,
)

from components.common.values import (
    Autoscaling,
    DnsLabel,
    GpuPlacement,
    HttpPath,
    Model,
    Port,
    Probes,
    ResourceAmounts,
    Resources,
)

_ENV_NAME_RE = re.compile(r"^[A-Z_][A-Z0-9_]*$")
# Environment variable names that look like credentials must come from Secrets, not plain config.
_SECRET_LOOKING_ENV_RE = re.compile(r"(PASSWORD|SECRET|TOKEN|PRIVATE_KEY|API_KEY|CREDENTIAL)")


def _check_env(env: dict[str, str]) -> dict[str, str]:
    for name in env:
        if not _ENV_NAME_RE.match(name):
            raise ValueError(f"environment variable name {name!r} must match {_ENV_NAME_RE.pattern}")
        if _SECRET_LOOKING_ENV_RE.search(name):
            raise ValueError(
                f"{name!r} looks like a credential; the program generates secrets and passes them from "
                "Kubernetes Secrets, so plain config must not carry them"
            )
    return env


class ApiPool(Model):
    min_replicas: Annotated[int, Field(ge=1, le=1000)] = 2
    max_replicas: Annotated[int, Field(ge=1, le=1000)] = 20
    port: Port = 8000
    # Gunicorn with Uvicorn workers, as the guide runs the FastAPI application.
    app_module: str = "src.app:app"
    gunicorn_workers: Annotated[int, Field(ge=1, le=64)] = 4
    # Recycle workers to bound leaks (the guide's MAX_REQUESTS advice).
    max_requests: Annotated[int, Field(ge=0)] = 2000
    metrics_path: HttpPath = "/metrics"
    resources: Resources = Resources(
        requests=ResourceAmounts(cpu="500m", memory="1Gi"),
        limits=ResourceAmounts(cpu="2", memory="2Gi"),
    )
    autoscaling: Autoscaling = Autoscaling()
    probes: Probes = Probes()
    gpu: GpuPlacement = GpuPlacement()
    env: Annotated[dict[str, str], AfterValidator(_check_env)] = Field(default_factory=dict)
    # Longer than Gunicorn's graceful timeout plus the pre-stop pause, so requests finish.
    termination_grace_period_seconds: Annotated[int, Field(ge=5, le=3600)] = 45
    graceful_timeout_seconds: Annotated[int, Field(ge=1, le=3600)] = 30
    # Pause before SIGTERM so endpoints and the load balancer's DNS drop the pod first.
    pre_stop_seconds: Annotated[int, Field(ge=0, le=120)] = 5

    @model_validator(mode="after")
    def _bounds(self) -> ApiPool:
        if self.min_replicas > self.max_replicas:
            raise ValueError(f"minReplicas ({self.min_replicas}) must not exceed maxReplicas ({self.max_replicas})")
        if self.graceful_timeout_seconds + self.pre_stop_seconds >= self.termination_grace_period_seconds:
            raise ValueError(
                "terminationGracePeriodSeconds must exceed gracefulTimeoutSeconds + preStopSeconds "
                f"({self.graceful_timeout_seconds} + {self.pre_stop_seconds})"
            )
        return self


class CeleryPool(Model):
    queues: Annotated[list[Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]+$")]], Field(min_length=1)]
    min_replicas: Annotated[int, Field(ge=0, le=1000)] = 2
    max_replicas: Annotated[int, Field(ge=1, le=1000)] = 10
    concurrency: Annotated[int, Field(ge=1, le=256)] = 4
    max_tasks_per_child: Annotated[int, Field(ge=1)] = 1000
    max_memory_per_child_kib: Annotated[int, Field(ge=1024)] | None = None
    prefetch_multiplier: Annotated[int, Field(ge=1, le=128)] = 4
    late_acks: bool = False
    # Messages waiting per worker pod before KEDA adds one.
    queue_length_target: Annotated[int, Field(ge=1)] = 20
    termination_grace_period_seconds: Annotated[int, Field(ge=5, le=86400)] = 300
    resources: Resources = Resources(
        requests=ResourceAmounts(cpu="500m", memory="1Gi"),
        limits=ResourceAmounts(cpu="2", memory="2Gi"),
    )
    gpu: GpuPlacement = GpuPlacement()

    @model_validator(mode="after")
    def _bounds(self) -> CeleryPool:
        if self.min_replicas > self.max_replicas:
            raise ValueError(f"minReplicas ({self.min_replicas}) must not exceed maxReplicas ({self.max_replicas})")
        return self


def _default_celery_pools() -> dict[str, CeleryPool]:
    return {
        "default": CeleryPool(queues=["default"], min_replicas=2, max_replicas=10),
        "ai": CeleryPool(
            queues=["ai"],
            min_replicas=2,
            max_replicas=4,
            concurrency=1,
            prefetch_multiplier=1,
            late_acks=True,
            gpu=GpuPlacement(enabled=True),
        ),
        "data": CeleryPool(queues=["data"], min_replicas=2, max_replicas=10, prefetch_multiplier=1, late_acks=True),
    }


class Celery(Model):
    # The Celery application the workers load (`celery -A <app>`).
    app: str = Field(default="src.celery_app", pattern=r"^[A-Za-z_][A-Za-z0-9_.:]*$")
    pools: dict[DnsLabel, CeleryPool] = Field(default_factory=_default_celery_pools)
    # Task name (or glob) -> queue, as the application's task_routes; "default" takes the rest.
    routes: dict[str, Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]+$")]] = Field(
        default_factory=lambda: {"src.tasks.ai.*": "ai", "src.tasks.data.*": "data"}
    )
    default_queue: str = "default"
    beat: bool = True
    flower: bool = True

    @model_validator(mode="after")
    def _every_routed_queue_has_a_consumer(self) -> Celery:
        # The original deployment routed tasks to queues no worker consumed: they waited forever.
        consumed = sorted({queue for pool in self.pools.values() for queue in pool.queues})
        for task, queue in {**self.routes, "(default queue)": self.default_queue}.items():
            if queue not in consumed:
                raise ValueError(
                    f"routes send {task!r} to queue {queue!r}, which no pool consumes; "
                    f"pools consume: {', '.join(consumed) or 'nothing'}"
                )
        return self
