"""RabbitmqServer: the docker target's broker with generated users (application, administrator)."""

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
from components.rabbitmq.containers import (
    COOKIE_SECRET,
    DEFINITIONS_SECRET,
    RabbitmqHostArgs,
    rabbitmq_containers,
    volumes,
)
from components.rabbitmq.manifests import ADMIN_USER, AMQP_PORT, APP_USER, definitions_json


@dataclass(frozen=True)
class RabbitmqServerArgs:
    host: RabbitmqHostArgs
    networks: Mapping[str, docker.Network]
    logging: DockerLogging = field(default_factory=DockerLogging)
    # Services on a Swarm instead of containers on one host.
    swarm: SwarmDeployment | None = None


class RabbitmqServer(pulumi.ComponentResource):
    url: pulumi.Output[str]
    admin_password: pulumi.Output[str]
    amqp_endpoint: str

    def __init__(self, name: str, args: RabbitmqServerArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        require_instance_name("RabbitmqServer", name, args.host.name)
        super().__init__("teknofest:platform:RabbitmqServer", name, None, opts)
        host = args.host
        child = pulumi.ResourceOptions(parent=self)
        passwords = generated_passwords(name, ("app-password", "admin-password"), child)
        app, admin = passwords["app-password"], passwords["admin-password"]
        # The definitions carry the users' password hashes: the whole file is a secret.
        definitions: pulumi.Output[str] = pulumi.Output.all(admin, app).apply(
            lambda pws: definitions_json(pws[0], pws[1])
        )
        secrets: dict[str, pulumi.Output[str]] = {DEFINITIONS_SECRET: pulumi.Output.secret(definitions)}
        if host.clustered:
            secrets[COOKIE_SECRET] = generated_passwords(name, ("erlang-cookie",), child)["erlang-cookie"]
        specs = rabbitmq_containers(host)
        deploy_to(args.swarm, name, specs, volumes(host), args.networks, secrets, args.logging, child)
        self.url = pulumi.Output.secret(app.apply(lambda pw: host.url(APP_USER, pw)))
        self.admin_password = admin
        self.amqp_endpoint = f"{host.host}:{AMQP_PORT}"
        self.register_outputs({"amqpEndpoint": self.amqp_endpoint, "administrator": ADMIN_USER})
