"""The architecture picture of a rendered stack as Graphviz DOT text (pure): the platform's
components grouped where they run, who talks to whom, and what is published to clients.

On Kubernetes the edges are the topology table's pairs with their ports (the synth holds the
rendered NetworkPolicies to that table), grouped by namespace. On the container targets the boxes
are the rendered containers or services, grouped by network, with their published ports; the edges
are the same table's pairs between the components they run, without ports (the containers' ports
differ from the Services' the table names: PgBouncer listens on 6432 there).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from stacks.topology import Talk

INTERNET = "clients"
# What follows a component's name in one of its members' ("api-0", "postgres-replica-1").
_MEMBER = re.compile(r"-(\d+|primary|replica(-\d+)?)")


@dataclass(frozen=True)
class Edge:
    client: str
    server: str
    label: str = ""


@dataclass(frozen=True)
class Picture:
    title: str
    # Group name -> the boxes in it.
    groups: dict[str, tuple[str, ...]]
    edges: tuple[Edge, ...]


def _id(name: str) -> str:
    return '"' + name.replace('"', "'") + '"'


def to_dot(picture: Picture) -> str:
    """Stable DOT text: groups, boxes and edges sorted; identical stacks give identical text."""
    lines = [
        "digraph architecture {",
        f"  label={_id(picture.title)};",
        "  labelloc=t; rankdir=LR; fontname=Helvetica; fontsize=12;",
        "  node [shape=box, style=rounded, fontname=Helvetica, fontsize=10];",
        "  edge [fontname=Helvetica, fontsize=8, color=gray40];",
        f"  {_id(INTERNET)} [shape=ellipse];",
    ]
    for index, (group, boxes) in enumerate(sorted(picture.groups.items())):
        lines.append(f"  subgraph cluster_{index} {{")
        lines.append(f"    label={_id(group)}; style=dashed;")
        lines += [f"    {_id(box)};" for box in sorted(boxes)]
        lines.append("  }")
    for edge in sorted(set(picture.edges), key=lambda e: (e.client, e.server, e.label)):
        label = f" [label={_id(edge.label)}]" if edge.label else ""
        lines.append(f"  {_id(edge.client)} -> {_id(edge.server)}{label};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def kubernetes_picture(title: str, talks: Iterable[Talk]) -> Picture:
    """Boxes by namespace, one edge per pair with its ports (TCP unless said)."""
    groups: dict[str, set[str]] = {}
    ports: dict[tuple[str, str], set[str]] = {}
    for talk in talks:
        if talk.client.name == talk.server.name:
            continue  # replication within one component (peers, gossip)
        for peer in (talk.client, talk.server):
            if peer.namespace is not None:
                groups.setdefault(peer.namespace, set()).add(peer.name)
        client = INTERNET if talk.client.namespace is None else talk.client.name
        port = str(talk.port) if talk.protocol == "TCP" else f"{talk.port}/{talk.protocol.lower()}"
        ports.setdefault((client, talk.server.name), set()).add(port)
    edges = tuple(
        Edge(client, server, ", ".join(sorted(found, key=lambda p: int(p.split("/")[0]))))
        for (client, server), found in ports.items()
    )
    return Picture(title, {g: tuple(sorted(b)) for g, b in groups.items()}, edges)


def component_of(box: str, components: Iterable[str]) -> str | None:
    """The component a container or service runs: its name, or its name and a member's suffix
    ("api-0" -> "api", "postgres-primary" -> "postgres", "postgres-pooler" -> "postgres-pooler-rw");
    a sidecar such as "postgres-exporter" runs none of the table's components."""
    matches = [c for c in components if box in (_base(c), c) or _MEMBER.fullmatch(box.removeprefix(_base(c)))]
    # The most specific: "redis-sentinel" over "redis" for "redis-sentinel-0"; then by name.
    return min(matches, key=lambda c: (-len(_base(c)), c), default=None)


def _base(component: str) -> str:
    return re.sub(r"-(rw|ro)$", "", component)


def container_picture(
    title: str,
    networks: dict[str, tuple[str, ...]],
    published: dict[str, tuple[str, ...]],
    talks: Iterable[Talk],
) -> Picture:
    """Boxes by network (a box on two networks sits in the first it names), published ports from
    the clients, and the table's pairs between the components the boxes run."""
    placed: dict[str, str] = {}
    for network, boxes in sorted(networks.items()):
        for box in boxes:
            placed.setdefault(box, network)
    groups: dict[str, set[str]] = {}
    for box, network in placed.items():
        groups.setdefault(network, set()).add(box)
    pairs = [(t.client.name, t.server.name) for t in talks if t.client.namespace is not None]
    components = {name for pair in pairs for name in pair}
    runs: dict[str, list[str]] = {}
    for box in placed:
        component = component_of(box, components)
        if component is not None:
            runs.setdefault(component, []).append(box)
    edges = {
        Edge(client_box, server_box)
        for client, server in pairs
        if client != server
        for client_box in runs.get(client, [])
        for server_box in runs.get(server, [])
        if client_box != server_box
    }
    edges |= {Edge(INTERNET, box, ", ".join(ports)) for box, ports in published.items() if ports}
    return Picture(title, {g: tuple(sorted(b)) for g, b in groups.items()}, tuple(edges))
