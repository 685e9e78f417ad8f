"""The application's processes, target-neutral: the Gunicorn and Celery command lines and the
environment contract the application reads. Kubernetes pods and Docker containers run the same.

The application reads its Celery configuration from the environment:
CELERY_BROKER_URL, CELERY_RESULT_BACKEND, CELERY_TASK_DEFAULT_QUEUE, CELERY_TASK_DEFAULT_QUEUE_TYPE
(quorum), CELERY_TASK_ROUTES (JSON: task glob -> queue), CELERY_TASK_ACKS_LATE and
CELERY_WORKER_PREFETCH_MULTIPLIER (per pool), CELERY_WORKER_SEND_TASK_EVENTS and
CELERY_TASK_SEND_SENT_EVENT (for the Celery exporter), plus DATABASE_URL and REDIS_URL like the API.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from components.worker_pool.settings import ApiPool, CeleryPool

FLOWER_PORT = 5555
BEAT_SCHEDULE = "/tmp/celerybeat-schedule"


def gunicorn_command(api: ApiPool) -> tuple[str, ...]:
    """Gunicorn with Uvicorn workers, as the guide runs the FastAPI application."""
    return (
        "gunicorn",
        api.app_module,
        "--worker-class",
        "uvicorn.workers.UvicornWorker",
        # Every address of the pod's (container's) own network namespace: the load balancer reaches it there.
        "--bind",
        f"0.0.0.0:{api.port}",
        "--workers",
        str(api.gunicorn_workers),
        "--max-requests",
        str(api.max_requests),
        "--max-requests-jitter",
        str(max(api.max_requests // 10, 0)),
        "--graceful-timeout",
        str(api.graceful_timeout_seconds),
        # Longer than HAProxy's keep-alive so the LB never reuses a connection the worker closed.
        "--keep-alive",
        "15",
        # Only the load balancer may reach the API (NetworkPolicy, internal network), so its
        # X-Forwarded-* are trusted.
        "--forwarded-allow-ips",
        "*",
        "--worker-tmp-dir",
        "/tmp",
        "--access-logfile",
        "-",
    )


def celery_worker_command(app: str, name: str, pool: CeleryPool) -> tuple[str, ...]:
    """One pool's worker: its queues, concurrency and recycling; the node is named `<name>@<host>`."""
    command = [
        "celery",
        "-A",
        app,
        "worker",
        "--loglevel",
        "INFO",
        "-Q",
        ",".join(pool.queues),
        "--concurrency",
        str(pool.concurrency),
        "--hostname",
        f"{name}@%h",
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
    return tuple(command)


def celery_worker_ping(app: str, name: str) -> str:
    """A shell health check: this worker node answers a ping through the broker."""
    return f'celery -A {app} inspect ping --destination "{name}@$HOSTNAME" --timeout 20'


def celery_beat_command(app: str) -> tuple[str, ...]:
    return ("celery", "-A", app, "beat", "--loglevel", "INFO", "--schedule", BEAT_SCHEDULE)


def flower_command() -> tuple[str, ...]:
    return ("celery", "flower", f"--port={FLOWER_PORT}", "--url_prefix=", "--purge_offline_workers=300")


def celery_env(environment: str, default_queue: str, routes: Mapping[str, str]) -> dict[str, str]:
    """What every Celery process (workers, beat) reads, beside its Secrets."""
    return {
        "APP_ENV": environment,
        "CELERY_TASK_DEFAULT_QUEUE": default_queue,
        "CELERY_TASK_DEFAULT_QUEUE_TYPE": "quorum",
        "CELERY_TASK_ROUTES": json.dumps({task: {"queue": queue} for task, queue in sorted(routes.items())}),
        # Task events feed the Celery exporter (and Flower); sent events carry the queue name.
        "CELERY_WORKER_SEND_TASK_EVENTS": "true",
        "CELERY_TASK_SEND_SENT_EVENT": "true",
    }


def celery_pool_env(pool: CeleryPool) -> dict[str, str]:
    """A pool's own acknowledgement and prefetch behaviour."""
    return {
        "CELERY_WORKER_PREFETCH_MULTIPLIER": str(pool.prefetch_multiplier),
        "CELERY_TASK_ACKS_LATE": "true" if pool.late_acks else "false",
    }


def api_env(environment: str, api: ApiPool) -> dict[str, str]:
    """What the API reads beside its Secrets (its own `env` settings win)."""
    return {"APP_ENV": environment, "PORT": str(api.port), "DEBUG": "false"}
