"""The images every workload runs, pinned (docs/versions.md)."""

from __future__ import annotations

from components.common.values import (
    ImageRef,
    Model,
)


class Images(Model):
    api: ImageRef = "ghcr.io/teknofest/egitim-eylemci-api:1.3.0"
    # Celery workers run the application image; a separate tag lets a pool lag or lead the API.
    worker: ImageRef | None = None
    haproxy: ImageRef = "docker.io/library/haproxy:2.6.22"
    # CloudNativePG's "standard" image (the Barman Cloud plugin needs minimal or standard; the bare
    # "16.10" tag was the deprecated bullseye "system" image), pinned to its build and digest.
    postgres: ImageRef = (
        "ghcr.io/cloudnative-pg/postgresql:16.10-202509151215-standard-trixie"
        "@sha256:872626c85616d5653c16b6cf412904622f8a4dfb9e9ac9f1c6bbcda104fb036b"
    )
    # The docker target's PostgreSQL: the official image, which our build extends with pgBackRest
    # and PgBouncer (components/postgres/image/Dockerfile), pinned by digest.
    postgres_server: ImageRef = (
        "docker.io/library/postgres:16.10-bookworm"
        "@sha256:38471f330eb885e04de130b768d6db4e10469e2311879c7e5c699f6d2d8a1c74"
    )
    redis: ImageRef = "docker.io/library/redis:7.4.11"
    redis_exporter: ImageRef = "docker.io/oliver006/redis_exporter:v1.62.0"
    rabbitmq: ImageRef = "docker.io/library/rabbitmq:4.1.4-management"
    flower: ImageRef = "docker.io/mher/flower:2.0.1"
    # The monitoring stack's own workloads (kube-prometheus-stack and ECK pin theirs in the charts).
    loki: ImageRef = "docker.io/grafana/loki:3.7.7"
    jaeger: ImageRef = "docker.io/jaegertracing/jaeger:2.11.0"
    otel_collector: ImageRef = "docker.io/otel/opentelemetry-collector-contrib:0.138.0"
    celery_exporter: ImageRef = "docker.io/danihodovic/celery-exporter:0.10.14"
    elasticsearch_exporter: ImageRef = "quay.io/prometheuscommunity/elasticsearch-exporter:v1.9.0"
    # The docker target's Prometheus, Alertmanager and Grafana: the versions kube-prometheus-stack
    # 88.5.3 runs on Kubernetes (Prometheus's busybox variant: its healthcheck needs a shell and wget).
    prometheus: ImageRef = "quay.io/prometheus/prometheus:v3.14.0"
    alertmanager: ImageRef = "quay.io/prometheus/alertmanager:v0.34.0"
    grafana: ImageRef = "docker.io/grafana/grafana:13.2.0"
    postgres_exporter: ImageRef = "quay.io/prometheuscommunity/postgres-exporter:v0.19.1"
    # Runs the daily Elasticsearch retention script.
    curl: ImageRef = "docker.io/curlimages/curl:8.11.1"
