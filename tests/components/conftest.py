"""Helpers and small literal fixtures for the component tests: args are written out here, never
read from a Pulumi.<stack>.yaml, so a component is tested as another program would use it."""

from __future__ import annotations

from components.common.values import ResourceAmounts, Resources
from stacks.mock_engine import RegisteredResource, StackRender

NAMESPACE = "shop"
API_CLIENT = ("api", {"app.kubernetes.io/name": "api"})
SMALL = Resources(requests=ResourceAmounts(cpu="100m", memory="128Mi"), limits=ResourceAmounts(cpu="1", memory="1Gi"))


def children_of(render: StackRender, component_type: str, name: str | None = None) -> list[RegisteredResource]:
    """The resources registered with one component (the only one of its type, or the one named)."""
    (component,) = [r for r in render.resources if r.type == component_type and name in (None, r.name)]
    return [r for r in render.resources if r.parent_urn == component.urn]


def kinds(resources: list[RegisteredResource]) -> list[str]:
    return sorted(r.type.split(":")[-1] for r in resources)


def object_names(render: StackRender) -> list[tuple[str, str]]:
    """(type, Pulumi name) of every custom resource: two instances must not share one."""
    return [(r.type, r.name) for r in render.resources if not r.type.startswith("teknofest:")]
