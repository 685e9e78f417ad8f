"""One rule for every component: its objects are named after its instance name."""

from __future__ import annotations


def require_instance_name(component: str, name: str, spec_name: str) -> None:
    """Refuse a spec rendered for another instance: the objects (and the Secrets clients are told
    to read) carry the spec's name, so it must be the component's own."""
    if spec_name != name:
        raise ValueError(
            f"{component} {name!r}: args.spec.name is {spec_name!r}; build the spec with name={name!r} "
            "(every object of an instance is named after it)"
        )
