"""RabbitmqBroker: a RabbitmqCluster with credentials the program generates and owns."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from components.common.manifests import secret_manifest
from components.common.resources import NO_CRD_INSTALLERS, CrdInstallers, create
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
OPERATOR_API_GROUP = "rabbitmq.com"
OPERATOR_MANIFEST = "https://github.com/rabbitmq/cluster-operator/releases/download/v{version}/cluster-operator.yml"


@dataclass(frozen=True)
class RabbitmqBrokerArgs:
    spec: RabbitmqSpec
    # Installers of the CRDs of KEDA's TriggerAuthentication and the ServiceMonitor.
    crds: CrdInstallers = NO_CRD_INSTALLERS


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
        rabbitmq = spec.settings.rabbitmq
        crds = args.crds
        if rabbitmq.install_operator:
            operator = k8s.yaml.v2.ConfigFile(
                f"{name}-cluster-operator",
                file=OPERATOR_MANIFEST.format(version=rabbitmq.operator_version),
                opts=child,
            )
            crds = crds.merged(OPERATOR_API_GROUP, [operator])
        after = pulumi.ResourceOptions(parent=self, depends_on=[default_user, client])
        for manifest in rabbitmq_manifests(spec):
            create(manifest, after, crds)
        self.client_secret_name = CLIENT_SECRET
        self.amqp_endpoint = f"{spec.host}:{AMQP_PORT}"
        self.management_endpoint = f"http://{spec.host}:{MANAGEMENT_PORT}"
        self.register_outputs({"amqpEndpoint": self.amqp_endpoint, "managementEndpoint": self.management_endpoint})
