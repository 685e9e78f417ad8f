"""Composition of the Kubernetes target: settings in, components wired, stack outputs out."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from components.common import labels as lbl
from components.common.manifests import metadata
from components.common.resources import create
from components.load_balancer.kubernetes import CertManagerRef, LoadBalancer, LoadBalancerArgs
from components.load_balancer.manifests import NAME as LB_NAME
from components.load_balancer.manifests import STATS_SERVICE, LoadBalancerSpec, load_balancer_manifests
from components.namespace.kubernetes import PlatformNamespace, PlatformNamespaceArgs
from components.postgres.kubernetes import CLIENT_SECRET as POSTGRES_CLIENT_SECRET
from components.postgres.kubernetes import PostgresCluster, PostgresClusterArgs
from components.postgres.manifests import PostgresSpec
from components.redis.kubernetes import CLIENT_SECRET as REDIS_CLIENT_SECRET
from components.redis.kubernetes import RedisCluster, RedisClusterArgs
from components.redis.manifests import RedisSpec, redis_manifests
from components.redis.redis_config import MASTER_NAME
from components.worker_pool.kubernetes import WorkerPool, WorkerPoolArgs
from components.worker_pool.manifests import SecretEnv, WorkerPoolSpec, pool_manifests
from stacks.capacity import requested_totals
from stacks.settings import PlatformSettings

API_NAME = "api"
API_SECRET = "api-secrets"


def request_rate_query(settings: PlatformSettings) -> str:
    """Requests per second reaching the API backend, as counted by HAProxy's own exporter."""
    if settings.api.autoscaling.request_rate_query:
        return settings.api.autoscaling.request_rate_query
    return f'sum(rate(haproxy_backend_http_requests_total{{namespace="{settings.namespace}",proxy="api"}}[1m]))'


