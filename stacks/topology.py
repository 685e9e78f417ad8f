"""Who talks to whom, on which port and protocol: one table for the whole platform (pure).

The composition takes each backing service's clients from this table (so its NetworkPolicies admit
them), and the checks hold the rendered NetworkPolicies (stacks/reachability.py) and the identities'
grants (stacks/grants_check.py) to it: a pool added to the settings is a client everywhere at once.

Rows for application pools follow from what each pool is given: a pool that gets DATABASE_URL talks
to the read-write pooler, one that gets REDIS_SENTINELS to the Sentinels, and so on. The rows inside a
capability (replication, gossip, operators, scrapes) state what its software does.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from components.common import labels as lbl
from components.load_balancer.manifests import PEER_PORT, PublicRoute
from components.monitoring import elastic, jaeger, loki, otel, retention
from components.monitoring.celery_exporter import NAME as CELERY_EXPORTER
from components.monitoring.stack_values import ALERTMANAGER_GOSSIP_PORT, ALERTMANAGER_PORT, PROMETHEUS_PORT
from components.postgres.manifests import OPERATOR_NAMESPACE as CNPG_NAMESPACE
from components.rabbitmq.manifests import AMQP_PORT, MANAGEMENT_PORT
from components.rabbitmq.manifests import OPERATOR_NAMESPACE as RABBITMQ_OPERATOR_NAMESPACE
from components.worker_pool.manifests import WorkerPoolSpec
from stacks.instances import LOAD_BALANCER, POSTGRES, RABBITMQ, REDIS
from stacks.settings import PlatformSettings

ECK_OPERATOR_NAMESPACE = "elastic-system"
# Erlang's port mapper, the inter-node distribution port and the CLI tools' port.
RABBITMQ_CLUSTER_PORTS = (4369, 25672, 35672)


@dataclass(frozen=True)
class Peer:
    """Pods of a namespace with these labels (empty: any pod there), or, without a namespace, an
    address outside the cluster's pod network."""

    name: str
    namespace: str | None
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Talk:
    client: Peer
    server: Peer
    port: int
    protocol: str = "TCP"
    why: str = ""


def prometheus_peer(settings: PlatformSettings) -> Peer:
    """The Prometheus servers of kube-prometheus-stack, which scrape every monitor's targets."""
    return Peer("prometheus", settings.monitoring.namespace, {"app.kubernetes.io/name": "prometheus"})


def _pods(name: str, namespace: str, labels: Mapping[str, str] | None = None) -> Peer:
    return Peer(name, namespace, dict(labels) if labels is not None else lbl.selector_labels(name))


def _env_names(pool: WorkerPoolSpec) -> set[str]:
    return {name for name, _ in pool.env} | {env.name for env in pool.secret_env}


def platform_talks(
    settings: PlatformSettings,
    app_pools: Sequence[WorkerPoolSpec],
    flower: WorkerPoolSpec | None,
    routes: Sequence[PublicRoute] = (),
) -> list[Talk]:
    """Every pair that talks, in a stable order (the order clients appear in NetworkPolicies)."""
    ns = settings.namespace
    mon = settings.monitoring.namespace
    monitoring = settings.monitoring.enabled
    talks: list[Talk] = []
    add = talks.append

    lb = _pods(LOAD_BALANCER, ns)
    rw, ro = (
        _pods(POSTGRES.pooler("rw"), ns, {"cnpg.io/poolerName": POSTGRES.pooler("rw")}),
        _pods(POSTGRES.pooler("ro"), ns, {"cnpg.io/poolerName": POSTGRES.pooler("ro")}),
    )
    instances = _pods(POSTGRES.cluster, ns, {"cnpg.io/cluster": POSTGRES.cluster})
    redis_master, redis, sentinel = _pods(REDIS.master_proxy, ns), _pods(REDIS.redis, ns), _pods(REDIS.sentinel, ns)
    broker = _pods(RABBITMQ.cluster, ns, {"app.kubernetes.io/name": RABBITMQ.cluster})
    gateway = _pods(otel.GATEWAY, mon)
    prometheus = prometheus_peer(settings)
    outside = Peer("internet", None)

    # The edge: the public, its API pods, its peers, the UIs it publishes.
    api = next((pool for pool in app_pools if pool.http_port is not None), None)
    for port in (8080, 8443) if settings.tls.enabled else (8080,):
        add(Talk(outside, lb, port, why="clients reach the platform only through the load balancer"))
    if api is not None and api.http_port is not None:
        add(Talk(lb, _pods(api.name, ns, api.selector), api.http_port, why="requests to the API"))
    add(Talk(lb, lb, PEER_PORT, why="stick-table (rate limit) replication between replicas"))
    for route in routes:
        add(Talk(lb, Peer(route.key, route.namespace, route.pod_selector), route.pod_port, why=f"{route.key} UI"))

    # Application pools and what they are given.
    for pool in (*app_pools, *([flower] if flower else [])):
        client = _pods(pool.name, ns, pool.selector)
        env = _env_names(pool)
        if "DATABASE_URL" in env:
            add(Talk(client, rw, 5432, why="DATABASE_URL through the read-write pooler"))
        if "DATABASE_READ_ONLY_URL" in env:
            add(Talk(client, ro, 5432, why="DATABASE_READ_ONLY_URL through the read-only pooler"))
        if "REDIS_URL" in env or "CELERY_RESULT_BACKEND" in env:
            add(Talk(client, redis_master, 6379, why="REDIS_URL and the result backend through redis-master"))
        if "REDIS_SENTINELS" in env:
            add(Talk(client, sentinel, 26379, why="Sentinel-aware clients ask for the master"))
        if "CELERY_BROKER_URL" in env:
            add(Talk(client, broker, AMQP_PORT, why="the Celery broker (AMQP)"))
        if "OTEL_EXPORTER_OTLP_ENDPOINT" in env:
            for port in (otel.OTLP_GRPC_PORT, otel.OTLP_HTTP_PORT):
                add(Talk(client, gateway, port, why="traces to the collector gateway"))
    if monitoring:
        exporter = _pods(CELERY_EXPORTER, ns)
        add(Talk(exporter, broker, AMQP_PORT, why="the Celery exporter reads task events"))

    # PostgreSQL (CloudNativePG).
    for pooler in (rw, ro):
        add(Talk(pooler, instances, 5432, why="PgBouncer's server connections"))
    add(Talk(instances, instances, 5432, why="streaming replication"))
    add(Talk(Peer("cnpg-operator", CNPG_NAMESPACE), instances, 8000, why="the operator's instance status"))
    if settings.backups.destination_path:
        add(Talk(instances, Peer("object store", None), 443, why="WAL archiving and base backups"))

    # Redis with Sentinel.
    add(Talk(redis_master, redis, 6379, why="the redis-master endpoint checks and proxies"))
    add(Talk(redis, redis, 6379, why="replication"))
    add(Talk(redis, sentinel, 26379, why="the start-up script asks the Sentinels for the master"))
    add(Talk(sentinel, redis, 6379, why="Sentinel monitors every Redis"))
    add(Talk(sentinel, sentinel, 26379, why="Sentinels gossip and vote"))

    # RabbitMQ.
    for port in RABBITMQ_CLUSTER_PORTS:
        add(Talk(broker, broker, port, why="clustering (epmd, distribution, CLI)"))
    add(Talk(Peer("rabbitmq-operator", RABBITMQ_OPERATOR_NAMESPACE), broker, MANAGEMENT_PORT, why="the operator"))
    if settings.api.autoscaling.engine == "keda":
        keda = Peer("keda", settings.kubernetes.keda_namespace)
        add(Talk(keda, broker, AMQP_PORT, why="queue lengths for the workers' ScaledObjects"))
        if monitoring:
            add(Talk(keda, prometheus, PROMETHEUS_PORT, why="the API's request rate"))

    if monitoring:
        talks += _monitoring_talks(settings, prometheus, gateway)
    return talks


