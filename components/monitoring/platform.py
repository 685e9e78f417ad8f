"""What the monitoring stack is built from: its own settings, its images, and the few plain facts
of the platform it watches (the rules and dashboards name its pools, Redis quorum and replicas)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from components.monitoring.settings import Monitoring
from components.worker_pool.settings import CeleryPool


@dataclass(frozen=True)
class MonitoringImages:
    """The images of the workloads this program runs itself (the charts pin the rest)."""

    loki: str
    jaeger: str
    otel_collector: str
    celery_exporter: str
    elasticsearch_exporter: str
    # Runs the daily Elasticsearch retention script.
    curl: str


@dataclass(frozen=True)
class MonitoredPlatform:
    # This capability's own settings: servers, retention, tracing, access, alerting.
    monitoring: Monitoring
    images: MonitoringImages
    # The namespace of the application that is watched (its pods are scraped and send traces).
    namespace: str
    environment: str
    # Whether the platform's edge serves HTTPS (the UIs' public URLs follow it).
    tls_enabled: bool
    # The Celery pools by name: queues, bounds and GPU use, which the alerts and dashboards name.
    celery_pools: Mapping[str, CeleryPool]
    redis_replicas: int
    redis_quorum: int
    rabbitmq_replicas: int
    # Kubernetes (Services in the monitoring namespace, kube-state-metrics) or one Docker host
    # (network aliases, no kube-state-metrics: the rules on kube_* metrics are left out).
    kubernetes: bool = True

    def service_host(self, name: str) -> str:
        """Where a monitoring service answers: its Service, or its network alias on Docker."""
        return f"{name}.{self.monitoring.namespace}.svc" if self.kubernetes else name
