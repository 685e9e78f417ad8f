"""danihodovic/celery-exporter next to the workers: task events and queue lengths as Prometheus metrics.

It reads Celery's event stream from the broker, so the workers run with task events on
(`--task-events`, CELERY_WORKER_SEND_TASK_EVENTS) and publishers send task-sent events
(CELERY_TASK_SEND_SENT_EVENT), which carry the queue name the runtime histogram is labelled with.
"""

from __future__ import annotations

from typing import Any

from components.common.kubernetes.manifests import ingress_policy, namespace_peer
from components.common.values import ResourceAmounts, Resources
from components.monitoring.platform import MonitoredPlatform
from components.monitoring.workload import Port, ServerSpec

NAME = "celery-exporter"
PORT = 9808


def celery_exporter_spec(platform: MonitoredPlatform, broker_secret: tuple[str, str]) -> ServerSpec:
    queues = sorted({queue for pool in platform.celery_pools.values() for queue in pool.queues})
    secret, key = broker_secret
    return ServerSpec(
        name=NAME,
        namespace=platform.namespace,
        component="celery-exporter",
        environment=platform.environment,
        image=platform.images.celery_exporter,
        args=(
            "--host=$(POD_IP)",
            f"--port={PORT}",
            # Queues show up (at 0) before any worker has reported consuming them.
            f"--queues={','.join(queues)}",
            # Publishers are API pods with random names: one label value, not one per pod.
            "--generic-hostname-task-sent-metric",
        ),
        ports=(Port("metrics", PORT),),
        resources=Resources(
            requests=ResourceAmounts(cpu="50m", memory="128Mi"),
            limits=ResourceAmounts(cpu="500m", memory="256Mi"),
        ),
        ready_path="/health",
        live_path="/health",
        env=({"name": "CE_BROKER_URL", "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}},),
    )


def metrics_ingress_policy(spec: ServerSpec, monitoring_namespace: str) -> dict[str, Any]:
    """Only Prometheus (the monitoring namespace) may reach the exporter."""
    return ingress_policy(
        f"{spec.name}-ingress",
        spec.namespace,
        spec.labels,
        spec.selector,
        [([namespace_peer(monitoring_namespace)], ["metrics"])],
    )
