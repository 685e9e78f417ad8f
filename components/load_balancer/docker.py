"""LoadBalancerContainer: HAProxy in front of the API containers of one Docker host."""

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
from components.load_balancer.containers import TLS_SECRET, LoadBalancerHostArgs, load_balancer_container


@dataclass(frozen=True)
class LoadBalancerContainerArgs:
    host: LoadBalancerHostArgs
    networks: Mapping[str, docker.Network]
    # The PEM (chain and key) it serves when host.tls; a Pulumi secret.
    tls_certificate_pem: pulumi.Output[str] | None = None
    logging: DockerLogging = field(default_factory=DockerLogging)
    # Services on a Swarm instead of containers on one host.
    swarm: SwarmDeployment | None = None


class LoadBalancerContainer(pulumi.ComponentResource):
    stats_password: pulumi.Output[str]
    ui_passwords: dict[str, pulumi.Output[str]]

    def __init__(self, name: str, args: LoadBalancerContainerArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        require_instance_name("LoadBalancerContainer", name, args.host.name)
        super().__init__("teknofest:platform:LoadBalancerContainer", name, None, opts)
        host = args.host
        child = pulumi.ResourceOptions(parent=self)
        secrets = generated_passwords(name, tuple(s for s in host.secrets if s != TLS_SECRET), child)
        if host.tls:
            if args.tls_certificate_pem is None:
                raise ValueError(f"load balancer {name}: TLS is on but no certificate PEM is given")
            secrets[TLS_SECRET] = pulumi.Output.secret(args.tls_certificate_pem)
        spec = load_balancer_container(host)
        deploy_to(args.swarm, name, [spec], [], args.networks, secrets, args.logging, child)
        self.stats_password = secrets["haproxy-stats-password"]
        self.ui_passwords = {r.key: secrets[r.secret] for r in host.ui_routes if r.needs_auth}
        self.register_outputs({"container": host.container})
