"""RabbitmqBroker: a RabbitmqCluster with credentials the program generates and owns."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from components.common.kubernetes.manifests import secret_manifest
from components.common.kubernetes.resources import NO_CRD_INSTALLERS, CrdInstallers, create
from components.common.names import require_instance_name
from components.rabbitmq.manifests import (
    ADMIN_USER,
    AMQP_PORT,
    APP_USER,
    MANAGEMENT_PORT,
    RabbitmqSpec,
    amqp_url,
    definitions_json,
    rabbitmq_manifests,
)

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
        require_instance_name("RabbitmqBroker", name, args.spec.name)
        super().__init__("teknofest:platform:RabbitmqBroker", name, None, opts)
        spec = args.spec
        child = pulumi.ResourceOptions(parent=self)
        # The application's password (its clients' URL) and the operator's administrator's.
        password = random.RandomPassword(f"{name}-password", length=40, special=False, opts=child)
        admin_password = random.RandomPassword(f"{name}-admin-password", length=40, special=False, opts=child)
        admin: pulumi.Output[str] = pulumi.Output.secret(admin_password.result)
        self.url = pulumi.Output.secret(password.result.apply(lambda pw: amqp_url(spec, APP_USER, pw)))
        # The layout the operator expects of an external default-user Secret: the administrator, whom
        # no pod of the platform is given.
        default_user = create(
            secret_manifest(
                spec.names.default_user_secret,
                spec.namespace,
                spec.labels,
                {
                    "username": ADMIN_USER,
                    "password": admin,
                    "default_user.conf": pulumi.Output.secret(
                        admin_password.result.apply(lambda pw: f"default_user = {ADMIN_USER}\ndefault_pass = {pw}\n")
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
            secret_manifest(spec.names.client_secret, spec.namespace, spec.labels, {"url": self.url}),
            child,
        )
        definitions = create(
            secret_manifest(
                spec.names.definitions_secret,
                spec.namespace,
                spec.labels,
                {
                    "definitions.json": pulumi.Output.secret(
                        pulumi.Output.all(admin_password.result, password.result).apply(
                            lambda pws: definitions_json(pws[0], pws[1])
                        )
                    )
                },
            ),
            child,
        )
        rabbitmq = spec.settings
        crds = args.crds
        if rabbitmq.install_operator:
            operator = k8s.yaml.v2.ConfigFile(
                f"{name}-cluster-operator",
                file=OPERATOR_MANIFEST.format(version=rabbitmq.operator_version),
                opts=child,
            )
            crds = crds.merged(OPERATOR_API_GROUP, [operator])
        after = pulumi.ResourceOptions(parent=self, depends_on=[default_user, client, definitions])
        for manifest in rabbitmq_manifests(spec):
            create(manifest, after, crds)
        self.client_secret_name = spec.names.client_secret
        self.amqp_endpoint = f"{spec.host}:{AMQP_PORT}"
        self.management_endpoint = f"http://{spec.host}:{MANAGEMENT_PORT}"
        self.register_outputs({"amqpEndpoint": self.amqp_endpoint, "managementEndpoint": self.management_endpoint})
