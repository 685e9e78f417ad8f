"""RedisServers: the docker target's Redis master, replicas, Sentinels and master endpoint."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_docker as docker

from components.common.docker.deployment import SwarmDeployment, deploy_to
from components.common.docker.resources import (
    DockerLogging,
    generated_passwords,
)
from components.common.names import require_instance_name
from components.redis.containers import RedisHostArgs, password_secret, redis_containers, volumes
from components.redis.redis_config import APP_USER, MASTER_NAME


@dataclass(frozen=True)
class RedisServersArgs:
    """What to build; every container and volume is named after `host.name` (and its prefix)."""

    host: RedisHostArgs
    networks: Mapping[str, docker.Network]
    logging: DockerLogging = field(default_factory=DockerLogging)
    # Services on a Swarm instead of containers on one host.
    swarm: SwarmDeployment | None = None


class RedisServers(pulumi.ComponentResource):
    url: pulumi.Output[str]
    result_backend_url: pulumi.Output[str]
    password: pulumi.Output[str]
    sentinel_password: pulumi.Output[str]
    master_endpoint: str
    sentinel_endpoints: tuple[str, ...]
    master_name: str

    def __init__(self, name: str, args: RedisServersArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        require_instance_name("RedisServers", name, args.host.name)
        super().__init__("teknofest:platform:RedisServers", name, None, opts)
        host = args.host
        child = pulumi.ResourceOptions(parent=self)
        secrets = generated_passwords(name, host.secrets, child)
        specs = redis_containers(host)
        deploy_to(args.swarm, name, specs, volumes(host), args.networks, secrets, args.logging, child)
        self.password = secrets[password_secret(APP_USER)]
        self.sentinel_password = secrets["redis-sentinels-password"]
        self.master_endpoint = host.master_endpoint
        self.sentinel_endpoints = host.sentinel_endpoints
        self.master_name = MASTER_NAME
        user, endpoint = APP_USER.name, host.master_endpoint
        self.url = pulumi.Output.secret(self.password.apply(lambda pw: f"redis://{user}:{pw}@{endpoint}/0"))
        self.result_backend_url = pulumi.Output.secret(
            self.password.apply(lambda pw: f"redis://{user}:{pw}@{endpoint}/1")
        )
        self.register_outputs({"masterEndpoint": self.master_endpoint, "masterName": MASTER_NAME})
