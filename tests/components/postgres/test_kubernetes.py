"""PostgresCluster under Pulumi's mock engine, from literal args."""

from __future__ import annotations

from components.postgres.kubernetes import PostgresCluster, PostgresClusterArgs
from components.postgres.manifests import PostgresSpec
from components.postgres.settings import Backups, Postgres
from stacks.mock_engine import SECRET_SIG, SIG_KEY, run_under_mocks, unwrap
from tests.components.conftest import API_CLIENT, NAMESPACE, children_of, object_names

IMAGE = "ghcr.io/cloudnative-pg/postgresql:16.10-202509151215-standard-trixie"


def pg_spec(name: str = "postgres", install_operator: bool = True) -> PostgresSpec:
    return PostgresSpec(
        settings=Postgres(instances=2, install_operator=install_operator),
        backups=Backups(destination_path="s3://backups/shop"),
        namespace=NAMESPACE,
        environment="staging",
        image=IMAGE,
        clients=(API_CLIENT,),
        monitoring_namespace="monitoring",
        name=name,
    )


def test_postgres_cluster_installs_pinned_operators_and_generates_the_password() -> None:
    render = run_under_mocks(lambda: PostgresCluster("postgres", PostgresClusterArgs(pg_spec())))
    children = children_of(render, "teknofest:platform:PostgresCluster")
    releases = {unwrap(r.inputs)["chart"]: unwrap(r.inputs) for r in children if r.type.endswith(":Release")}
    assert {chart: inputs["version"] for chart, inputs in releases.items()} == {
        "cloudnative-pg": "0.29.0",
        "plugin-barman-cloud": "0.7.0",
    }
    assert releases["cloudnative-pg"]["namespace"] == "cnpg-system"
    secrets = {unwrap(r.inputs)["metadata"]["name"]: r for r in children if r.type.endswith(":Secret")}
    assert set(secrets) == {"postgres-app", "postgres-client"}
    for secret in secrets.values():
        assert secret.inputs["stringData"].get(SIG_KEY) == SECRET_SIG
    assert unwrap(secrets["postgres-app"].inputs)["type"] == "kubernetes.io/basic-auth"
    url = unwrap(secrets["postgres-client"].inputs, mask=False)["stringData"]["url"]
    assert url == "postgresql://teknofest:mock-postgres-app-password@postgres-pooler-rw.shop.svc:5432/teknofest"
    kinds_present = {r.type.split(":")[-1] for r in children}
    assert {"Cluster", "Pooler", "ObjectStore", "ScheduledBackup", "PodMonitor"} <= kinds_present
    render = run_under_mocks(lambda: PostgresCluster("postgres", PostgresClusterArgs(pg_spec(install_operator=False))))
    assert not any(r.type.endswith(":Release") for r in render.resources)


def test_two_clusters_coexist_and_name_their_objects_after_themselves() -> None:
    def program() -> None:
        PostgresCluster("orders", PostgresClusterArgs(pg_spec("orders")))
        # The operator is cluster-wide: only one of them installs it.
        PostgresCluster("reports", PostgresClusterArgs(pg_spec("reports", install_operator=False)))

    render = run_under_mocks(program)
    names = object_names(render)
    assert len(names) == len(set(names))
    # A Pooler and its NetworkPolicy share the name: pick the Pooler by its type.
    pooler = next(
        unwrap(r.inputs) for r in render.resources if r.name == "shop/reports-pooler-ro" and r.type.endswith(":Pooler")
    )
    assert pooler["spec"]["cluster"] == {"name": "reports"}
    store = next(
        unwrap(r.inputs)
        for r in render.resources
        if r.name == "shop/reports-backups" and r.type.endswith(":ObjectStore")
    )
    assert store["spec"]["configuration"]["destinationPath"] == "s3://backups/shop"
    cluster = next(
        unwrap(r.inputs) for r in render.resources if r.name == "shop/reports" and r.type.endswith(":Cluster")
    )
    assert cluster["spec"]["bootstrap"]["initdb"]["secret"] == {"name": "reports-app"}
    assert cluster["spec"]["plugins"][0]["parameters"] == {
        "barmanObjectName": "reports-backups",
        "serverName": "reports",
    }
