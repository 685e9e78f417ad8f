"""Alert and recording rules as data (pure): settings in, Prometheus rule groups out.

Every expression names series that an exporter this program deploys really exposes: HAProxy's
built-in exporter (names read off HAProxy 2.6, and checked again by tests/integration), the API's
/metrics (prometheus-fastapi-instrumentator's http_request_duration_seconds histogram: the
application's side of the contract), redis_exporter, CloudNativePG's instance and PgBouncer metrics,
rabbitmq_prometheus (/metrics and /metrics/detailed), kube-state-metrics and the kubelet, the Celery
exporter, Loki, the OpenTelemetry collectors and the Elasticsearch exporter. The list of what each one
exposes is components/monitoring/metric_catalogue.py; a test holds every expression to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from components.monitoring.platform import MonitoredPlatform

# Multi-window, multi-burn-rate alerting (Google SRE workbook, ch. 5): page when 2 % of a 30-day
# error budget burns in an hour, open a ticket when 10 % burns in six hours.
FAST_BURN = 14.4
SLOW_BURN = 6.0


@dataclass(frozen=True)
class Alert:
    name: str
    expr: str
    for_: str
    severity: str  # "critical" pages, "warning" opens a ticket, "none" only feeds other systems
    summary: str
    description: str


def _error_ratio(ns: str, window: str) -> str:
    return (
        f'sum(rate(haproxy_backend_http_responses_total{{namespace="{ns}",proxy="api",code="5xx"}}[{window}]))'
        f' / sum(rate(haproxy_backend_http_requests_total{{namespace="{ns}",proxy="api"}}[{window}]))'
    )


def recording_rules(platform: MonitoredPlatform) -> list[dict[str, str]]:
    ns = platform.namespace
    return [
        {"record": f"teknofest:api_error_ratio:rate{w}", "expr": _error_ratio(ns, w)} for w in ("5m", "30m", "1h", "6h")
    ]


def alert_groups(platform: MonitoredPlatform) -> dict[str, list[Alert]]:
    ns = platform.namespace
    m = platform.monitoring
    budget = round(1 - m.availability_slo, 6)
    redis_instances = 1 + platform.redis_replicas
    rabbit = platform.rabbitmq_replicas
    queue_limit = max(p.queue_length_target * p.max_replicas for p in platform.celery_pools.values())
    api = [
        Alert(
            "ApiErrorBudgetFastBurn",
            f"teknofest:api_error_ratio:rate1h > {FAST_BURN * budget} and teknofest:api_error_ratio:rate5m > {FAST_BURN * budget}",
            "2m",
            "critical",
            "The API is burning its error budget fast",
            f"5xx ratio over 1h and 5m is above {FAST_BURN} x the budget of the {m.availability_slo:.2%} SLO.",
        ),
        Alert(
            "ApiErrorBudgetSlowBurn",
            f"teknofest:api_error_ratio:rate6h > {SLOW_BURN * budget} and teknofest:api_error_ratio:rate30m > {SLOW_BURN * budget}",
            "15m",
            "warning",
            "The API is burning its error budget",
            f"5xx ratio over 6h and 30m is above {SLOW_BURN} x the budget of the {m.availability_slo:.2%} SLO.",
        ),
        *[
            Alert(
                f"ApiLatencyP{q}High",
                f'histogram_quantile(0.{q}, sum by (le) (rate(http_request_duration_seconds_bucket{{namespace="{ns}"}}[5m])))'
                f" > {limit}",
                "10m",
                "warning",
                f"API p{q} latency above {limit} s",
                f"The {q}th percentile of request duration has been above the {limit} s objective for 10 minutes.",
            )
            for q, limit in ((95, m.latency_p95_seconds), (99, m.latency_p99_seconds))
        ],
    ]
    load_balancer = [
        Alert(
            "ApiNoHealthyBackend",
            f'max by (namespace) (haproxy_backend_active_servers{{namespace="{ns}",proxy="api"}}) == 0',
            "1m",
            "critical",
            "No healthy API backend behind HAProxy",
            "Every API server of the load balancer is down: clients get 503.",
        ),
        Alert(
            "HaproxyServerDown",
            f'haproxy_server_status{{namespace="{ns}",proxy="api",state="DOWN"}} == 1',
            "5m",
            "warning",
            "An API pod is marked down by HAProxy",
            "{{ $labels.server }} failed its health checks or tripped the circuit breaker.",
        ),
        Alert(
            "HaproxyRateLimitSurge",
            f'sum(rate(haproxy_frontend_requests_denied_total{{namespace="{ns}",proxy="public"}}[5m])) > 50',
            "10m",
            "warning",
            "Many requests refused by the rate limit",
            "More than 50 requests/s are answered 429: an abusive client, or a limit too tight.",
        ),
    ]
    celery = [
        Alert(
            "CeleryQueueBacklog",
            f'sum by (queue) (rabbitmq_detailed_queue_messages_ready{{namespace="{ns}"}}) > {queue_limit}',
            "15m",
            "warning",
            "Celery queue {{ $labels.queue }} is backing up",
            "More messages wait than the pool at its maximum size is meant to hold.",
        ),
        Alert(
            "CeleryQueueWithoutConsumer",
            f'sum by (queue) (rabbitmq_detailed_queue_consumers{{namespace="{ns}"}}) == 0'
            f' and sum by (queue) (rabbitmq_detailed_queue_messages_ready{{namespace="{ns}"}}) > 0',
            "5m",
            "critical",
            "Celery queue {{ $labels.queue }} has no consumer",
            "Messages wait on a queue no worker consumes: they will never run.",
        ),
        Alert(
            "CeleryWorkersDown",
            f'kube_deployment_status_replicas_available{{namespace="{ns}",deployment=~"celery-.*"}} == 0',
            "5m",
            "critical",
            "No {{ $labels.deployment }} worker is available",
            "The pool has no available pod; its queue is not being processed.",
        ),
        Alert(
            "CeleryTaskFailureRateHigh",
            f'sum by (name) (rate(celery_task_failed_total{{namespace="{ns}"}}[10m]))'
            f' / (sum by (name) (rate(celery_task_succeeded_total{{namespace="{ns}"}}[10m]))'
            f' + sum by (name) (rate(celery_task_failed_total{{namespace="{ns}"}}[10m]))) > 0.05',
            "10m",
            "warning",
            "Task {{ $labels.name }} fails more than 5 % of the time",
            "Over the last 10 minutes more than one run in twenty of this task failed.",
        ),
        Alert(
            "CeleryExporterDown",
            f'up{{namespace="{ns}",job="celery-exporter"}} == 0'
            f' or absent(up{{namespace="{ns}",job="celery-exporter"}})',
            "10m",
            "warning",
            "Celery task metrics are not being collected",
            "The Celery exporter is not scraped: task failure alerts and dashboards are blind.",
        ),
    ]
    rabbitmq = [
        Alert(
            "RabbitmqUnackedMessagesHigh",
            f'sum by (queue) (rabbitmq_detailed_queue_messages_unacked{{namespace="{ns}"}}) > 1000',
            "15m",
            "warning",
            "Many unacknowledged messages on {{ $labels.queue }}",
            "Workers hold many messages without acknowledging them: stuck tasks or prefetch too high.",
        ),
        Alert(
            "RabbitmqResourceAlarm",
            f'max(rabbitmq_alarms_memory_used_watermark{{namespace="{ns}"}}) > 0'
            f' or max(rabbitmq_alarms_free_disk_space_watermark{{namespace="{ns}"}}) > 0',
            "1m",
            "critical",
            "RabbitMQ blocks publishers (memory or disk alarm)",
            "A node crossed its memory high watermark or free-disk limit; publishing is blocked.",
        ),
        Alert(
            "RabbitmqNodeMajorityLost",
            f'kube_statefulset_status_replicas_ready{{namespace="{ns}",statefulset="rabbitmq-server"}} < {rabbit // 2 + 1}',
            "2m",
            "critical",
            "RabbitMQ lost its node majority",
            "Fewer than a majority of nodes are ready: quorum queues are unavailable.",
        ),
    ]
    postgres = [
        Alert(
            "PostgresReplicationLagHigh",
            f'max by (pod) (cnpg_pg_replication_lag{{namespace="{ns}"}}) > 30',
            "5m",
            "warning",
            "Standby {{ $labels.pod }} lags more than 30 s",
            "A failover now would lose up to this much of recent writes (asynchronous standbys).",
        ),
        Alert(
            "PostgresWalArchivingFailing",
            f'max(cnpg_pg_stat_archiver_seconds_since_last_archival{{namespace="{ns}"}}) > 900',
            "5m",
            "critical",
            "WAL has not been archived for 15 minutes",
            "The recovery point objective (15 minutes) is no longer met.",
        ),
        Alert(
            "PostgresBackupTooOld",
            f'time() - max(cnpg_collector_last_available_backup_timestamp{{namespace="{ns}"}}) > 2 * 86400',
            "30m",
            "critical",
            "The last base backup is more than two days old",
            "The daily ScheduledBackup has not produced a backup: restores would replay too much WAL.",
        ),
        Alert(
            "PostgresConnectionsNearMax",
            f'sum(cnpg_backends_total{{namespace="{ns}"}}) / max(cnpg_pg_settings_setting{{namespace="{ns}",name="max_connections"}}) > 0.8',
            "10m",
            "warning",
            "PostgreSQL connections above 80 % of max_connections",
            "New connections will soon be refused.",
        ),
        Alert(
            "PgbouncerClientsWaiting",
            f'max by (pod) (cnpg_pgbouncer_pools_cl_waiting{{namespace="{ns}"}}) > 10',
            "5m",
            "warning",
            "Clients wait for a server connection on {{ $labels.pod }}",
            "The pooler is saturated: raise defaultPoolSize (within maxConnections) or find slow queries.",
        ),
    ]
    redis = [
        Alert(
            "RedisNoMaster",
            f'count(redis_instance_info{{namespace="{ns}",role="master"}}) == 0 or absent(redis_instance_info{{namespace="{ns}",role="master"}})',
            "1m",
            "critical",
            "Redis has no master",
            "No Redis instance reports the master role: writes fail until Sentinel promotes one.",
        ),
        Alert(
            "RedisMultipleMasters",
            f'count(redis_instance_info{{namespace="{ns}",role="master"}}) > 1',
            "2m",
            "critical",
            "More than one Redis master",
            "Split brain: two instances accept writes. One will lose its writes when Sentinel resolves it.",
        ),
        Alert(
            "RedisReplicationBroken",
            f'redis_master_link_up{{namespace="{ns}"}} == 0',
            "2m",
            "warning",
            "Replica {{ $labels.pod }} lost its master link",
            "The replica no longer receives writes; it cannot be promoted safely.",
        ),
        Alert(
            "RedisMemoryNearMax",
            f'redis_memory_used_bytes{{namespace="{ns}"}} / redis_memory_max_bytes{{namespace="{ns}"}} > 0.9',
            "10m",
            "warning",
            "Redis memory above 90 % of maxmemory",
            "Keys are being evicted (or writes refused under noeviction).",
        ),
        Alert(
            "RedisSentinelQuorumLost",
            f'kube_statefulset_status_replicas_ready{{namespace="{ns}",statefulset="redis-sentinel"}} < {platform.redis_quorum}',
            "2m",
            "critical",
            "Too few Sentinels for a failover",
            f"Fewer than {platform.redis_quorum} Sentinels are ready: a failed master would not be replaced.",
        ),
        Alert(
            "RedisInstancesMissing",
            f'kube_statefulset_status_replicas_ready{{namespace="{ns}",statefulset="redis"}} < {redis_instances}',
            "10m",
            "warning",
            "A Redis instance is not ready",
            "One of the master or replicas is down: one more failure loses redundancy.",
        ),
    ]
    kubernetes = [
        Alert(
            "PodCrashLooping",
            f'max by (pod, container) (kube_pod_container_status_waiting_reason{{namespace="{ns}",reason="CrashLoopBackOff"}}) == 1',
            "10m",
            "warning",
            "{{ $labels.pod }} is crash-looping",
            "Container {{ $labels.container }} restarts repeatedly.",
        ),
        Alert(
            "PersistentVolumeAlmostFull",
            f'kubelet_volume_stats_available_bytes{{namespace="{ns}"}} / kubelet_volume_stats_capacity_bytes{{namespace="{ns}"}} < 0.1',
            "10m",
            "warning",
            "Volume {{ $labels.persistentvolumeclaim }} is over 90 % full",
            "Grow the volume before the database, broker or cache stops writing.",
        ),
    ]
    if any(pool.gpu.enabled for pool in platform.celery_pools.values()):
        kubernetes.append(
            Alert(
                "GpuNodePoolEmpty",
                'sum(kube_node_status_allocatable{resource="nvidia_com_gpu"}) == 0'
                ' or absent(kube_node_status_allocatable{resource="nvidia_com_gpu"})',
                "10m",
                "critical",
                "No GPU is allocatable in the cluster",
                "The ai pool cannot be scheduled: AI tasks wait in their queue.",
            )
        )
    self_health = [
        Alert(
            "Watchdog",
            "vector(1)",
            "0m",
            "none",
            "Alerting pipeline heartbeat",
            "Always firing. A dead man's switch outside the cluster pages when it stops arriving.",
        ),
        Alert(
            "PrometheusNotificationsFailing",
            "rate(prometheus_notifications_errors_total[5m]) > 0",
            "10m",
            "critical",
            "Prometheus cannot deliver alerts to Alertmanager",
            "Alerts are evaluated but not delivered.",
        ),
        Alert(
            "AlertmanagerNotificationsFailing",
            "rate(alertmanager_notifications_failed_total[5m]) > 0",
            "10m",
            "critical",
            "Alertmanager fails to send notifications",
            "Integration {{ $labels.integration }} is failing: alerts do not reach people.",
        ),
    ]
    mon = m.namespace
    observability = [
        Alert(
            "LokiDown",
            f'up{{namespace="{mon}",job="loki"}} == 0 or absent(up{{namespace="{mon}",job="loki"}})',
            "5m",
            "critical",
            "Loki is down",
            "Logs are not being stored or served; the shippers queue them on the nodes meanwhile.",
        ),
        Alert(
            "LokiRequestErrors",
            f'sum(rate(loki_request_duration_seconds_count{{namespace="{mon}",status_code=~"5.."}}[5m]))'
            f' / sum(rate(loki_request_duration_seconds_count{{namespace="{mon}"}}[5m])) > 0.05',
            "10m",
            "warning",
            "Loki answers more than 5 % of requests with an error",
            "Pushes or queries fail: look at Loki's logs and its volume.",
        ),
        Alert(
            "LogShippingFailing",
            f'sum by (exporter) (rate(otelcol_exporter_send_failed_log_records_total{{namespace="{mon}"}}[5m])) > 0',
            "15m",
            "warning",
            "Log records fail to reach {{ $labels.exporter }}",
            "The log shipper cannot deliver to Loki or Elasticsearch; its file queue grows on every node.",
        ),
        Alert(
            "TraceExportFailing",
            f'sum(rate(otelcol_exporter_send_failed_spans_total{{namespace="{mon}",job="otel-collector"}}[5m])) > 0',
            "15m",
            "warning",
            "The collector gateway cannot deliver spans to Jaeger",
            "Traces are dropped once the gateway's sending queue is full.",
        ),
    ]
    if m.elasticsearch.enabled:
        observability += [
            Alert(
                "ElasticsearchClusterRed",
                f'elasticsearch_cluster_health_status{{namespace="{mon}",color="red"}} == 1',
                "5m",
                "critical",
                "Elasticsearch cluster health is red",
                "Some primary shards are unassigned: log and trace writes to them fail.",
            ),
            # One node has nowhere to put a replica: indices with replicas are yellow for good there.
            *(
                [
                    Alert(
                        "ElasticsearchClusterYellow",
                        f'elasticsearch_cluster_health_status{{namespace="{mon}",color="yellow"}} == 1',
                        "30m",
                        "warning",
                        "Elasticsearch cluster health is yellow",
                        "Replica shards are unassigned: one more node loss may lose data.",
                    )
                ]
                if m.elasticsearch.nodes > 1
                else []
            ),
            Alert(
                "ElasticsearchDiskAlmostFull",
                f'elasticsearch_filesystem_data_available_bytes{{namespace="{mon}"}}'
                f' / elasticsearch_filesystem_data_size_bytes{{namespace="{mon}"}} < 0.15',
                "15m",
                "warning",
                "An Elasticsearch data volume is over 85 % full",
                "Above the high watermark Elasticsearch stops allocating shards to the node.",
            ),
        ]
    self_health.append(
        Alert(
            "PrometheusRuleEvaluationFailures",
            "sum(rate(prometheus_rule_evaluation_failures_total[5m])) > 0",
            "10m",
            "critical",
            "Prometheus fails to evaluate rules",
            "Some alerts cannot fire: see the rule's error on Prometheus' Rules page.",
        )
    )
    return {
        "api": api,
        "load-balancer": load_balancer,
        "celery": celery,
        "rabbitmq": rabbitmq,
        "postgres": postgres,
        "redis": redis,
        "kubernetes": kubernetes,
        "self-health": self_health,
        "observability": observability,
    }


def rule_groups(platform: MonitoredPlatform) -> list[dict[str, Any]]:
    """The `groups` of a Prometheus rule file, and of the PrometheusRule CR's spec."""
    base = platform.monitoring.runbook_base_url.rstrip("/")
    groups: list[dict[str, Any]] = [{"name": "teknofest.recording", "rules": recording_rules(platform)}]
    for area, alerts in alert_groups(platform).items():
        rules = []
        for alert in alerts:
            if not platform.kubernetes and "kube_" in alert.expr:
                continue  # kube-state-metrics runs on Kubernetes only
            rule: dict[str, Any] = {
                "alert": alert.name,
                "expr": alert.expr,
                "labels": {"severity": alert.severity, "area": area},
                "annotations": {
                    "summary": alert.summary,
                    "description": alert.description,
                    # A section of docs/runbooks/<area>.md (tests/unit/test_runbooks.py).
                    "runbook_url": f"{base}/{area}.md#{alert.name.lower()}",
                },
            }
            if alert.for_ != "0m":
                rule["for"] = alert.for_
            rules.append(rule)
        groups.append({"name": f"teknofest.{area}", "rules": rules})
    return groups
