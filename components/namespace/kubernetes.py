"""PlatformNamespace: the namespace every other component of a stack lives in."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from components.common.kubernetes.resources import create
from components.namespace.manifests import baseline_network_policies, namespace


@dataclass(frozen=True)
class PlatformNamespaceArgs:
    name: str
    environment: str
    network_policies: bool = True


class PlatformNamespace(pulumi.ComponentResource):
    name: pulumi.Output[str]

    def __init__(self, name: str, args: PlatformNamespaceArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("teknofest:platform:Namespace", name, None, opts)
        ns = create(namespace(args.name, args.environment), pulumi.ResourceOptions(parent=self))
        # Policies wait for the namespace; components depend on this component, so on both.
        after_ns = pulumi.ResourceOptions(parent=self, depends_on=[ns])
        if args.network_policies:
            for policy in baseline_network_policies(args.name, args.environment):
                create(policy, after_ns)
        self.name = pulumi.Output.from_input(args.name)
        self.register_outputs({"name": self.name})
