"""The docker target's RabbitMQ as container specs (pure): one node on one host, or a cluster of
nodes on a Swarm that find each other by name on the overlay network (classic peer discovery) and
share an Erlang cookie; the same rendered policy and definitions as on Kubernetes (quorum queues,
the application user on its vhost, no guest)."""

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
    sized,
)
from components.rabbitmq.manifests import AMQP_PORT, MANAGEMENT_PORT, PROMETHEUS_PORT, VHOST, render_rabbitmq_conf
from components.rabbitmq.settings import Rabbitmq

# The official image's "rabbitmq" user.
RABBITMQ_UID = "999:999"
DATA = "/var/lib/rabbitmq"
DEFINITIONS_SECRET = "rabbitmq-definitions"
COOKIE_SECRET = "rabbitmq-erlang-cookie"
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
    # Cluster nodes (one container each); 1: a single node, as on one host.
    nodes: int = 1

    def __post_init__(self) -> None:
        if self.nodes < 1 or self.nodes == 2:
            # Quorum queues need a majority: two nodes survive no loss that one would not.
            raise ValueError(f"rabbitmq {self.name}: nodes is 1 or at least 3, not {self.nodes}")

    @property
    def container(self) -> str:
        return f"{self.prefix}-{self.name}"

    @property
    def clustered(self) -> bool:
        return self.nodes > 1

    def node_host(self, index: int) -> str:
        return f"{self.name}-{index}"

    def node_container(self, index: int) -> str:
        return f"{self.container}-{index}" if self.clustered else self.container

    @property
    def secrets(self) -> tuple[str, ...]:
        return (DEFINITIONS_SECRET, *((COOKIE_SECRET,) if self.clustered else ()))

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
    if args.clustered:
        # Every node is listed; a node that starts first forms the cluster, the others join it.
        listeners.append("cluster_formation.peer_discovery_backend = classic_config")
        listeners += [
            f"cluster_formation.classic_config.nodes.{i + 1} = rabbit@{args.node_host(i)}" for i in range(args.nodes)
        ]
    return render_rabbitmq_conf(args.settings, f"{SECRETS_DIR}/definitions.json") + "\n".join(listeners) + "\n"


def volumes(args: RabbitmqHostArgs) -> list[VolumeSpec]:
    return [VolumeSpec(f"{args.node_container(i)}-data", "rabbitmq data") for i in range(args.nodes)]


# A clustered node is healthy once its runtime answers, not once the broker has booted: a Swarm's
# DNS answers for a task only when it is healthy, and a node that restarts waits for its peers by
# name before it boots (after a whole-cluster stop each waits for the others: with a boot-level
# check none would ever resolve).
_NODE_RUNNING = Healthcheck.shell("rabbitmq-diagnostics -q ping", start_period_seconds=60)


def node_start(args: RabbitmqHostArgs, index: int) -> str:
    """A clustered node's start: the cookie (the nodes' shared secret, read by the server and the
    CLI tools from $HOME, the data volume) in place with mode 0400; a node that has never run
    waits until the node before it has booted (a node joining one that is still importing the
    definitions found the vhost down, seen on the engine tier), for ten minutes at most."""
    lines = [f'install -m 0400 {SECRETS_DIR}/erlang-cookie "$HOME/.erlang.cookie"']
    if index:
        before = f"rabbit@{args.node_host(index - 1)}"
        lines.append(
            f'[ -d "$HOME/mnesia/rabbit@{args.node_host(index)}" ] || for attempt in $(seq 300); do '
            f"rabbitmq-diagnostics -q -n {before} check_running >/dev/null 2>&1 && break; sleep 2; done"
        )
    lines.append("exec rabbitmq-server")
    return "\n".join(lines)


def rabbitmq_containers(args: RabbitmqHostArgs) -> list[ContainerSpec]:
    return [rabbitmq_container(args, i) for i in range(args.nodes)]


def rabbitmq_container(args: RabbitmqHostArgs, index: int = 0) -> ContainerSpec:
    aliases = (args.node_host(index), args.host) if args.clustered else (args.host,)
    networks = [NetworkAttachment(args.network, aliases)]
    if args.edge_network and args.management_address:
        networks.append(NetworkAttachment(args.edge_network))
    node = f"rabbit@{args.node_host(index)}" if args.clustered else "rabbit@localhost"
    cookie = (
        (Upload(f"{SECRETS_DIR}/erlang-cookie", placeholder(COOKIE_SECRET), 0o400, (COOKIE_SECRET,), "rabbitmq"),)
        if args.clustered
        else ()
    )
    return ContainerSpec(
        name=args.node_container(index),
        image=args.image,
        command=("/bin/sh", "-c", node_start(args, index)) if args.clustered else ("rabbitmq-server",),
        networks=tuple(networks),
        **sized(args.settings.resources),
        healthcheck=_NODE_RUNNING
        if args.clustered
        else Healthcheck.shell("rabbitmq-diagnostics -q check_port_connectivity", start_period_seconds=60),
        # Its own name resolves from its start (epmd needs it); the first node forms the cluster
        # and each next one joins it once the one before answers.
        hostname=args.node_host(index) if args.clustered else None,
        after=(args.node_container(index - 1),) if args.clustered and index else (),
        user=RABBITMQ_UID,
        env=(
            ("RABBITMQ_CONFIG_FILE", f"{CONFIG_DIR}/rabbitmq"),
            ("RABBITMQ_ENABLED_PLUGINS_FILE", f"{CONFIG_DIR}/enabled_plugins"),
            # A fixed node name: the data directory stays this node's when the container is replaced.
            ("RABBITMQ_NODENAME", node),
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
            *cookie,
        ),
        volumes=(VolumeMount(f"{args.node_container(index)}-data", DATA),),
        tmpfs=(("/tmp", "rw,noexec,nosuid,size=16m"),),
        ports=(PortBinding(MANAGEMENT_PORT, args.management_port, args.management_address),)
        if args.management_address and index == 0
        else (),
        stop_grace_seconds=60,
        capability="rabbitmq",
    )
