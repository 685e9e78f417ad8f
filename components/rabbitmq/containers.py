"""The docker target's RabbitMQ as a container spec (pure): one node, the same rendered policy and
definitions as on Kubernetes (quorum queues, the application user on its vhost, no guest)."""

from __future__ import annotations

from dataclasses import dataclass

from components.common.docker.containers import (
    CONFIG_DIR,
    SECRETS_DIR,
    ContainerSpec,
    Healthcheck,
    NetworkAttachment,
    PortBinding,
    Upload,
    VolumeMount,
    VolumeSpec,
    placeholder,
)
from components.common.quantities import cpu_millicores, memory_bytes
from components.rabbitmq.manifests import AMQP_PORT, MANAGEMENT_PORT, PROMETHEUS_PORT, VHOST, render_rabbitmq_conf
from components.rabbitmq.settings import Rabbitmq

# The official image's "rabbitmq" user.
RABBITMQ_UID = "999:999"
DATA = "/var/lib/rabbitmq"
DEFINITIONS_SECRET = "rabbitmq-definitions"
# The management UI for the operators, and the metrics Prometheus scrapes.
ENABLED_PLUGINS = "[rabbitmq_management,rabbitmq_prometheus].\n"


@dataclass(frozen=True)
class RabbitmqHostArgs:
    settings: Rabbitmq
    image: str
    network: str
    prefix: str
    # The management UI published for the operators on this address (None: not published).
    management_address: str | None = None
    management_port: int = MANAGEMENT_PORT
    # Where the management UI is also reachable: the edge network of the published UIs.
    edge_network: str | None = None
    name: str = "rabbitmq"

    @property
    def container(self) -> str:
        return f"{self.prefix}-{self.name}"

    @property
    def host(self) -> str:
        return self.name

    def url(self, user: str, password: str) -> str:
        return f"amqp://{user}:{password}@{self.host}:{AMQP_PORT}/{VHOST}"


def render_docker_conf(args: RabbitmqHostArgs) -> str:
    listeners = [
        f"listeners.tcp.default = {AMQP_PORT}",
        f"management.tcp.port = {MANAGEMENT_PORT}",
        f"prometheus.tcp.port = {PROMETHEUS_PORT}",
        "log.console = true",
        "log.console.level = info",
        "log.file = false",
    ]
    return render_rabbitmq_conf(args.settings, f"{SECRETS_DIR}/definitions.json") + "\n".join(listeners) + "\n"


def volumes(args: RabbitmqHostArgs) -> list[VolumeSpec]:
    return [VolumeSpec(f"{args.container}-data", "rabbitmq data")]


def rabbitmq_container(args: RabbitmqHostArgs) -> ContainerSpec:
    limits = args.settings.resources.limits
    networks = [NetworkAttachment(args.network, (args.host,))]
    if args.edge_network and args.management_address:
        networks.append(NetworkAttachment(args.edge_network))
    return ContainerSpec(
        name=args.container,
        image=args.image,
        command=("rabbitmq-server",),
        networks=tuple(networks),
        memory_mb=memory_bytes(limits.memory) // 2**20,
        cpus=cpu_millicores(limits.cpu) / 1000,
        healthcheck=Healthcheck.shell("rabbitmq-diagnostics -q check_port_connectivity", start_period_seconds=60),
        user=RABBITMQ_UID,
        env=(
            ("RABBITMQ_CONFIG_FILE", f"{CONFIG_DIR}/rabbitmq"),
            ("RABBITMQ_ENABLED_PLUGINS_FILE", f"{CONFIG_DIR}/enabled_plugins"),
            # A fixed node name: the data directory stays this node's when the container is replaced.
            ("RABBITMQ_NODENAME", "rabbit@localhost"),
            ("HOME", DATA),
        ),
        uploads=(
            Upload(f"{CONFIG_DIR}/rabbitmq.conf", render_docker_conf(args), capability="rabbitmq"),
            Upload(
                f"{CONFIG_DIR}/enabled_plugins", "[rabbitmq_management,rabbitmq_prometheus].\n", capability="rabbitmq"
            ),
            # Users (password hashes), the vhost and permissions, imported at boot.
            Upload(
                f"{SECRETS_DIR}/definitions.json",
                placeholder(DEFINITIONS_SECRET),
                0o400,
                (DEFINITIONS_SECRET,),
                "rabbitmq",
            ),
        ),
        volumes=(VolumeMount(f"{args.container}-data", DATA),),
        tmpfs=(("/tmp", "rw,noexec,nosuid,size=16m"),),
        ports=(PortBinding(MANAGEMENT_PORT, args.management_port, args.management_address),)
        if args.management_address
        else (),
        stop_grace_seconds=60,
        capability="rabbitmq",
    )
