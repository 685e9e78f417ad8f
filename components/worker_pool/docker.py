"""PoolContainers: one application pool (API, a Celery pool, beat, Flower) on a Docker host."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_docker as docker

from components.common.docker.deployment import SwarmDeployment, deploy_to
from components.common.docker.resources import DockerLogging
from components.common.names import require_instance_name
from components.worker_pool.containers import PoolContainersArgs, pool_containers, secret_name


@dataclass(frozen=True)
class PoolArgs:
    pool: PoolContainersArgs
    networks: Mapping[str, docker.Network]
    # The value of every variable in `pool.secret_env` (URLs with passwords: Pulumi secrets).
    secrets: Mapping[str, pulumi.Output[str]]
    logging: DockerLogging = field(default_factory=DockerLogging)
    # Services on a Swarm instead of containers on one host.
    swarm: SwarmDeployment | None = None


class PoolContainers(pulumi.ComponentResource):
    containers: list[str]

    def __init__(self, name: str, args: PoolArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        require_instance_name("PoolContainers", name, args.pool.name)
        super().__init__("teknofest:platform:PoolContainers", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        missing = [v for v in args.pool.secret_env if v not in args.secrets]
        if missing:
            raise ValueError(f"pool {name}: no value given for {missing}")
        secrets: dict[str, pulumi.Output[str]] = {
            secret_name(v): pulumi.Output.secret(args.secrets[v]) for v in args.pool.secret_env
        }
        specs = pool_containers(args.pool)
        deploy_to(args.swarm, name, specs, [], args.networks, secrets, args.logging, child)
        self.containers = [spec.name for spec in specs]
        self.register_outputs({"containers": self.containers})
