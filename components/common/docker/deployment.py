"""Where a docker component's containers go: one Docker host (containers) or a Swarm (services).
The components render the same specs either way and hand them here."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_docker as docker

from components.common.docker.containers import ContainerSpec, LocalImage, VolumeSpec
from components.common.docker.resources import DockerLogging, deploy, image_reference
from components.common.docker.services import SwarmPolicy
from components.common.docker.swarm import SwarmContext, deploy_services


@dataclass(frozen=True)
class SwarmDeployment:
    """The component runs as Swarm services placed by `policy`."""

    policy: SwarmPolicy
    # The registry images built here are pushed to, so that every node can pull them
    # ("registry.example.com/teknofest"); None only on a one-node swarm, which has them.
    registry: str | None = None

    def image(self, spec: LocalImage) -> LocalImage:
        if self.registry is None:
            return spec
        return LocalImage(f"{self.registry}/{spec.name}", spec.context, spec.dockerfile, spec.args, push=True)


def deploy_to(
    swarm: SwarmDeployment | None,
    component: str,
    specs: list[ContainerSpec],
    volumes: list[VolumeSpec],
    networks: Mapping[str, docker.Network],
    secrets: dict[str, pulumi.Output[str]],
    logging: DockerLogging,
    opts: pulumi.ResourceOptions,
    built: Mapping[str, docker.Image] | None = None,
) -> None:
    """Containers on the host, or services on the swarm: each node pulls the pinned images and
    creates the named volumes itself, so a swarm has no image or volume resources of its own."""
    if swarm is None:
        deploy(component, specs, volumes, networks, secrets, logging, opts, built)
        return
    images = {name: image_reference(image) for name, image in (built or {}).items()}
    deploy_services(component, specs, SwarmContext(networks, swarm.policy, secrets, logging, None, images), opts)
