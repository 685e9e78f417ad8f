"""The stand-in's Celery app, configured the way the platform documents it: from the environment
(components/worker_pool/commands.py)."""

from __future__ import annotations

import json
import os

from celery import Celery
from kombu import Queue

app = Celery(
    "teknofest",
    broker=os.environ["CELERY_BROKER_URL"],
    backend=os.environ.get("CELERY_RESULT_BACKEND"),
    include=["src.tasks.ai", "src.tasks.data", "src.tasks.default"],
)
_QUEUE_TYPE = os.environ.get("CELERY_TASK_DEFAULT_QUEUE_TYPE", "classic")
_ARGUMENTS = {"x-queue-type": _QUEUE_TYPE} if _QUEUE_TYPE == "quorum" else {}
_DEFAULT = os.environ.get("CELERY_TASK_DEFAULT_QUEUE", "default")
_ROUTES: dict[str, dict[str, str]] = json.loads(os.environ.get("CELERY_TASK_ROUTES", "{}"))
_QUEUES = sorted({_DEFAULT, *(route["queue"] for route in _ROUTES.values())})
app.conf.update(
    task_default_queue=_DEFAULT,
    task_queues=[Queue(name, routing_key=name, queue_arguments=_ARGUMENTS) for name in _QUEUES],
    task_routes=_ROUTES,
    task_acks_late=os.environ.get("CELERY_TASK_ACKS_LATE", "false") == "true",
    worker_prefetch_multiplier=int(os.environ.get("CELERY_WORKER_PREFETCH_MULTIPLIER", "4")),
    worker_send_task_events=os.environ.get("CELERY_WORKER_SEND_TASK_EVENTS", "false") == "true",
    task_send_sent_event=os.environ.get("CELERY_TASK_SEND_SENT_EVENT", "false") == "true",
    broker_connection_retry_on_startup=True,
)
if _QUEUE_TYPE == "quorum":
    # Quorum queues refuse a channel-wide prefetch; Celery 5.5 detects them, Debian's 5.2 does not:
    # ask for the per-consumer prefetch RabbitMQ implements.
    from kombu.transport import pyamqp

    pyamqp.Transport.qos_semantics_matches_spec = lambda self, connection: True
