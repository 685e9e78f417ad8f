"""RabbitmqBroker: a RabbitmqCluster with credentials the program generates and owns."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from components.common.manifests import secret_manifest
from components.common.resources import create
from components.rabbitmq.manifests import (
    AMQP_PORT,
    CLIENT_SECRET,
    DEFAULT_USER_SECRET,
    MANAGEMENT_PORT,
    RabbitmqSpec,
    amqp_url,
    rabbitmq_manifests,
)

USERNAME = "teknofest"
# The operator's own release artifact (namespace rabbitmq-system, CRDs, RBAC, Deployment).
OPERATOR_MANIFEST = "https://github.com/rabbitmq/cluster-operator/releases/download/v{version}/cluster-operator.yml"


@dataclass(frozen=True)
class RabbitmqBrokerArgs:
    spec: RabbitmqSpec


class RabbitmqBroker(pulumi.ComponentResource):
    client_secret_name: str
    amqp_endpoint: str
    management_endpoint: str
    url: pulumi.Output[str]

    def __init__(self, name: str, args: RabbitmqBrokerArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("teknofest:platform:RabbitmqBroker", name, None, opts)
        spec = args.spec
        child = pulumi.ResourceOptions(parent=self)
        password = random.RandomPassword(f"{name}-password", length=40, special=False, opts=child)
        secret: pulumi.Output[str] = pulumi.Output.secret(password.result)
        self.url = pulumi.Output.secret(password.result.apply(lambda pw: amqp_url(spec, USERNAME, pw)))
        # The layout the operator expects of an external default-user Secret.
        default_user = create(
            secret_manifest(
                DEFAULT_USER_SECRET,
                spec.namespace,
                spec.labels,
                {
                    "username": USERNAME,
                    "password": secret,
                    "default_user.conf": pulumi.Output.secret(
                        password.result.apply(lambda pw: f"default_user = {USERNAME}\ndefault_pass = {pw}\n")
                    ),
                    "host": spec.host,
                    "port": str(AMQP_PORT),
                    "provider": "rabbitmq",
                    "type": "rabbitmq",
                },
            ),
            child,
        )
        client = create(
            secret_manifest(CLIENT_SECRET, spec.namespace, spec.labels, {"url": self.url}),
            child,
        )
        dependencies: list[pulumi.Resource] = [default_user, client]
        rabbitmq = spec.settings.rabbitmq
        if rabbitmq.install_operator:
            dependencies.append(
                k8s.yaml.v2.ConfigFile(
                    f"{name}-cluster-operator",
                    file=OPERATOR_MANIFEST.format(version=rabbitmq.operator_version),
                    opts=child,
                )
            )
        after = pulumi.ResourceOptions(parent=self, depends_on=dependencies)
        for manifest in rabbitmq_manifests(spec):
            create(manifest, after)
        self.client_secret_name = CLIENT_SECRET
        self.amqp_endpoint = f"{spec.host}:{AMQP_PORT}"
        self.management_endpoint = f"http://{spec.host}:{MANAGEMENT_PORT}"
        self.register_outputs({"amqpEndpoint": self.amqp_endpoint, "managementEndpoint": self.management_endpoint})
