"""Which metric names each scrape target of the stack exposes: what panels and rules may query.

Checked against the real exporter where Debian ships it (tests/integration: HAProxy's built-in
exporter, redis_exporter, node_exporter, RabbitMQ's Prometheus plugin, Prometheus and Alertmanager
themselves); the others are
taken from each project's source or documentation, named per entry. A name missing here makes the
panel->metric and rule->metric tests fail: add it with its source, or fix the query.
"""

from __future__ import annotations

from components.monitoring.platform import MonitoredPlatform


def _histogram(name: str) -> set[str]:
    return {f"{name}_bucket", f"{name}_sum", f"{name}_count"}


# HAProxy 2.6 built-in exporter (verified live).
HAPROXY = frozenset(
    {
        "haproxy_backend_active_servers",
        "haproxy_backend_http_requests_total",
        "haproxy_backend_http_responses_total",
        "haproxy_backend_current_queue",
        "haproxy_backend_response_time_average_seconds",
        "haproxy_frontend_current_sessions",
        "haproxy_frontend_http_requests_total",
        "haproxy_frontend_requests_denied_total",
        "haproxy_server_status",
    }
)
# oliver006/redis_exporter (verified live with Debian's build).
REDIS_EXPORTER = frozenset(
    {
        "redis_up",
        "redis_instance_info",
        "redis_master_link_up",
        "redis_connected_slaves",
        "redis_connected_clients",
        "redis_memory_used_bytes",
        "redis_memory_max_bytes",
        "redis_keyspace_hits_total",
        "redis_keyspace_misses_total",
        "redis_commands_processed_total",
        "redis_evicted_keys_total",
    }
)
# Prometheus node_exporter (verified live with Debian's build).
NODE_EXPORTER = frozenset(
    {
        "node_cpu_seconds_total",
        "node_memory_MemAvailable_bytes",
        "node_memory_MemTotal_bytes",
        "node_disk_read_bytes_total",
        "node_disk_written_bytes_total",
        "node_network_receive_bytes_total",
        "node_network_transmit_bytes_total",
    }
)
# Prometheus and Alertmanager's own metrics (verified live).
PROMETHEUS = frozenset({"up", "prometheus_notifications_errors_total", "prometheus_rule_evaluation_failures_total"})
ALERTMANAGER = frozenset({"alertmanager_notifications_failed_total"})
# CloudNativePG instance manager: default monitoring queries (config/manager/default-monitoring.yaml)
# and the collector's own series, prefixed cnpg_.
CNPG = frozenset(
    {
        "cnpg_collector_up",
        "cnpg_collector_last_available_backup_timestamp",
        "cnpg_pg_replication_lag",
        "cnpg_pg_stat_archiver_seconds_since_last_archival",
        "cnpg_pg_stat_archiver_failed_count",
        "cnpg_backends_total",
        "cnpg_backends_waiting_total",
        "cnpg_pg_settings_setting",
        "cnpg_pg_stat_database_xact_commit",
        "cnpg_pg_stat_database_xact_rollback",
        "cnpg_pg_stat_database_deadlocks",
    }
)
# CloudNativePG Pooler (PgBouncer SHOW POOLS / SHOW STATS), prefixed cnpg_pgbouncer_.
CNPG_POOLER = frozenset(
    {
        "cnpg_pgbouncer_pools_cl_active",
        "cnpg_pgbouncer_pools_cl_waiting",
        "cnpg_pgbouncer_pools_sv_active",
        "cnpg_pgbouncer_pools_sv_idle",
        "cnpg_pgbouncer_pools_maxwait",
    }
)
# rabbitmq_prometheus plugin: aggregated /metrics and /metrics/detailed (the ServiceMonitor's
# families), verified live with Debian's RabbitMQ 3.10.
RABBITMQ = frozenset(
    {
        "rabbitmq_queue_messages_ready",
        "rabbitmq_queue_messages_unacked",
        "rabbitmq_connections",
        "rabbitmq_global_messages_received_total",
        "rabbitmq_global_messages_delivered_total",
        "rabbitmq_alarms_memory_used_watermark",
        "rabbitmq_alarms_free_disk_space_watermark",
        "rabbitmq_process_resident_memory_bytes",
        "rabbitmq_detailed_queue_messages_ready",
        "rabbitmq_detailed_queue_messages_unacked",
        "rabbitmq_detailed_queue_consumers",
    }
)
# kube-state-metrics (kube-prometheus-stack).
KUBE_STATE_METRICS = frozenset(
    {
        "kube_deployment_status_replicas_available",
        "kube_statefulset_status_replicas_ready",
        "kube_pod_container_status_waiting_reason",
        "kube_pod_container_status_restarts_total",
        "kube_node_status_allocatable",
        "kube_horizontalpodautoscaler_status_desired_replicas",
        "kube_horizontalpodautoscaler_status_current_replicas",
    }
)
# Kubelet and cAdvisor (kube-prometheus-stack's kubelet ServiceMonitor).
KUBELET = frozenset(
    {
        "kubelet_volume_stats_available_bytes",
        "kubelet_volume_stats_capacity_bytes",
        "container_cpu_usage_seconds_total",
        "container_memory_working_set_bytes",
    }
)
# The application's /metrics (prometheus-fastapi-instrumentator's names, which the API exports).
APPLICATION = frozenset({"http_requests_total", *_histogram("http_request_duration_seconds")})
# danihodovic/celery-exporter (src/exporter.py).
CELERY_EXPORTER = frozenset(
    {
        *(
            f"celery_task_{state}_total"
            for state in ("sent", "received", "started", "succeeded", "failed", "rejected", "revoked", "retried")
        ),
        "celery_worker_up",
        "celery_worker_tasks_active",
        *_histogram("celery_task_runtime"),
        "celery_queue_length",
        "celery_active_consumer_count",
        "celery_active_worker_count",
    }
)
# Loki's own /metrics.
LOKI = frozenset(
    {
        *_histogram("loki_request_duration_seconds"),
        "loki_distributor_lines_received_total",
        "loki_distributor_bytes_received_total",
        "loki_ingester_memory_streams",
    }
)
# OpenTelemetry Collector internal telemetry (the gateway, the shipper and Jaeger v2).
OTELCOL = frozenset(
    {
        "otelcol_receiver_accepted_spans_total",
        "otelcol_receiver_refused_spans_total",
        "otelcol_exporter_sent_spans_total",
        "otelcol_exporter_send_failed_spans_total",
        "otelcol_receiver_accepted_log_records_total",
        "otelcol_exporter_sent_log_records_total",
        "otelcol_exporter_send_failed_log_records_total",
        "otelcol_exporter_queue_size",
    }
)
# prometheus-community/elasticsearch_exporter.
ELASTICSEARCH_EXPORTER = frozenset(
    {
        "elasticsearch_cluster_health_status",
        "elasticsearch_cluster_health_number_of_nodes",
        "elasticsearch_cluster_health_unassigned_shards",
        "elasticsearch_filesystem_data_available_bytes",
        "elasticsearch_filesystem_data_size_bytes",
        "elasticsearch_jvm_memory_used_bytes",
        "elasticsearch_indices_docs",
    }
)


def exposed_metrics(platform: MonitoredPlatform) -> frozenset[str]:
    """Every metric name some target of this stack exposes (Prometheus scrapes them all)."""
    sources = [
        HAPROXY,
        REDIS_EXPORTER,
        NODE_EXPORTER,
        PROMETHEUS,
        ALERTMANAGER,
        CNPG,
        CNPG_POOLER,
        RABBITMQ,
        KUBE_STATE_METRICS,
        KUBELET,
        APPLICATION,
        CELERY_EXPORTER,
        LOKI,
        OTELCOL,
    ]
    if platform.monitoring.elasticsearch.enabled:
        sources.append(ELASTICSEARCH_EXPORTER)
    return frozenset().union(*sources)
