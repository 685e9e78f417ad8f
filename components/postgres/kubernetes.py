"""PostgresCluster: CloudNativePG Cluster, PgBouncer Poolers and Barman Cloud backups."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from components.common.kubernetes.manifests import secret_manifest
from components.common.kubernetes.resources import NO_CRD_INSTALLERS, CrdInstallers, create
from components.common.names import require_instance_name
from components.postgres.manifests import OPERATOR_NAMESPACE, PostgresSpec, database_url, postgres_manifests

CHART_REPOSITORY = "https://cloudnative-pg.github.io/charts"
CNPG_API_GROUP = "postgresql.cnpg.io"
BARMAN_API_GROUP = "barmancloud.cnpg.io"
CERT_MANAGER_API_GROUP = "cert-manager.io"


@dataclass(frozen=True)
class PostgresClusterArgs:
    """What to build (every object is named after `spec.name`, so clusters coexist; the operator
    and plugin releases are cluster-wide: `settings.installOperator` in one of them only)."""

    spec: PostgresSpec
    # Installers of CRDs this component does not install itself: cert-manager's (the Barman Cloud
    # plugin's chart issues its certificates with it) and the Prometheus Operator's (PodMonitors).
    crds: CrdInstallers = NO_CRD_INSTALLERS


class PostgresCluster(pulumi.ComponentResource):
    client_secret_name: str
    rw_endpoint: str
    ro_endpoint: str
    url: pulumi.Output[str]

    def __init__(self, name: str, args: PostgresClusterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        require_instance_name("PostgresCluster", name, args.spec.name)
        super().__init__("teknofest:platform:PostgresCluster", name, None, opts)
        spec = args.spec
        pg = spec.settings
        names = spec.names
        child = pulumi.ResourceOptions(parent=self)
        dependencies: list[pulumi.Resource] = []
        crds = args.crds
        if pg.install_operator:
            operator, plugin = self._operators(
                name, pg.operator_chart_version, pg.barman_plugin_chart_version, args.crds
            )
            # The Cluster and its backups name the plugin: they wait for it as well as for the operator.
            crds = crds.merged(CNPG_API_GROUP, [operator, plugin]).merged(BARMAN_API_GROUP, [plugin])
        password = random.RandomPassword(f"{name}-app-password", length=40, special=False, opts=child)
        secret: pulumi.Output[str] = pulumi.Output.secret(password.result)
        ns = spec.namespace
        dependencies.append(
            create(
                secret_manifest(
                    names.app_secret,
                    ns,
                    spec.labels,
                    {"username": pg.owner, "password": secret},
                    secret_type="kubernetes.io/basic-auth",
                ),
                child,
            )
        )
        credentials = spec.backups.credentials
        if credentials is not None:
            dependencies.append(
                create(
                    secret_manifest(
                        names.s3_secret,
                        ns,
                        spec.labels,
                        {
                            "ACCESS_KEY_ID": pulumi.Output.secret(credentials.access_key_id.get_secret_value()),
                            "ACCESS_SECRET_KEY": pulumi.Output.secret(credentials.secret_access_key.get_secret_value()),
                        },
                    ),
                    child,
                )
            )

        def url_for(kind: str) -> pulumi.Output[str]:
            return pulumi.Output.secret(password.result.apply(lambda pw: database_url(spec, pw, kind)))

        self.url = url_for("rw")
        read_only_url = url_for("ro")
        # What application pools read, through the poolers, never as plain config.
        create(
            secret_manifest(
                names.client_secret,
                ns,
                spec.labels,
                {"url": self.url, "read-only-url": read_only_url, "password": secret},
            ),
            child,
        )
        after = pulumi.ResourceOptions(parent=self, depends_on=dependencies)
        for manifest in postgres_manifests(spec):
            create(manifest, after, crds)
        self.client_secret_name = names.client_secret
        self.rw_endpoint = f"{names.pooler('rw')}.{ns}.svc:5432"
        self.ro_endpoint = f"{names.pooler('ro')}.{ns}.svc:5432"
        self.register_outputs({"rwEndpoint": self.rw_endpoint, "roEndpoint": self.ro_endpoint})

    def _operators(
        self, name: str, operator_version: str, plugin_version: str, crds: CrdInstallers
    ) -> tuple[pulumi.Resource, pulumi.Resource]:
        """The operator and the Barman Cloud plugin, cluster-wide, each as a pinned Helm release; the
        plugin after the operator and cert-manager (its chart holds a Certificate and an Issuer)."""
        child = pulumi.ResourceOptions(parent=self)
        operator = k8s.helm.v3.Release(
            f"{name}-cloudnative-pg",
            chart="cloudnative-pg",
            version=operator_version,
            namespace=OPERATOR_NAMESPACE,
            create_namespace=True,
            repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=CHART_REPOSITORY),
            values={"crds": {"create": True}, "monitoring": {"podMonitorEnabled": False}},
            atomic=True,
            opts=child,
        )
        plugin = k8s.helm.v3.Release(
            f"{name}-plugin-barman-cloud",
            chart="plugin-barman-cloud",
            version=plugin_version,
            namespace=OPERATOR_NAMESPACE,
            repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=CHART_REPOSITORY),
            atomic=True,
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=[operator, *crds.by_group.get(CERT_MANAGER_API_GROUP, ())]
            ),
        )
        return operator, plugin
