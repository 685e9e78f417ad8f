"""Stack outputs every target shares: the image versions, for the dashboards."""

from __future__ import annotations

from typing import Any

from stacks.settings import PlatformSettings


def image_versions(settings: PlatformSettings) -> dict[str, Any]:
    return {
        "api": settings.images.api,
        "haproxy": settings.images.haproxy,
        "redis": settings.images.redis,
        "redisExporter": settings.images.redis_exporter,
        "postgres": settings.images.postgres,
        "rabbitmq": settings.images.rabbitmq,
        "worker": settings.worker_image,
        "flower": settings.images.flower,
        **(
            {
                "loki": settings.images.loki,
                "jaeger": settings.images.jaeger,
                "otelCollector": settings.images.otel_collector,
                "celeryExporter": settings.images.celery_exporter,
                "elasticsearchExporter": settings.images.elasticsearch_exporter,
                "kubePrometheusStackChart": settings.monitoring.kube_prometheus_stack_chart_version,
                "elasticsearch": settings.monitoring.elasticsearch.version
                if settings.monitoring.elasticsearch.enabled
                else None,
            }
            if settings.monitoring.enabled
            else {}
        ),
    }
