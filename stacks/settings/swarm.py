"""The Docker Swarm a swarm-target stack runs on (pulumi-docker's Swarm resources).

The swarm target shares the docker target's `docker:` settings (the endpoint, here a manager's;
the published ports; log rotation; the TLS certificate; GPU and egress) and adds these.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from components.common.values import DnsLabel, Model


class SwarmCluster(Model):
    # API tasks behind HAProxy. A Swarm has no autoscaler: scale with `pulumi config set
    # swarm.apiReplicas N` and `pulumi up` (README); None takes api.minReplicas.
    api_replicas: Annotated[int, Field(ge=1, le=64)] | None = None
    # At most this many tasks of one service on a node, so that a node's loss takes a share of the
    # API and (at 1) only one HAProxy. Leave room for start-first updates: above replicas / nodes.
    api_max_replicas_per_node: Annotated[int, Field(ge=1, le=64)] = 4
    load_balancer_max_replicas_per_node: Annotated[int, Field(ge=1, le=8)] = 1
    # "host": HAProxy's ports bound on the nodes it runs on, client addresses intact (the per-IP
    # rate limit works); point DNS or the upstream balancer at those nodes. "ingress": every node
    # answers through Swarm's routing mesh, which rewrites the client address to the mesh's, so
    # every client shares one rate-limit entry per node.
    publish_mode: Literal["host", "ingress"] = "host"
    # Node labels "<labelPrefix>.<member>=true" say where each stateful member lives (README).
    label_prefix: DnsLabel = "teknofest"
    # Members of one group (a primary and its replica, the Sentinels, the RabbitMQ nodes) refuse to
    # share a node. True only on a one-node swarm (a lab): then no failure survives a node's loss.
    colocate_members: bool = False
    # The registry the PostgreSQL image built here is pushed to, so that every node can pull it
    # ("registry.example.com/teknofest"); unset only on a one-node swarm.
    registry: str | None = Field(default=None, pattern=r"^[a-z0-9.-]+(:[0-9]+)?(/[a-z0-9._-]+)*$")
    # A new task must stay healthy this long before the next one is updated (else: rollback).
    update_monitor_seconds: Annotated[int, Field(ge=5, le=600)] = 30
    update_delay_seconds: Annotated[int, Field(ge=0, le=600)] = 5
    # Each task's CPU and memory requests reserved on its node, as Kubernetes schedules by them.
    # False only on a lab swarm smaller than the platform's requests (nothing is then guaranteed).
    reservations: bool = True
