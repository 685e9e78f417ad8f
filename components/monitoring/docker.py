"""MonitoringContainers: the docker target's monitoring stack on one host."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_docker as docker

from components.common.docker.resources import (
    DockerLogging,
    deploy,
    generated_passwords,
)
from components.monitoring.alertmanager_config import alerting_secrets, render_alertmanager_yaml
from components.monitoring.containers import (
    ALERTMANAGER_CONFIG_SECRET,
    GRAFANA_PASSWORD_SECRET,
    MonitoringHostArgs,
    monitoring_containers,
    volumes,
)


@dataclass(frozen=True)
class MonitoringContainersArgs:
    host: MonitoringHostArgs
    networks: Mapping[str, docker.Network]
    # The AMQP URL the Celery exporter reads (a Pulumi secret).
    broker_url: pulumi.Output[str]
    logging: DockerLogging = field(default_factory=DockerLogging)


class MonitoringContainers(pulumi.ComponentResource):
    grafana_password: pulumi.Output[str]

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
        specs = monitoring_containers(host)
        deploy(name, specs, volumes(host), args.networks, secrets, args.logging, child)
        self.grafana_password = secrets[GRAFANA_PASSWORD_SECRET]
        self.register_outputs({"containers": [spec.name for spec in specs]})
