"""MonitoringContainers: the docker target's monitoring stack on one host."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_docker as docker
import pulumi_random as random

from components.common.docker.deployment import SwarmDeployment, deploy_to
from components.common.docker.resources import (
    DockerLogging,
    generated_passwords,
)
from components.common.docker.tls import private_ca, server_certificate
from components.monitoring import elastic
from components.monitoring.alertmanager_config import alerting_secrets, render_alertmanager_yaml
from components.monitoring.containers import (
    ALERTMANAGER_CONFIG_SECRET,
    GRAFANA_PASSWORD_SECRET,
    MonitoringHostArgs,
    monitoring_containers,
    volumes,
)
from components.monitoring.elastic_containers import ADMIN, ES_TLS, KIBANA_KEYS, KIBANA_TLS, hash_secret, users


@dataclass(frozen=True)
class MonitoringContainersArgs:
    host: MonitoringHostArgs
    networks: Mapping[str, docker.Network]
    # The AMQP URL the Celery exporter reads (a Pulumi secret).
    broker_url: pulumi.Output[str]
    logging: DockerLogging = field(default_factory=DockerLogging)
    # Services on a Swarm instead of containers on one host.
    swarm: SwarmDeployment | None = None


def elastic_secrets(name: str, host: MonitoringHostArgs, opts: pulumi.ResourceOptions) -> dict[str, pulumi.Output[str]]:
    """Every user's password and its bcrypt hash (the file realm's; the random provider keeps it in
    the state, so it changes only with the password), Kibana's keys, and HTTPS certificates from a
    CA of the stack's own."""
    secrets: dict[str, pulumi.Output[str]] = {}
    for user in users(host.platform):
        password = random.RandomPassword(f"{name}-{user.secret_name}", length=40, special=False, opts=opts)
        secrets[user.secret_name] = pulumi.Output.secret(password.result)
        secrets[hash_secret(user)] = pulumi.Output.secret(password.bcrypt_hash)
    secrets.update(generated_passwords(name, KIBANA_KEYS, opts))
    ca = private_ca(f"{name}-elastic", f"{host.prefix} elastic CA", opts)
    secrets[elastic.DOCKER_CA_SECRET] = pulumi.Output.secret(ca.cert_pem)
    for server, names in ((ES_TLS, (elastic.NAME, "localhost")), (KIBANA_TLS, (elastic.KIBANA, "localhost"))):
        issued = server_certificate(ca, names[0], names, opts)
        secrets[server[0]] = issued.key_pem
        secrets[server[1]] = pulumi.Output.secret(issued.cert_pem)
    return secrets


class MonitoringContainers(pulumi.ComponentResource):
    grafana_password: pulumi.Output[str]
    # The operators' Kibana login (None without Elasticsearch).
    kibana_password: pulumi.Output[str] | None

    def __init__(self, name: str, args: MonitoringContainersArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("teknofest:platform:MonitoringContainers", name, None, opts)
        host = args.host
        child = pulumi.ResourceOptions(parent=self)
        secrets = generated_passwords(name, (GRAFANA_PASSWORD_SECRET,), child)
        alerting = host.platform.monitoring.alerting
        secrets[ALERTMANAGER_CONFIG_SECRET] = pulumi.Output.secret(
            render_alertmanager_yaml(alerting, alerting_secrets(alerting))
        )
        secrets[host.broker_secret] = pulumi.Output.secret(args.broker_url)
        self.kibana_password = None
        if host.elasticsearch:
            secrets.update(elastic_secrets(name, host, child))
            self.kibana_password = secrets[ADMIN.secret_name]
        specs = monitoring_containers(host)
        deploy_to(args.swarm, name, specs, volumes(host), args.networks, secrets, args.logging, child)
        self.grafana_password = secrets[GRAFANA_PASSWORD_SECRET]
        self.register_outputs({"containers": [spec.name for spec in specs]})
