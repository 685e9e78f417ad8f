"""The monitoring stack's args from the settings: its own settings, its images and the plain facts
of the platform it watches."""

from __future__ import annotations

from components.monitoring.platform import MonitoredPlatform, MonitoringImages
from stacks.settings import PlatformSettings


def monitored_platform(settings: PlatformSettings) -> MonitoredPlatform:
    images = settings.images
    return MonitoredPlatform(
        monitoring=settings.monitoring,
        images=MonitoringImages(
            loki=images.loki,
            jaeger=images.jaeger,
            otel_collector=images.otel_collector,
            celery_exporter=images.celery_exporter,
            elasticsearch_exporter=images.elasticsearch_exporter,
            curl=images.curl,
        ),
        namespace=settings.namespace,
        environment=settings.environment,
        tls_enabled=settings.tls.enabled,
        celery_pools=settings.celery.pools,
        redis_replicas=settings.redis.replicas,
        redis_quorum=settings.redis.quorum,
        rabbitmq_replicas=settings.rabbitmq.replicas,
    )