def _monitoring_talks(settings: PlatformSettings, prometheus: Peer, gateway: Peer) -> list[Talk]:
    mon = settings.monitoring.namespace
    m = settings.monitoring
    grafana = Peer("grafana", mon, {"app.kubernetes.io/name": "grafana"})
    alertmanager = Peer("alertmanager", mon, {"app.kubernetes.io/name": "alertmanager"})
    loki_pods, jaeger_pods, shipper = _pods(loki.NAME, mon), _pods(jaeger.NAME, mon), _pods(otel.AGENT, mon)
    talks = [
        Talk(prometheus, alertmanager, ALERTMANAGER_PORT, why="alerts"),
        Talk(alertmanager, alertmanager, ALERTMANAGER_GOSSIP_PORT, "TCP", "cluster gossip (memberlist)"),
        Talk(alertmanager, alertmanager, ALERTMANAGER_GOSSIP_PORT, "UDP", "cluster gossip probes (memberlist)"),
        Talk(grafana, prometheus, PROMETHEUS_PORT, why="the Prometheus datasource"),
        Talk(grafana, alertmanager, ALERTMANAGER_PORT, why="the Alertmanager datasource"),
        Talk(grafana, loki_pods, loki.HTTP_PORT, why="the Loki datasource"),
        Talk(grafana, jaeger_pods, jaeger.UI_PORT, why="the Jaeger datasource"),
        Talk(shipper, loki_pods, loki.HTTP_PORT, why="logs (OTLP)"),
        Talk(gateway, jaeger_pods, jaeger.OTLP_GRPC_PORT, why="spans"),
    ]
    if m.elasticsearch.enabled:
        es = Peer(elastic.NAME, mon, elastic.ES_PODS)
        kibana = Peer(elastic.KIBANA, mon, elastic.KIBANA_PODS)
        eck = Peer("eck-operator", ECK_OPERATOR_NAMESPACE)
        clients = [shipper, grafana, _pods(elastic.EXPORTER, mon), _pods(retention.NAME, mon), kibana, eck]
        if m.tracing.storage == "elasticsearch":
            clients.append(jaeger_pods)
        talks += [Talk(client, es, 9200, why="the Elasticsearch HTTP API") for client in clients]
        talks += [
            Talk(es, es, 9300, why="node-to-node transport"),
            Talk(eck, kibana, elastic.KIBANA_PORT, why="the operator checks Kibana"),
        ]
    return talks


def clients_of(talks: Iterable[Talk], servers: Iterable[str], namespace: str) -> tuple[tuple[str, dict[str, str]], ...]:
    """(name, pod labels) of the clients in `namespace` that talk to any of `servers`, first seen first."""
    wanted = set(servers)
    found: dict[str, dict[str, str]] = {}
    for talk in talks:
        client = talk.client
        if talk.server.name in wanted and client.namespace == namespace and client.name not in wanted:
            found.setdefault(client.name, dict(client.labels))
    return tuple(found.items())