def api_pool_spec(settings: PlatformSettings) -> WorkerPoolSpec:
    api = settings.api
    command = (
        "gunicorn",
        api.app_module,
        "--worker-class",
        "uvicorn.workers.UvicornWorker",
        # Every address of the pod's own network namespace: the Service and the LB reach it there.
        "--bind",
        f"0.0.0.0:{api.port}",
        "--workers",
        str(api.gunicorn_workers),
        "--max-requests",
        str(api.max_requests),
        "--max-requests-jitter",
        str(max(api.max_requests // 10, 0)),
        "--graceful-timeout",
        str(api.graceful_timeout_seconds),
        # Longer than HAProxy's keep-alive so the LB never reuses a connection the worker closed.
        "--keep-alive",
        "15",
        # Only the load balancer may reach the pods (NetworkPolicy), so its X-Forwarded-* are trusted.
        "--forwarded-allow-ips",
        "*",
        "--worker-tmp-dir",
        "/tmp",
        "--access-logfile",
        "-",
    )
    env = {
        "APP_ENV": settings.environment,
        "PORT": str(api.port),
        "DEBUG": "false",
        # For clients that speak Sentinel; REDIS_URL (a Secret) reaches the master through redis-master.
        "REDIS_SENTINELS": f"redis-sentinel.{settings.namespace}.svc:26379",
        "REDIS_MASTER_NAME": MASTER_NAME,
        **api.env,
    }
    return WorkerPoolSpec(
        name=API_NAME,
        namespace=settings.namespace,
        component="api",
        environment=settings.environment,
        image=settings.images.api,
        command=command,
        resources=api.resources,
        min_replicas=api.min_replicas,
        max_replicas=api.max_replicas,
        autoscaling=api.autoscaling,
        gpu=api.gpu,
        termination_grace_period_seconds=api.termination_grace_period_seconds,
        pre_stop_seconds=api.pre_stop_seconds,
        http_port=api.port,
        probes=api.probes,
        metrics_path=api.metrics_path,
        env=tuple(sorted(env.items())),
        secret_env=(
            SecretEnv("SECRET_KEY", API_SECRET, "secret-key"),
            SecretEnv("DATABASE_URL", POSTGRES_CLIENT_SECRET, "url"),
            SecretEnv("DATABASE_READ_ONLY_URL", POSTGRES_CLIENT_SECRET, "read-only-url"),
            SecretEnv("REDIS_URL", REDIS_CLIENT_SECRET, "url"),
            SecretEnv("REDIS_PASSWORD", REDIS_CLIENT_SECRET, "password"),
            SecretEnv("REDIS_SENTINEL_PASSWORD", REDIS_CLIENT_SECRET, "sentinel-password"),
        ),
        ingress_from=({"podSelector": {"matchLabels": lbl.selector_labels(LB_NAME)}},),
        monitoring_namespace=settings.monitoring.namespace if settings.monitoring.enabled else None,
        request_rate_query=request_rate_query(settings),
        prometheus_url=settings.monitoring.prometheus_url,
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
    )


def workload_manifests(settings: PlatformSettings) -> list[dict[str, Any]]:
    """Every pure manifest of the stack's workloads (the builders the components call)."""
    api = api_pool_spec(settings)
    return [
        *pool_manifests(api),
        *load_balancer_manifests(load_balancer_spec(settings, api)),
        *redis_manifests(RedisSpec(settings, clients=((API_NAME, api.selector),))),
    ]


def requested(settings: PlatformSettings) -> dict[str, dict[str, float]]:
    """CPU cores, memory GiB and GPUs requested, with the autoscaled pools at their bounds."""
    manifests = workload_manifests(settings)
    gpu = settings.api.gpu.resource_name
    return {
        "atMinimum": requested_totals(manifests, {API_NAME: settings.api.min_replicas}, gpu),
        "atMaximum": requested_totals(manifests, {API_NAME: settings.api.max_replicas}, gpu),
    }


def build_kubernetes_platform(settings: PlatformSettings) -> dict[str, Any]:
    """Register every resource of the stack; return the stack outputs."""
    provider = k8s.Provider("kubernetes", context=settings.kubernetes.context)
    with_provider = pulumi.ResourceOptions(providers=[provider])
    namespace = PlatformNamespace(
        "namespace",
        PlatformNamespaceArgs(settings.namespace, settings.environment, settings.network_policies),
        with_provider,
    )
    in_namespace = pulumi.ResourceOptions(providers=[provider], depends_on=[namespace])

    api_spec = api_pool_spec(settings)
    secret_key = random.RandomPassword("api-secret-key", length=64, special=False)
    api_secret = create(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": metadata(API_SECRET, settings.namespace, api_spec.labels),
            "type": "Opaque",
            "stringData": {"secret-key": pulumi.Output.secret(secret_key.result)},
        },
        in_namespace,
    )
    redis = RedisCluster(
        "redis",
        RedisClusterArgs(RedisSpec(settings, clients=((API_NAME, api_spec.selector),))),
        in_namespace,
    )
    postgres = PostgresCluster(
        "postgres",
        PostgresClusterArgs(PostgresSpec(settings, clients=((API_NAME, api_spec.selector),))),
        in_namespace,
    )
    api = WorkerPool(
        API_NAME,
        WorkerPoolArgs(api_spec),
        pulumi.ResourceOptions(providers=[provider], depends_on=[namespace, api_secret, redis, postgres]),
    )
    issuer = settings.tls.cert_manager_issuer
    lb = LoadBalancer(
        "load-balancer",
        LoadBalancerArgs(
            load_balancer_spec(settings, api_spec),
            CertManagerRef(issuer.kind, issuer.name) if issuer and settings.tls.enabled else None,
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
            "redisSentinel": redis.sentinel_endpoint,
        },
        "postgres": {"url": postgres.url, "clientSecret": f"{ns}/{postgres.client_secret_name}"},
        "redis": {
            "masterName": redis.master_name,
            "url": redis.url,
            "clientSecret": f"{ns}/{redis.client_secret_name}",
        },
        "haproxyStatsCredentials": {"username": "admin", "password": lb.stats_password},
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
        },
        "requested": requested(settings),
        "images": {
            "api": settings.images.api,
            "haproxy": settings.images.haproxy,
            "redis": settings.images.redis,
            "redisExporter": settings.images.redis_exporter,
            "postgres": settings.images.postgres,
        },
    }
