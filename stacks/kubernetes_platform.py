"""Composition of the Kubernetes target: settings in, components wired, stack outputs out."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from components.cluster_addons.kubernetes import ClusterAddons
from components.common.kubernetes.capacity import requested_totals
from components.common.kubernetes.manifests import secret_manifest
from components.common.kubernetes.resources import CrdInstallers, create
from components.load_balancer.kubernetes import CertManagerRef, LoadBalancer, LoadBalancerArgs
from components.load_balancer.manifests import STATS_SERVICE, LoadBalancerSpec, PublicRoute, load_balancer_manifests
from components.monitoring import access
from components.monitoring.capacity import monitoring_requested
from components.monitoring.elastic import SUPERUSER_SECRET
from components.monitoring.kubernetes import MonitoringStack, MonitoringStackArgs
from components.monitoring.otel import GATEWAY, application_env
from components.namespace.kubernetes import PlatformNamespace, PlatformNamespaceArgs
from components.postgres.kubernetes import PostgresCluster, PostgresClusterArgs
from components.postgres.manifests import PostgresSpec
from components.rabbitmq.kubernetes import RabbitmqBroker, RabbitmqBrokerArgs
from components.rabbitmq.manifests import RabbitmqSpec
from components.redis.kubernetes import RedisCluster, RedisClusterArgs
from components.redis.manifests import RedisSpec, redis_manifests
from components.worker_pool.celery import priority_classes
from components.worker_pool.commands import FLOWER_PORT
from components.worker_pool.kubernetes import WorkerPool, WorkerPoolArgs
from components.worker_pool.manifests import WorkerPoolSpec, pool_manifests
from stacks.cluster_addons import cluster_addons_args
from stacks.instances import POSTGRES, RABBITMQ, REDIS
from stacks.pools import (
    API_NAME,
    API_SECRET,
    BROKER_SECRET,
    FLOWER_SECRET,
    api_pool_spec,
    beat_spec,
    celery_pool_spec,
    flower_spec,
    monitoring_namespace,
)
from stacks.settings import PlatformSettings
from stacks.topology import Talk, clients_of, platform_talks


def public_routes(settings: PlatformSettings) -> tuple[PublicRoute, ...]:
    """The monitoring UIs with a public host, served through the load balancer."""
    if not settings.monitoring.enabled:
        return ()
    return tuple(
        PublicRoute(
            key=ui.key,
            host=host,
            namespace=settings.monitoring.namespace,
            service=ui.service,
            service_port=ui.port,
            pod_selector=ui.pod_selector,
            pod_port=ui.pod_port,
            tls_backend=ui.https_backend,
            needs_auth=ui.needs_auth,
        )
        for ui in access.deployed_uis(settings)
        if (host := access.access_of(settings, ui).host)
    )


def load_balancer_spec(settings: PlatformSettings, api: WorkerPoolSpec) -> LoadBalancerSpec:
    if api.http_port is None or api.probes is None:
        raise ValueError(f"pool {api.name!r} serves no HTTP: the load balancer needs a port and probes")
    return LoadBalancerSpec(
        settings=settings.load_balancer,
        namespace=settings.namespace,
        environment=settings.environment,
        image=settings.images.haproxy,
        cluster_domain=settings.kubernetes.cluster_domain,
        api_headless_service=api.headless_service_name,
        api_port=api.http_port,
        api_max_servers=api.max_replicas,
        api_ready_path=api.probes.ready_path,
        api_selector=api.selector,
        public_host=settings.domains.api,
        tls_secret_name=settings.tls.secret_name if settings.tls.enabled else None,
        monitoring_namespace=settings.monitoring.namespace if settings.monitoring.enabled else None,
        require_distinct_nodes=settings.environment == "production",
        ui_routes=public_routes(settings),
    )


def redis_spec(settings: PlatformSettings, clients: tuple[tuple[str, dict[str, str]], ...]) -> RedisSpec:
    return RedisSpec(
        settings=settings.redis,
        namespace=settings.namespace,
        environment=settings.environment,
        image=settings.images.redis,
        exporter_image=settings.images.redis_exporter,
        proxy_image=settings.images.haproxy,
        clients=clients,
        cluster_domain=settings.kubernetes.cluster_domain,
        monitoring_namespace=monitoring_namespace(settings),
        name=REDIS.instance,
    )


def postgres_spec(settings: PlatformSettings, clients: tuple[tuple[str, dict[str, str]], ...]) -> PostgresSpec:
    return PostgresSpec(
        settings=settings.postgres,
        backups=settings.backups,
        namespace=settings.namespace,
        environment=settings.environment,
        image=settings.images.postgres,
        clients=clients,
        monitoring_namespace=monitoring_namespace(settings),
        name=POSTGRES.instance,
    )


def rabbitmq_spec(settings: PlatformSettings, clients: tuple[tuple[str, dict[str, str]], ...]) -> RabbitmqSpec:
    return RabbitmqSpec(
        settings=settings.rabbitmq,
        namespace=settings.namespace,
        environment=settings.environment,
        image=settings.images.rabbitmq,
        clients=clients,
        keda_namespace=settings.kubernetes.keda_namespace,
        keda_trigger_authentication=settings.api.autoscaling.engine == "keda",
        monitoring_namespace=monitoring_namespace(settings),
        name=RABBITMQ.instance,
    )


@dataclass(frozen=True)
class PlatformSpecs:
    """Every component's spec, derived once from the settings (pure)."""

    api: WorkerPoolSpec
    load_balancer: LoadBalancerSpec
    redis: RedisSpec
    postgres: PostgresSpec
    rabbitmq: RabbitmqSpec
    celery_pools: tuple[WorkerPoolSpec, ...]
    beat: WorkerPoolSpec | None
    flower: WorkerPoolSpec | None
    # Who talks to whom (stacks/topology.py), the source of every client list above.
    talks: tuple[Talk, ...] = ()

    @property
    def workers(self) -> tuple[WorkerPoolSpec, ...]:
        return (*self.celery_pools, *([self.beat] if self.beat else []))

    @property
    def pools(self) -> tuple[WorkerPoolSpec, ...]:
        return (self.api, *self.workers, *([self.flower] if self.flower else []))


