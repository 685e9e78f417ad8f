"""Typed settings of the whole platform, split by area.

Each capability owns the model of its own settings (`components/<capability>/settings.py`), which
its component args carry; this package adds what belongs to the platform as a whole (environment,
target, images, edge, cluster) and composes them into `PlatformSettings`. Settings know nothing of
Pulumi resources: they are built from a plain dict (see `stacks.defaults`) and every rule that can
be checked before a resource exists is checked here. Every model is re-exported for callers.
"""

from components.cluster_addons.settings import (
    AddonRelease,
    CertManagerRelease,
    ChartVersion,
    ClusterAddons,
    KedaRelease,
    VpaRelease,
)
from components.common.values import (
    Autoscaling,
    Cidr,
    CpuQuantity,
    DnsLabel,
    DnsName,
    GpuPlacement,
    HttpPath,
    ImageRef,
    MemoryQuantity,
    Model,
    Percent,
    Port,
    Probes,
    ResourceAmounts,
    Resources,
    ScalingPolicy,
)
from components.load_balancer.settings import HealthCheck, LbTimeouts, LoadBalancer, RateLimit
from components.monitoring.settings import (
    Access,
    Alerting,
    AlertmanagerServer,
    Elasticsearch,
    EmailReceiver,
    Loki,
    Monitoring,
    PrometheusServer,
    RetentionDays,
    RetentionPeriod,
    Tracing,
    UiAccess,
)
from components.postgres.settings import Backups, Postgres, Recovery, S3Credentials
from components.rabbitmq.settings import Rabbitmq
from components.redis.settings import Redis
from components.worker_pool.settings import ApiPool, Celery, CeleryPool
from stacks.settings.cluster import KubernetesCluster
from stacks.settings.docker import DockerHost, PublishedPorts
from stacks.settings.edge import CertManagerIssuer, Domains, Tls
from stacks.settings.images import Images
from stacks.settings.platform import Environment, PlatformSettings, Target
from stacks.settings.swarm import SwarmCluster

__all__ = [
    "Access",
    "AddonRelease",
    "Alerting",
    "AlertmanagerServer",
    "ApiPool",
    "Autoscaling",
    "Backups",
    "Celery",
    "CeleryPool",
    "CertManagerIssuer",
    "CertManagerRelease",
    "ChartVersion",
    "Cidr",
    "ClusterAddons",
    "CpuQuantity",
    "DnsLabel",
    "DnsName",
    "DockerHost",
    "Domains",
    "Elasticsearch",
    "EmailReceiver",
    "Environment",
    "GpuPlacement",
    "HealthCheck",
    "HttpPath",
    "ImageRef",
    "Images",
    "KedaRelease",
    "KubernetesCluster",
    "LbTimeouts",
    "LoadBalancer",
    "Loki",
    "MemoryQuantity",
    "Model",
    "Monitoring",
    "Percent",
    "PlatformSettings",
    "Port",
    "Postgres",
    "Probes",
    "PrometheusServer",
    "PublishedPorts",
    "Rabbitmq",
    "RateLimit",
    "Recovery",
    "Redis",
    "ResourceAmounts",
    "Resources",
    "RetentionDays",
    "RetentionPeriod",
    "S3Credentials",
    "ScalingPolicy",
    "SwarmCluster",
    "Target",
    "Tls",
    "Tracing",
    "UiAccess",
    "VpaRelease",
]
