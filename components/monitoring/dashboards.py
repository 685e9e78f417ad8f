"""Grafana dashboards as code: typed panels in, dashboard JSON out, one ConfigMap per dashboard for
the Grafana sidecar (pure)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from components.common import labels as lbl
from components.common.kubernetes.manifests import metadata
from components.monitoring.platform import MonitoredPlatform

# The Grafana sidecar loads ConfigMaps with this label, into the folder their annotation names.
DASHBOARD_LABEL = "grafana_dashboard"
FOLDER_ANNOTATION = "grafana_folder"
FOLDER = "TEKNOFEST platform"
PROMETHEUS_UID = "prometheus"
SCHEMA_VERSION = 39


@dataclass(frozen=True)
class Query:
    expr: str
    legend: str = ""


@dataclass(frozen=True)
class Panel:
    title: str
    queries: tuple[Query, ...]
    unit: str = "short"
    kind: Literal["timeseries", "stat"] = "timeseries"
    description: str = ""


@dataclass(frozen=True)
class Dashboard:
    uid: str
    title: str
    panels: tuple[Panel, ...]
    tags: tuple[str, ...] = ()


def _panel_json(panel: Panel, index: int) -> dict[str, Any]:
    width = 12
    return {
        "id": index + 1,
        "type": panel.kind,
        "title": panel.title,
        "description": panel.description,
        "datasource": {"type": "prometheus", "uid": PROMETHEUS_UID},
        "gridPos": {"h": 8, "w": width, "x": (index % 2) * width, "y": (index // 2) * 8},
        "fieldConfig": {"defaults": {"unit": panel.unit}, "overrides": []},
        "options": {"legend": {"displayMode": "list", "placement": "bottom"}} if panel.kind == "timeseries" else {},
        "targets": [
            {
                "refId": chr(ord("A") + n),
                "datasource": {"type": "prometheus", "uid": PROMETHEUS_UID},
                "expr": query.expr,
                "legendFormat": query.legend,
            }
            for n, query in enumerate(panel.queries)
        ],
    }


def dashboard_json(dashboard: Dashboard) -> dict[str, Any]:
    return {
        "uid": dashboard.uid,
        "title": dashboard.title,
        "tags": ["teknofest", *dashboard.tags],
        "timezone": "browser",
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "editable": False,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "panels": [_panel_json(panel, index) for index, panel in enumerate(dashboard.panels)],
    }


def _rate(metric: str, selector: str, by: str = "", window: str = "5m") -> str:
    grouping = f" by ({by})" if by else ""
    return f"sum{grouping} (rate({metric}{{{selector}}}[{window}]))"


def _quantile(q: float, histogram: str, selector: str, by: str = "") -> str:
    return f"histogram_quantile({q}, sum by (le{', ' + by if by else ''}) (rate({histogram}_bucket{{{selector}}}[5m])))"


def platform_dashboards(platform: MonitoredPlatform) -> list[Dashboard]:
    ns = f'namespace="{platform.namespace}"'
    api = f'{ns},proxy="api"'
    app = f'{ns},job="api"'
    mon = f'namespace="{platform.monitoring.namespace}"'
    cpu = f'{ns},container!="",container!="POD"'
    api_5xx = f'{api},code="5xx"'
    api_4xx = f'{api},code="4xx"'
    overview = Dashboard(
        "teknofest-overview",
        "Platform overview",
        (
            Panel("Request rate", (Query(_rate("haproxy_backend_http_requests_total", api), "requests/s"),), "reqps"),
            Panel(
                "Error ratio (5xx)",
                (
                    Query(
                        f"{_rate('haproxy_backend_http_responses_total', api_5xx)}"
                        f" / {_rate('haproxy_backend_http_requests_total', api)}",
                        "5xx",
                    ),
                    Query(
                        f"{_rate('haproxy_backend_http_responses_total', api_4xx)}"
                        f" / {_rate('haproxy_backend_http_requests_total', api)}",
                        "4xx",
                    ),
                ),
                "percentunit",
            ),
            Panel(
                "Latency percentiles",
                tuple(
                    Query(_quantile(q, "http_request_duration_seconds", app), f"p{int(q * 100)}")
                    for q in (0.5, 0.95, 0.99)
                ),
                "s",
            ),
            Panel(
                "Active connections",
                (Query(f'sum(haproxy_frontend_current_sessions{{{ns},proxy="public"}})', "sessions"),),
            ),
            Panel(
                "Queue lengths",
                (Query(f"sum by (queue) (rabbitmq_detailed_queue_messages_ready{{{ns}}})", "{{queue}}"),),
            ),
            Panel(
                "Task completion rate",
                (
                    Query(_rate("celery_task_succeeded_total", ns), "succeeded"),
                    Query(_rate("celery_task_failed_total", ns), "failed"),
                ),
                "ops",
            ),
            Panel(
                "Node CPU utilisation",
                (Query('1 - avg by (instance) (rate(node_cpu_seconds_total{mode="idle"}[5m]))', "{{instance}}"),),
                "percentunit",
            ),
            Panel(
                "Node memory utilisation",
                (Query("1 - node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes", "{{instance}}"),),
                "percentunit",
            ),
            Panel(
                "Disk I/O",
                (
                    Query("sum by (instance) (rate(node_disk_read_bytes_total[5m]))", "read {{instance}}"),
                    Query("sum by (instance) (rate(node_disk_written_bytes_total[5m]))", "write {{instance}}"),
                ),
                "Bps",
            ),
            Panel(
                "Network traffic",
                (
                    Query("sum by (instance) (rate(node_network_receive_bytes_total[5m]))", "in {{instance}}"),
                    Query("sum by (instance) (rate(node_network_transmit_bytes_total[5m]))", "out {{instance}}"),
                ),
                "Bps",
            ),
        ),
        ("overview",),
    )
    api_workers = Dashboard(
        "teknofest-api",
        "API workers",
        (
            Panel(
                "Replicas (available / desired)",
                (
                    Query(f'kube_deployment_status_replicas_available{{{ns},deployment="api"}}', "available"),
                    Query(
                        f'kube_horizontalpodautoscaler_status_desired_replicas{{{ns},horizontalpodautoscaler=~".*api"}}',
                        "desired",
                    ),
                ),
            ),
            Panel("Requests by status", (Query(_rate("http_requests_total", app, "status"), "{{status}}"),), "reqps"),
            Panel(
                "Latency by handler (p95)",
                (Query(_quantile(0.95, "http_request_duration_seconds", app, "handler"), "{{handler}}"),),
                "s",
            ),
            Panel(
                "Healthy backends",
                (Query(f"sum(haproxy_backend_active_servers{{{api}}})", "servers"),),
                kind="stat",
            ),
            Panel(
                "CPU per pod",
                (Query(_rate("container_cpu_usage_seconds_total", f'{cpu},pod=~"api-.*"', "pod"), "{{pod}}"),),
            ),
            Panel(
                "Memory per pod",
                (Query(f'sum by (pod) (container_memory_working_set_bytes{{{cpu},pod=~"api-.*"}})', "{{pod}}"),),
                "bytes",
            ),
        ),
        ("api",),
    )
    celery = Dashboard(
        "teknofest-celery",
        "Celery queues and tasks",
        (
            Panel(
                "Queue length",
                (Query(f"sum by (queue_name) (celery_queue_length{{{ns}}})", "{{queue_name}}"),),
            ),
            Panel(
                "Consumers per queue",
                (Query(f"sum by (queue_name) (celery_active_consumer_count{{{ns}}})", "{{queue_name}}"),),
            ),
            Panel(
                "Tasks by outcome",
                tuple(
                    Query(_rate(f"celery_task_{state}_total", ns), state)
                    for state in ("received", "succeeded", "failed", "retried")
                ),
                "ops",
            ),
            Panel(
                "Failure ratio by task",
                (
                    Query(
                        f"{_rate('celery_task_failed_total', ns, 'name')}"
                        f" / ({_rate('celery_task_succeeded_total', ns, 'name')}"
                        f" + {_rate('celery_task_failed_total', ns, 'name')})",
                        "{{name}}",
                    ),
                ),
                "percentunit",
            ),
            Panel(
                "Task runtime p95 by queue",
                (Query(_quantile(0.95, "celery_task_runtime", ns, "queue_name"), "{{queue_name}}"),),
                "s",
            ),
            Panel("Workers up", (Query(f"sum(celery_worker_up{{{ns}}})", "workers"),), kind="stat"),
            Panel(
                "Active tasks per worker",
                (Query(f"celery_worker_tasks_active{{{ns}}}", "{{hostname}}"),),
            ),
        ),
        ("celery",),
    )
    postgres = Dashboard(
        "teknofest-postgres",
        "PostgreSQL",
        (
            Panel(
                "Pooler: client connections",
                (
                    Query(f"sum by (pod) (cnpg_pgbouncer_pools_cl_active{{{ns}}})", "active {{pod}}"),
                    Query(f"sum by (pod) (cnpg_pgbouncer_pools_cl_waiting{{{ns}}})", "waiting {{pod}}"),
                ),
            ),
            Panel(
                "Pooler: server connections",
                (
                    Query(f"sum by (pod) (cnpg_pgbouncer_pools_sv_active{{{ns}}})", "active {{pod}}"),
                    Query(f"sum by (pod) (cnpg_pgbouncer_pools_sv_idle{{{ns}}})", "idle {{pod}}"),
                ),
            ),
            Panel(
                "Transactions per second",
                (
                    Query(_rate("cnpg_pg_stat_database_xact_commit", ns), "commit"),
                    Query(_rate("cnpg_pg_stat_database_xact_rollback", ns), "rollback"),
                ),
                "ops",
            ),
            Panel(
                "Replication lag",
                (Query(f"max by (pod) (cnpg_pg_replication_lag{{{ns}}})", "{{pod}}"),),
                "s",
            ),
            Panel(
                "Lock waits",
                (
                    Query(f"sum by (pod) (cnpg_backends_waiting_total{{{ns}}})", "waiting {{pod}}"),
                    Query(_rate("cnpg_pg_stat_database_deadlocks", ns), "deadlocks/s"),
                ),
            ),
            Panel(
                "Backends",
                (Query(f"sum by (pod, state) (cnpg_backends_total{{{ns}}})", "{{pod}} {{state}}"),),
            ),
            Panel(
                "WAL archiving: seconds since last archival",
                (Query(f"max(cnpg_pg_stat_archiver_seconds_since_last_archival{{{ns}}})", "seconds"),),
                "s",
                kind="stat",
            ),
        ),
        ("postgres",),
    )
    redis_selector = ns  # only the Redis pods' exporter sidecars export redis_*
    redis = Dashboard(
        "teknofest-redis",
        "Redis",
        (
            Panel(
                "Hit rate",
                (
                    Query(
                        f"{_rate('redis_keyspace_hits_total', redis_selector)} / "
                        f"({_rate('redis_keyspace_hits_total', redis_selector)}"
                        f" + {_rate('redis_keyspace_misses_total', redis_selector)})",
                        "hit rate",
                    ),
                ),
                "percentunit",
            ),
            Panel(
                "Memory",
                (
                    Query(f"redis_memory_used_bytes{{{redis_selector}}}", "used {{pod}}"),
                    Query(f"redis_memory_max_bytes{{{redis_selector}}}", "max {{pod}}"),
                ),
                "bytes",
            ),
            Panel(
                "Replication",
                (
                    Query(f"redis_connected_slaves{{{redis_selector}}}", "replicas of {{pod}}"),
                    Query(f"redis_master_link_up{{{redis_selector}}}", "link up {{pod}}"),
                ),
            ),
            Panel("Role", (Query(f"redis_instance_info{{{redis_selector}}}", "{{pod}} {{role}}"),)),
            Panel("Clients", (Query(f"redis_connected_clients{{{redis_selector}}}", "{{pod}}"),)),
            Panel(
                "Commands and evictions",
                (
                    Query(_rate("redis_commands_processed_total", redis_selector), "commands/s"),
                    Query(_rate("redis_evicted_keys_total", redis_selector), "evictions/s"),
                ),
                "ops",
            ),
        ),
        ("redis",),
    )
    rabbitmq = Dashboard(
        "teknofest-rabbitmq",
        "RabbitMQ",
        (
            Panel(
                "Messages ready / unacked",
                (
                    Query(f"sum by (queue) (rabbitmq_detailed_queue_messages_ready{{{ns}}})", "ready {{queue}}"),
                    Query(f"sum by (queue) (rabbitmq_detailed_queue_messages_unacked{{{ns}}})", "unacked {{queue}}"),
                ),
            ),
            Panel("Consumers", (Query(f"sum by (queue) (rabbitmq_detailed_queue_consumers{{{ns}}})", "{{queue}}"),)),
            Panel(
                "Publish / deliver rate",
                (
                    Query(_rate("rabbitmq_global_messages_received_total", ns), "published"),
                    Query(_rate("rabbitmq_global_messages_delivered_total", ns), "delivered"),
                ),
                "ops",
            ),
            Panel("Connections", (Query(f"sum(rabbitmq_connections{{{ns}}})", "connections"),)),
            Panel(
                "Memory and alarms",
                (
                    Query(f"rabbitmq_process_resident_memory_bytes{{{ns}}}", "{{pod}}"),
                    Query(f"max(rabbitmq_alarms_memory_used_watermark{{{ns}}})", "memory alarm"),
                    Query(f"max(rabbitmq_alarms_free_disk_space_watermark{{{ns}}})", "disk alarm"),
                ),
            ),
        ),
        ("rabbitmq",),
    )
    haproxy = Dashboard(
        "teknofest-haproxy",
        "HAProxy",
        (
            Panel(
                "Frontend requests",
                (Query(_rate("haproxy_frontend_http_requests_total", f'{ns},proxy="public"'), "requests/s"),),
                "reqps",
            ),
            Panel(
                "Denied by rate limit (429)",
                (Query(_rate("haproxy_frontend_requests_denied_total", f'{ns},proxy="public"'), "denied/s"),),
                "reqps",
            ),
            Panel(
                "Backend responses by class",
                (Query(_rate("haproxy_backend_http_responses_total", api, "code"), "{{code}}"),),
                "reqps",
            ),
            Panel(
                "Backend response time (average)",
                (Query(f"avg(haproxy_backend_response_time_average_seconds{{{api}}})", "average"),),
                "s",
            ),
            Panel(
                "Servers up",
                (Query(f'count(haproxy_server_status{{{api},state="UP"}} == 1)', "up"),),
                kind="stat",
            ),
            Panel("Backend queue", (Query(f"sum(haproxy_backend_current_queue{{{api}}})", "queued"),)),
        ),
        ("haproxy",),
    )
    ai_queues = "|".join(sorted({q for name, p in platform.celery_pools.items() if name == "ai" for q in p.queues}))
    ai_selector = f'{ns},queue_name=~"{ai_queues or "ai"}"'
    ai = Dashboard(
        "teknofest-ai-inference",
        "AI inference",
        (
            Panel(
                "Inference time percentiles",
                tuple(
                    Query(_quantile(q, "celery_task_runtime", ai_selector), f"p{int(q * 100)}")
                    for q in (0.5, 0.95, 0.99)
                ),
                "s",
                description="Runtime of tasks on the ai pool's queues (celery-exporter's histogram).",
            ),
            Panel(
                "Inference time by task (p95)",
                (Query(_quantile(0.95, "celery_task_runtime", ai_selector, "name"), "{{name}}"),),
                "s",
            ),
            Panel(
                "Inference throughput",
                (Query(_rate("celery_task_succeeded_total", ai_selector, "name"), "{{name}}"),),
                "ops",
            ),
            Panel(
                "AI queue backlog",
                (Query(f"sum by (queue_name) (celery_queue_length{{{ai_selector}}})", "{{queue_name}}"),),
            ),
            Panel(
                "GPUs allocatable",
                (Query('sum(kube_node_status_allocatable{resource="nvidia_com_gpu"})', "GPUs"),),
                kind="stat",
            ),
        ),
        ("ai",),
    )
    monitoring = Dashboard(
        "teknofest-observability",
        "Logs and traces pipeline",
        (
            Panel(
                "Log lines shipped / failed",
                (
                    Query(_rate("otelcol_exporter_sent_log_records_total", mon, "exporter"), "sent {{exporter}}"),
                    Query(
                        _rate("otelcol_exporter_send_failed_log_records_total", mon, "exporter"),
                        "failed {{exporter}}",
                    ),
                ),
                "ops",
            ),
            Panel(
                "Spans received / exported",
                (
                    Query(_rate("otelcol_receiver_accepted_spans_total", mon, "job"), "accepted {{job}}"),
                    Query(_rate("otelcol_exporter_send_failed_spans_total", mon, "job"), "failed {{job}}"),
                ),
                "ops",
            ),
            Panel(
                "Loki ingestion",
                (Query(_rate("loki_distributor_lines_received_total", mon), "lines/s"),),
                "ops",
            ),
            Panel(
                "Loki request latency p99",
                (Query(_quantile(0.99, "loki_request_duration_seconds", mon, "route"), "{{route}}"),),
                "s",
            ),
        ),
        ("observability",),
    )
    return [overview, api_workers, celery, postgres, redis, rabbitmq, haproxy, ai, monitoring]


def dashboard_config_maps(platform: MonitoredPlatform) -> list[dict[str, Any]]:
    labels = {
        **lbl.standard_labels("grafana-dashboards", "monitoring", platform.environment),
        DASHBOARD_LABEL: "1",
    }
    return [
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": metadata(
                f"dashboard-{dashboard.uid}",
                platform.monitoring.namespace,
                labels,
                {FOLDER_ANNOTATION: FOLDER, lbl.RENDERED_CONFIG_ANNOTATION: "grafana_dashboards"},
            ),
            "data": {f"{dashboard.uid}.json": json.dumps(dashboard_json(dashboard), indent=2, sort_keys=True)},
        }
        for dashboard in platform_dashboards(platform)
    ]
