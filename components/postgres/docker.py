"""PostgresServers: the docker target's PostgreSQL (primary, streaming replicas, PgBouncer,
pgBackRest, exporter) on one Docker host, from the pure specs of containers.py."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_docker as docker
import pulumi_random as random

from components.common.docker.deployment import SwarmDeployment, deploy_to
from components.common.docker.resources import DockerLogging, local_image
from components.common.names import require_instance_name
from components.postgres.containers import PASSWORDS, POOLER_PORT, PostgresHostArgs, postgres_containers, volumes


@dataclass(frozen=True)
class PostgresServersArgs:
    """What to build; every container and volume is named after `host.name` (and its prefix)."""

    host: PostgresHostArgs
    # The networks this component's containers join, by Docker name.
    networks: Mapping[str, docker.Network]
    logging: DockerLogging = field(default_factory=DockerLogging)
    # Services on a Swarm instead of containers on one host.
    swarm: SwarmDeployment | None = None


class PostgresServers(pulumi.ComponentResource):
    url: pulumi.Output[str]
    read_only_url: pulumi.Output[str]
    pooler_endpoint: str
    primary_container: str

    def __init__(self, name: str, args: PostgresServersArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        require_instance_name("PostgresServers", name, args.host.name)
        super().__init__("teknofest:platform:PostgresServers", name, None, opts)
        host = args.host
        child = pulumi.ResourceOptions(parent=self)
        passwords = {
            secret: random.RandomPassword(
                f"{name}-{secret.removeprefix('postgres-')}", length=40, special=False, opts=child
            )
            for secret in PASSWORDS
        }
        secrets: dict[str, pulumi.Output[str]] = {
            secret: pulumi.Output.secret(password.result) for secret, password in passwords.items()
        }
        credentials = host.backups.credentials
        if credentials is not None:
            secrets["backup-s3-key"] = pulumi.Output.secret(credentials.access_key_id.get_secret_value())
            secrets["backup-s3-key-secret"] = pulumi.Output.secret(credentials.secret_access_key.get_secret_value())
        image_spec = args.swarm.image(host.image) if args.swarm else host.image
        image = local_image(image_spec, child)
        deploy_to(
            args.swarm,
            name,
            postgres_containers(host),
            volumes(host),
            args.networks,
            secrets,
            args.logging,
            child,
            {host.image.name: image},
        )
        owner = secrets["postgres-app-password"]
        self.url = pulumi.Output.secret(owner.apply(host.url))
        self.read_only_url = pulumi.Output.secret(owner.apply(lambda pw: host.url(pw, read_only=True)))
        self.pooler_endpoint = f"{host.pooler_host}:{POOLER_PORT}"
        self.primary_container = host.container("primary")
        self.register_outputs({"poolerEndpoint": self.pooler_endpoint, "primaryContainer": self.primary_container})
