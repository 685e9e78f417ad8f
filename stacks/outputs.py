"""Stack outputs of the image versions, for the dashboards, per target."""

from __future__ import annotations

from typing import Any

from components.monitoring.elastic_containers import elasticsearch_image, kibana_image
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


def docker_image_versions(settings: PlatformSettings) -> dict[str, Any]:
    """What the docker target runs (its PostgreSQL is the official image, extended on the host)."""
    i = settings.images
    es = settings.monitoring.elasticsearch
    return {
        "api": i.api,
        "worker": settings.worker_image,
        "haproxy": i.haproxy,
        "redis": i.redis,
        "redisExporter": i.redis_exporter,
        "postgresServer": i.postgres_server,
        "postgresExporter": i.postgres_exporter,
        "rabbitmq": i.rabbitmq,
        "flower": i.flower,
        **(
            {
                "prometheus": i.prometheus,
                "alertmanager": i.alertmanager,
                "grafana": i.grafana,
                "loki": i.loki,
                "jaeger": i.jaeger,
                "otelCollector": i.otel_collector,
                "celeryExporter": i.celery_exporter,
            }
            if settings.monitoring.enabled
            else {}
        ),
        **(
            {
                "elasticsearch": elasticsearch_image(es.version),
                "kibana": kibana_image(es.version),
                "elasticsearchExporter": i.elasticsearch_exporter,
                "curl": i.curl,
            }
            if settings.monitoring.enabled and es.enabled
            else {}
        ),
    }