def with_tracing(settings: PlatformSettings, pool: WorkerPoolSpec) -> WorkerPoolSpec:
    """The OpenTelemetry SDK settings pointing at the collector gateway; a pool's own env wins."""
    if not settings.monitoring.enabled:
        return pool
    env = {**application_env(settings, pool.name), **dict(pool.env)}
    return replace(pool, env=tuple(sorted(env.items())))


def platform_specs(settings: PlatformSettings) -> PlatformSpecs:
    api = with_tracing(settings, api_pool_spec(settings))
    celery = settings.celery
    pools = tuple(
        with_tracing(settings, celery_pool_spec(settings, name, pool)) for name, pool in sorted(celery.pools.items())
    )
    beat = with_tracing(settings, beat_spec(settings)) if celery.beat else None
    flower = flower_spec(settings) if celery.flower else None
    # Who talks to what, from what each pool is given: the backing services admit exactly those.
    talks = platform_talks(settings, (api, *pools, *([beat] if beat else [])), flower, public_routes(settings))
    ns = settings.namespace
    return PlatformSpecs(
        api=api,
        load_balancer=load_balancer_spec(settings, api),
        redis=redis_spec(settings, clients_of(talks, (REDIS.master_proxy,), ns)),
        postgres=postgres_spec(settings, clients_of(talks, (POSTGRES.pooler("rw"), POSTGRES.pooler("ro")), ns)),
        rabbitmq=rabbitmq_spec(settings, clients_of(talks, (RABBITMQ.cluster,), ns)),
        celery_pools=pools,
        beat=beat,
        flower=flower,
        talks=tuple(talks),
    )


def requested(settings: PlatformSettings, specs: PlatformSpecs) -> dict[str, dict[str, Any]]:
    """CPU cores, memory GiB and GPUs requested, with the autoscaled pools at their bounds."""
    manifests = [
        *[m for pool in specs.pools for m in pool_manifests(pool)],
        *load_balancer_manifests(specs.load_balancer),
        *redis_manifests(specs.redis),
    ]
    gpu = settings.api.gpu.resource_name
    autoscaled = [pool for pool in specs.pools if pool.replicas is None]
    return {
        "atMinimum": requested_totals(manifests, {p.name: p.min_replicas for p in autoscaled}, gpu),
        "atMaximum": requested_totals(manifests, {p.name: p.max_replicas for p in autoscaled}, gpu),
        **({"monitoring": monitoring_requested(settings)} if settings.monitoring.enabled else {}),
    }


