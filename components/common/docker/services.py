"""How a container spec runs as a Docker Swarm service (pure): replicas or one task per node,
where it may be placed, how it is updated and rolled back, and which of its ports are published.

The specs are the docker target's own (containers.py); a Swarm adds only what a cluster of hosts
needs. Volumes are local to a node, so a container with one is stateful: it lives on the node that
carries its member label, is updated stop-first (two tasks must never open one data directory), and
a container that mounts another's volume (an exporter, the backup loop) follows that one's label.
Members of one group (a primary and its replica, the Redis servers, the Sentinels, the RabbitMQ
nodes) refuse each other's labels, so Swarm never puts two of them on one node.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from components.common.docker.containers import ContainerSpec, PortBinding

# The label every node of one kind carries (docker node update --label-add <prefix>.gpu=true).
GPU_LABEL = "gpu"
# Swarm's name of an NVIDIA GPU as a generic resource (dockerd's node-generic-resources).
GPU_RESOURCE = "NVIDIA-GPU"
PUBLISH_MODES = ("host", "ingress")
_MEMBER_SUFFIX = re.compile(r"-(?:\d+|primary|replica(?:-\d+)?)$")
_LOOPBACK = ("127.", "::1")


@dataclass(frozen=True)
class SwarmPolicy:
    """What the composition decides for a component's services; keyed by container spec name."""

    # The namespace prefix of the specs' names ("<prefix>-<member>").
    prefix: str
    # Node labels are "<label_prefix>.<member>=true" (and "<label_prefix>.gpu=true").
    label_prefix: str = "teknofest"
    # One-node swarms (a lab, the engine tier): members of a group may share a node.
    colocate_members: bool = False
    publish_mode: str = "host"
    replicas: tuple[tuple[str, int], ...] = ()
    max_replicas_per_node: tuple[tuple[str, int], ...] = ()
    # GPUs a task reserves (the NVIDIA-GPU generic resource); it runs on GPU-labelled nodes only.
    gpus: tuple[tuple[str, int], ...] = ()
    # One task on every node: the log shipper reads each node's own container logs.
    global_services: tuple[str, ...] = ()
    # Stateless members that still need a node of their own (the Sentinels: a quorum on one node
    # is no quorum); placed by member label like the stateful ones.
    placed: tuple[str, ...] = ()
    # The only services whose ports are published (the load balancer); None: any non-loopback port.
    publishers: tuple[str, ...] | None = None
    update_delay_seconds: int = 5
    # How long a new task must stay healthy before the update moves on (failure: rollback).
    update_monitor_seconds: int = 30
    # Reserve each task's requests on its node (False: a lab swarm smaller than the platform).
    reservations: bool = True

    def __post_init__(self) -> None:
        if self.publish_mode not in PUBLISH_MODES:
            raise ValueError(f"publish mode {self.publish_mode!r}: one of {', '.join(PUBLISH_MODES)}")

    def member(self, container: str) -> str:
        return container.removeprefix(f"{self.prefix}-")

    def label(self, member: str) -> str:
        return f"node.labels.{self.label_prefix}.{member}"


@dataclass(frozen=True)
class PublishedPort:
    target: int
    published: int
    mode: str
    protocol: str = "tcp"


@dataclass(frozen=True)
class UpdatePolicy:
    """update_config and rollback_config: one task at a time, rolled back when it fails."""

    order: str
    parallelism: int = 1
    delay_seconds: int = 5
    monitor_seconds: int = 30
    failure_action: str = "rollback"


@dataclass(frozen=True)
class ServiceSpec:
    """One container spec as a Swarm service."""

    container: ContainerSpec
    replicas: int
    global_mode: bool
    constraints: tuple[str, ...]
    max_replicas_per_node: int | None
    generic_resources: tuple[str, ...]
    update: UpdatePolicy
    ports: tuple[PublishedPort, ...]
    # The member label that places it (None: anywhere the constraints allow).
    member_label: str | None
    restart_delay_seconds: int = 5
    # Tasks' addresses straight from DNS (as containers' aliases are on one host); the virtual IP
    # only where the ingress mesh needs one.
    endpoint_mode: str = "dnsrr"

    @property
    def name(self) -> str:
        return self.container.name


def member_group(member: str) -> str:
    """The members that must not share a node: redis-0 and redis-1, postgres-primary and
    postgres-replica-1, rabbitmq-0..2; a member without an index is a group of its own."""
    return _MEMBER_SUFFIX.sub("", member)


def volume_owner(volume: str, specs: list[ContainerSpec]) -> ContainerSpec | None:
    """The container whose volume it is: volumes are named "<container>-<purpose>"."""
    owners = [s for s in specs if volume.startswith(f"{s.name}-") and any(m.volume == volume for m in s.volumes)]
    return max(owners, key=lambda s: len(s.name), default=None)


