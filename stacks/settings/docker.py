"""The single Docker host a docker-target stack runs on (pulumi-docker)."""

from __future__ import annotations

import ipaddress
from typing import Annotated

from pydantic import AfterValidator, Field, SecretStr

from components.common.values import Model, Port


def _address(value: str) -> str:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        raise ValueError("must be an IP address such as '127.0.0.1' (the host's own) or '0.0.0.0' (all)") from None
    return value


class PublishedPorts(Model):
    """Host ports of what is published: the load balancer, and the UIs for the operators."""

    http: Port = 80
    https: Port = 443
    haproxy_stats: Port = 8404
    grafana: Port = 3000
    prometheus: Port = 9090
    alertmanager: Port = 9093
    jaeger: Port = 16686
    kibana: Port = 5601
    flower: Port = 5555
    rabbitmq_management: Port = 15672


class DockerHost(Model):
    # The Docker daemon: None uses DOCKER_HOST or the local socket; e.g. "ssh://ops@host".
    host: str | None = Field(default=None, pattern=r"^(unix|tcp|ssh|npipe)://\S+$")
    # Where published ports listen. The host's loopback by default: operators reach the UIs
    # through an SSH tunnel, and a reverse proxy or firewall rule opens the load balancer.
    publish_address: Annotated[str, AfterValidator(_address)] = "127.0.0.1"
    # The load balancer alone on this address (the UIs stay on publishAddress); None: publishAddress.
    load_balancer_address: Annotated[str, AfterValidator(_address)] | None = None
    ports: PublishedPorts = PublishedPorts()
    # API containers behind HAProxy; one host scales by hand (the guide), not with an autoscaler.
    api_containers: Annotated[int, Field(ge=1, le=32)] = 2
    # The host has NVIDIA GPUs and the container toolkit: GPU pools get device requests.
    gpu: bool = False
    # The application's containers may reach the internet (external APIs); otherwise they only
    # reach the platform's own services on the internal network.
    application_egress: bool = False
    # json-file log rotation of every container (the shipper reads the same files).
    log_max_size: str = Field(default="10m", pattern=r"^[1-9][0-9]*[kmg]$")
    log_max_files: Annotated[int, Field(ge=1, le=20)] = 3
    # The PEM certificate chain and private key HAProxy serves when tls.enabled:
    # `pulumi config set --secret --path docker.tlsCertificatePem "$(cat fullchain.pem privkey.pem)"`.
    tls_certificate_pem: SecretStr | None = None

    @property
    def edge_address(self) -> str:
        return self.load_balancer_address or self.publish_address