def build_kubernetes_platform(settings: PlatformSettings) -> dict[str, Any]:
    """Register every resource of the stack; return the stack outputs."""
    specs = platform_specs(settings)
    provider = k8s.Provider("kubernetes", context=settings.kubernetes.context)
    with_provider = pulumi.ResourceOptions(providers=[provider])
    namespace = PlatformNamespace(
        "namespace",
        PlatformNamespaceArgs(settings.namespace, settings.environment, settings.network_policies),
        with_provider,
    )
    in_namespace = pulumi.ResourceOptions(providers=[provider], depends_on=[namespace])
    # Cluster-wide releases first: every custom resource below waits for the one installing its CRD.
    addons = ClusterAddons("cluster-addons", cluster_addons_args(settings), with_provider)
    crds: CrdInstallers = addons.crds
    monitoring: MonitoringStack | None = None
    if settings.monitoring.enabled:
        monitoring = MonitoringStack(
            "monitoring",
            MonitoringStackArgs(
                settings,
                broker_secret=BROKER_SECRET,
                trace_clients=clients_of(specs.talks, (GATEWAY,), settings.namespace),
                crds=crds,
                edge=access.Edge(settings.namespace, specs.load_balancer.selector),
            ),
            # Not after the broker: the Celery exporter's pod simply waits for the broker's Secret,
            # while the broker's own ServiceMonitor waits for this stack's Prometheus Operator.
            pulumi.ResourceOptions(providers=[provider], depends_on=[namespace]),
        )
        crds = crds + monitoring.crds

    api_spec = specs.api
    secret_key = random.RandomPassword("api-secret-key", length=64, special=False)
    api_secret = create(
        secret_manifest(
            API_SECRET, settings.namespace, api_spec.labels, {"secret-key": pulumi.Output.secret(secret_key.result)}
        ),
        in_namespace,
    )
    redis = RedisCluster(REDIS.instance, RedisClusterArgs(specs.redis, crds), in_namespace)
    postgres = PostgresCluster(POSTGRES.instance, PostgresClusterArgs(specs.postgres, crds), in_namespace)
    broker = RabbitmqBroker(RABBITMQ.instance, RabbitmqBrokerArgs(specs.rabbitmq, crds), in_namespace)
    backing = [namespace, api_secret, redis, postgres, broker]
    api = WorkerPool(
        API_NAME,
        WorkerPoolArgs(api_spec, crds),
        pulumi.ResourceOptions(providers=[provider], depends_on=backing),
    )
    for manifest in priority_classes(settings.environment):
        create(manifest, with_provider)
    for worker in specs.workers:
        WorkerPool(
            worker.name,
            WorkerPoolArgs(worker, crds),
            pulumi.ResourceOptions(providers=[provider], depends_on=backing),
        )
    flower_password: pulumi.Output[str] | None = None
    if specs.flower is not None:
        password = random.RandomPassword("flower-password", length=32, special=False)
        flower_password = pulumi.Output.secret(password.result)
        flower_secret = create(
            secret_manifest(
                FLOWER_SECRET,
                settings.namespace,
                specs.flower.labels,
                {"basic-auth": pulumi.Output.secret(password.result.apply(lambda pw: f"admin:{pw}"))},
            ),
            in_namespace,
        )
        WorkerPool(
            specs.flower.name,
            WorkerPoolArgs(specs.flower, crds),
            pulumi.ResourceOptions(providers=[provider], depends_on=[*backing, flower_secret]),
        )
    issuer = settings.tls.cert_manager_issuer
    lb = LoadBalancer(
        "load-balancer",
        LoadBalancerArgs(
            specs.load_balancer,
            CertManagerRef(issuer.kind, issuer.name) if issuer and settings.tls.enabled else None,
            crds,
        ),
        pulumi.ResourceOptions(providers=[provider], depends_on=[namespace, api]),
    )
    scheme = "https" if settings.tls.enabled else "http"
    ns = settings.namespace
    return {
        "environment": settings.environment,
        "namespace": namespace.name,
        "endpoints": {
            "loadBalancer": f"{scheme}://{settings.domains.api}",
            "loadBalancerService": f"{ns}/{lb.service_name}",
            "haproxyStats": "http://127.0.0.1:8404/stats",
            "haproxyStatsPortForward": f"kubectl -n {ns} port-forward svc/{STATS_SERVICE} 8404:8404",
            "haproxyMetrics": f"http://{STATS_SERVICE}.{ns}.svc:8404/metrics",
            "apiService": f"http://{api.service_name}.{ns}.svc:{settings.api.port}",
            "postgresPoolerRw": postgres.rw_endpoint,
            "postgresPoolerRo": postgres.ro_endpoint,
            "postgresRw": f"postgres-rw.{ns}.svc:5432",
            "postgresRo": f"postgres-ro.{ns}.svc:5432",
            "redisMaster": f"redis://{redis.master_endpoint}",
            "rabbitmqAmqp": f"amqp://{broker.amqp_endpoint}",
            "rabbitmqManagement": broker.management_endpoint,
            "rabbitmqManagementPortForward": f"kubectl -n {ns} port-forward svc/rabbitmq 15672:15672",
            "flowerPortForward": f"kubectl -n {ns} port-forward svc/flower {FLOWER_PORT}:{FLOWER_PORT}"
            if specs.flower
            else None,
            "redisSentinel": redis.sentinel_endpoint,
        },
        # Grafana, Prometheus, Alertmanager, Kibana, Jaeger: URL, and the port-forward line without a host.
        "monitoring": monitoring.endpoints if monitoring else None,
        "grafanaDashboards": monitoring.dashboards if monitoring else None,
        "monitoringCredentials": {
            "grafana": {"username": "admin", "password": monitoring.grafana_password},
            # ECK generates Kibana's superuser; the command reads it from the cluster.
            **(
                {
                    "kibana": {
                        "username": "elastic",
                        "passwordCommand": f"kubectl -n {settings.monitoring.namespace} get secret "
                        f"{SUPERUSER_SECRET} -o jsonpath='{{.data.elastic}}' | base64 -d",
                    }
                }
                if settings.monitoring.elasticsearch.enabled
                else {}
            ),
            **{ui: {"username": "admin", "password": pw} for ui, pw in sorted(lb.ui_passwords.items())},
        }
        if monitoring
        else None,
        "postgres": {"url": postgres.url, "clientSecret": f"{ns}/{postgres.client_secret_name}"},
        "redis": {
            "masterName": redis.master_name,
            "url": redis.url,
            "clientSecret": f"{ns}/{redis.client_secret_name}",
        },
        "haproxyStatsCredentials": {"username": "admin", "password": lb.stats_password},
        "rabbitmq": {"url": broker.url, "clientSecret": f"{ns}/{broker.client_secret_name}"},
        "flowerCredentials": {"username": "admin", "password": flower_password} if flower_password else None,
        "pools": {
            "api": {
                "minReplicas": settings.api.min_replicas,
                "maxReplicas": settings.api.max_replicas,
                "autoscaler": settings.api.autoscaling.engine,
            },
            "loadBalancer": {"replicas": settings.load_balancer.replicas},
            "redis": {"instances": 1 + settings.redis.replicas, "sentinels": settings.redis.sentinels},
            "postgres": {
                "instances": settings.postgres.instances,
                "poolerInstances": settings.postgres.pooler_instances,
            },
            "rabbitmq": {"replicas": settings.rabbitmq.replicas},
            **{
                pool.name: {
                    "minReplicas": pool.min_replicas,
                    "maxReplicas": pool.max_replicas,
                    "queues": [queue for queue, _ in pool.queue_triggers],
                    "gpus": pool.gpu.count if pool.gpu.enabled else 0,
                }
                for pool in specs.celery_pools
            },
        },
        "requested": requested(settings, specs),
        "images": {
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
        },
    }