def home_of(spec: ContainerSpec, specs: list[ContainerSpec]) -> ContainerSpec | None:
    """The stateful container whose node this one must run on: itself if it owns a volume, else
    the owner of a volume it mounts; None for a stateless container."""
    for mount in spec.volumes:
        owner = volume_owner(mount.volume, specs)
        if owner is not None:
            return owner
    return spec if spec.volumes else None


def placed_home(spec: ContainerSpec, specs: list[ContainerSpec], policy: SwarmPolicy) -> ContainerSpec | None:
    """The container whose member label places this one (None: placed anywhere)."""
    if spec.name in policy.global_services:
        # A global service's volume is each node's own: it goes everywhere.
        return None
    if spec.name in policy.placed:
        return spec
    return home_of(spec, specs)


def placement_constraints(spec: ContainerSpec, specs: list[ContainerSpec], policy: SwarmPolicy) -> tuple[str, ...]:
    home = placed_home(spec, specs, policy)
    constraints: list[str] = []
    if home is not None:
        member = policy.member(home.name)
        constraints.append(f"{policy.label(member)}==true")
        if not policy.colocate_members:
            siblings = sorted(
                {
                    policy.member(s.name)
                    for s in specs
                    if placed_home(s, specs, policy) is s
                    and s.name != home.name
                    and member_group(policy.member(s.name)) == member_group(member)
                }
            )
            constraints += [f"{policy.label(sibling)}!=true" for sibling in siblings]
    if dict(policy.gpus).get(spec.name, 0):
        constraints.append(f"{policy.label(GPU_LABEL)}==true")
    return tuple(constraints)


def published_ports(ports: tuple[PortBinding, ...], mode: str) -> tuple[PublishedPort, ...]:
    """A Swarm publishes on every address of a node: a port bound to loopback on one host (the
    operators' UIs) has no Swarm equivalent and stays unpublished (HAProxy's host routes serve it)."""
    return tuple(
        PublishedPort(p.internal, p.external, mode, p.protocol) for p in ports if not p.ip.startswith(_LOOPBACK)
    )


def service_spec(spec: ContainerSpec, specs: list[ContainerSpec], policy: SwarmPolicy) -> ServiceSpec:
    is_global = spec.name in policy.global_services
    home = placed_home(spec, specs, policy)
    stateful = not is_global and home_of(spec, specs) is not None
    replicas = 0 if is_global else dict(policy.replicas).get(spec.name, 1)
    if stateful and replicas > 1:
        raise ValueError(f"service {spec.name}: holds a volume, so it runs one task ({replicas} asked)")
    gpus = dict(policy.gpus).get(spec.name, 0)
    # A Swarm binds a published port on every address of a node: only the edge publishes.
    may_publish = policy.publishers is None or spec.name in policy.publishers
    ports = published_ports(spec.ports, policy.publish_mode) if may_publish else ()
    return ServiceSpec(
        container=spec,
        replicas=replicas,
        global_mode=is_global,
        constraints=placement_constraints(spec, specs, policy),
        max_replicas_per_node=dict(policy.max_replicas_per_node).get(spec.name),
        generic_resources=(f"{GPU_RESOURCE}={gpus}",) if gpus else (),
        # Stateless: the new task is healthy before the old one stops (no capacity lost).
        # Stateful: the old task stops first; a volume is never opened by two processes. A port
        # published in host mode is held by the old task on its node: stop-first too.
        update=UpdatePolicy(
            "stop-first" if stateful or is_global or any(p.mode == "host" for p in ports) else "start-first",
            delay_seconds=policy.update_delay_seconds,
            monitor_seconds=policy.update_monitor_seconds,
        ),
        ports=ports,
        member_label=policy.label(policy.member(home.name)).removeprefix("node.labels.") if home else None,
        endpoint_mode="vip" if any(p.mode == "ingress" for p in ports) else "dnsrr",
    )


def service_specs(specs: list[ContainerSpec], policy: SwarmPolicy) -> list[ServiceSpec]:
    return [service_spec(spec, specs, policy) for spec in specs]


def required_labels(constraints: Iterable[str]) -> list[str]:
    """The node labels these constraints require ("node.labels.X==true" -> "X"): the members'
    and the GPU nodes'; what the operators put on nodes before `pulumi up`."""
    return sorted({c.removeprefix("node.labels.").removesuffix("==true") for c in constraints if c.endswith("==true")})


def node_labels(services: list[ServiceSpec]) -> list[str]:
    return required_labels(c for s in services for c in s.constraints)
