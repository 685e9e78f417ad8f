"""The Kubernetes target's component specs, derived once from the settings (pure): every pool, the
load balancer and the backing services, with their clients from the table of who talks to whom."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from components.common.kubernetes.capacity import requested_totals
from components.load_balancer.manifests import LoadBalancerSpec, PublicRoute, load_balancer_manifests
from components.monitoring import access
from components.monitoring.capacity import monitoring_requested
from components.monitoring.otel import application_env
from components.postgres.manifests import PostgresSpec
from components.rabbitmq.manifests import RabbitmqSpec
from components.redis.manifests import RedisSpec, redis_manifests
from components.worker_pool.manifests import WorkerPoolSpec, pool_manifests
from stacks.instances import LOAD_BALANCER, POSTGRES, RABBITMQ, REDIS
from stacks.monitored import monitored_platform
from stacks.pools import (
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
    monitored = monitored_platform(settings)
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
        for ui in access.deployed_uis(monitored)
        if (host := access.access_of(monitored, ui).host)
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
        name=LOAD_BALANCER,
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
    env = {**application_env(monitored_platform(settings), pool.name), **dict(pool.env)}
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
        **({"monitoring": monitoring_requested(monitored_platform(settings))} if settings.monitoring.enabled else {}),
    }
