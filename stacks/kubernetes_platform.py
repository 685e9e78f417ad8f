"""Composition of the Kubernetes target: settings in, components wired, stack outputs out."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from components.cluster_addons.kubernetes import ClusterAddons
from components.common.kubernetes.manifests import secret_manifest
from components.common.kubernetes.resources import CrdInstallers, create
from components.load_balancer.kubernetes import CertManagerRef, LoadBalancer, LoadBalancerArgs
from components.monitoring import access
from components.monitoring.elastic import SUPERUSER_SECRET
from components.monitoring.kubernetes import MonitoringStack, MonitoringStackArgs
from components.monitoring.otel import GATEWAY
from components.namespace.kubernetes import PlatformNamespace, PlatformNamespaceArgs
from components.postgres.kubernetes import PostgresCluster, PostgresClusterArgs
from components.rabbitmq.kubernetes import RabbitmqBroker, RabbitmqBrokerArgs
from components.redis.kubernetes import RedisCluster, RedisClusterArgs
from components.worker_pool.celery import priority_classes
from components.worker_pool.commands import FLOWER_PORT
from components.worker_pool.kubernetes import WorkerPool, WorkerPoolArgs
from stacks.cluster_addons import cluster_addons_args
from stacks.instances import LOAD_BALANCER, POSTGRES, RABBITMQ, REDIS
from stacks.kubernetes_specs import platform_specs, requested
from stacks.monitored import monitored_platform
from stacks.outputs import image_versions
from stacks.pools import (
    API_NAME,
    API_SECRET,
    BROKER_SECRET,
    FLOWER_SECRET,
)
from stacks.settings import PlatformSettings
from stacks.topology import clients_of


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
                monitored_platform(settings),
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
        LOAD_BALANCER,
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
            "haproxyStatsPortForward": f"kubectl -n {ns} port-forward svc/{lb.stats_service_name} 8404:8404",
            "haproxyMetrics": f"http://{lb.stats_service_name}.{ns}.svc:8404/metrics",
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
        "images": image_versions(settings),
    }
