"""The whole platform's settings: one model composed of each capability's own settings model.

Settings know nothing of Pulumi resources. They are built from a plain dict (the stack's
`teknofest-platform:*` config merged over the environment's defaults, see `stacks.defaults`)
and every rule that can be checked before a resource exists is checked here, so a bad value
fails before anything is registered. Config keys are camelCase, as Pulumi users write them.
"""

from __future__ import annotations

from typing import Literal

from components.cluster_addons.settings import ClusterAddons
from components.common.values import DnsLabel, Model
from components.load_balancer.settings import LoadBalancer
from components.monitoring.settings import Monitoring
from components.postgres.settings import Backups, Postgres
from components.rabbitmq.settings import Rabbitmq
from components.redis.settings import Redis
from components.worker_pool.settings import ApiPool, Celery
from stacks.settings.cluster import KubernetesCluster
from stacks.settings.docker import DockerHost
from stacks.settings.edge import Domains, Tls
from stacks.settings.images import Images
from stacks.settings.swarm import SwarmCluster

Environment = Literal["dev", "staging", "production"]
Target = Literal["kubernetes", "docker", "swarm"]


class PlatformSettings(Model):
    environment: Environment
    target: Target = "kubernetes"
    namespace: DnsLabel
    kubernetes: KubernetesCluster = KubernetesCluster()
    # The host of the docker target, or a manager of the swarm target's Swarm (ignored by kubernetes).
    docker: DockerHost = DockerHost()
    # What only the swarm target needs (placement, replicas, publishing).
    swarm: SwarmCluster = SwarmCluster()
    cluster_addons: ClusterAddons = ClusterAddons()
    images: Images = Images()
    api: ApiPool = ApiPool()
    celery: Celery = Celery()
    load_balancer: LoadBalancer = LoadBalancer()
    postgres: Postgres = Postgres()
    redis: Redis = Redis()
    rabbitmq: Rabbitmq = Rabbitmq()
    monitoring: Monitoring = Monitoring()
    backups: Backups = Backups()
    tls: Tls = Tls()
    domains: Domains = Domains()
    network_policies: bool = True

    @property
    def worker_image(self) -> str:
        return self.images.worker or self.images.api
