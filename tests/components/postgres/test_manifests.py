"""CloudNativePG manifests from literal specs, as data (tests/integration runs postgres and pgbouncer)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from components.postgres.manifests import PostgresSpec, database_url, postgres_manifests
from components.postgres.settings import Backups, Postgres

API = ("api", {"app.kubernetes.io/name": "api", "app.kubernetes.io/part-of": "teknofest-platform"})
BACKUPS = {"destinationPath": "s3://teknofest-backups/production"}
# Production-like: three instances, two poolers per kind, backups to an object store.
PRODUCTION = PostgresSpec(
    settings=Postgres(instances=3, pooler_instances=2),
    backups=Backups.model_validate(BACKUPS),
    namespace="teknofest-production",
    environment="production",
    image="ghcr.io/cloudnative-pg/postgresql:16.10-202509151215-standard-trixie",
    clients=(API,),
    monitoring_namespace="monitoring",
)


def production(postgres: dict[str, Any] | None = None, backups: dict[str, Any] | None = None) -> PostgresSpec:
    """The production-like spec with some settings changed, as a stack file would."""
    settings = Postgres.model_validate({"instances": 3, "poolerInstances": 2, **(postgres or {})})
    return dataclasses.replace(PRODUCTION, settings=settings, backups=Backups.model_validate(backups or BACKUPS))


def objects(spec: PostgresSpec = PRODUCTION) -> dict[tuple[str, str], dict[str, Any]]:
    return {(m["kind"], m["metadata"]["name"]): m for m in postgres_manifests(spec)}


def test_the_cluster_is_ha_tuned_and_archives_wal() -> None:
    spec = objects()[("Cluster", "postgres")]["spec"]
    assert spec["instances"] == 3 and spec["primaryUpdateMethod"] == "switchover"
    assert spec["replicationSlots"] == {"highAvailability": {"enabled": True}}
    assert spec["affinity"]["podAntiAffinityType"] == "required"
    assert spec["resources"]["requests"] == spec["resources"]["limits"]  # Guaranteed QoS
    assert spec["bootstrap"]["initdb"] == {
        "database": "teknofest",
        "owner": "teknofest",
        "secret": {"name": "postgres-app"},
    }
    assert spec["plugins"] == [
        {
            "name": "barman-cloud.cloudnative-pg.io",
            "isWALArchiver": True,
            "parameters": {"barmanObjectName": "postgres-backups", "serverName": "postgres"},
        }
    ]
    assert spec["postgresql"]["parameters"]["archive_timeout"] == "5min"
    assert spec["enableSuperuserAccess"] is False


@pytest.mark.parametrize(("mode", "durability"), [("no-loss", "required"), ("stay-writable", "preferred")])
def test_synchronous_mode_is_settable(mode: str, durability: str) -> None:
    spec = objects(production(postgres={"synchronous": mode}))[("Cluster", "postgres")]["spec"]
    assert spec["postgresql"]["synchronous"] == {"method": "any", "number": 1, "dataDurability": durability}
    off = objects(production(postgres={"synchronous": "off"}))[("Cluster", "postgres")]["spec"]
    assert "synchronous" not in off["postgresql"]


def test_poolers_run_pgbouncer_in_transaction_mode() -> None:
    for kind in ("rw", "ro"):
        spec = objects()[("Pooler", f"postgres-pooler-{kind}")]["spec"]
        assert spec["type"] == kind and spec["instances"] == 2
        assert spec["pgbouncer"]["poolMode"] == "transaction"
        assert spec["pgbouncer"]["parameters"]["default_pool_size"] == "20"
        assert spec["pgbouncer"]["parameters"]["max_client_conn"] == "1000"
        assert spec["pgbouncer"]["parameters"]["max_prepared_statements"] == "200"


def test_backups_daily_with_retention_and_no_keys_in_manifests() -> None:
    found = objects()
    store = found[("ObjectStore", "postgres-backups")]["spec"]
    assert store["retentionPolicy"] == "30d"
    assert store["configuration"]["destinationPath"] == "s3://teknofest-backups/production"
    assert store["configuration"]["s3Credentials"] == {"inheritFromIAMRole": True}
    with_keys = production(backups={**BACKUPS, "credentials": {"accessKeyId": "AKIA", "secretAccessKey": "s3cr3t"}})
    creds = objects(with_keys)[("ObjectStore", "postgres-backups")]["spec"]["configuration"]["s3Credentials"]
    assert creds["secretAccessKey"] == {"name": "postgres-backup-s3", "key": "ACCESS_SECRET_KEY"}
    assert "s3cr3t" not in repr(postgres_manifests(with_keys))
    backup = found[("ScheduledBackup", "postgres-daily")]["spec"]
    assert backup["schedule"] == "0 0 2 * * *" and backup["method"] == "plugin" and backup["immediate"] is True


def test_point_in_time_recovery_bootstraps_from_the_object_store() -> None:
    settings = production(
        backups={**BACKUPS, "recovery": {"sourceServerName": "postgres", "targetTime": "2026-11-28T10:15:00Z"}}
    )
    spec = objects(settings)[("Cluster", "postgres")]["spec"]
    assert spec["bootstrap"]["recovery"]["recoveryTarget"] == {"targetTime": "2026-11-28T10:15:00Z"}
    assert spec["externalClusters"][0]["plugin"]["parameters"]["serverName"] == "postgres"
    # The recovered cluster archives under a new name, never over the backups it came from.
    assert spec["plugins"][0]["parameters"]["serverName"] == "postgres-recovered"


def test_monitoring_and_network_paths() -> None:
    found = objects()
    assert {name for kind, name in found if kind == "PodMonitor"} == {
        "postgres",
        "postgres-pooler-rw",
        "postgres-pooler-ro",
    }
    api_egress = found[("NetworkPolicy", "api-to-postgres")]["spec"]["egress"][0]
    assert [p["podSelector"]["matchLabels"]["cnpg.io/poolerName"] for p in api_egress["to"]] == [
        "postgres-pooler-rw",
        "postgres-pooler-ro",
    ]
    rw_ingress = found[("NetworkPolicy", "postgres-pooler-rw")]["spec"]["ingress"][0]["from"]
    assert rw_ingress == [{"podSelector": {"matchLabels": API[1]}}]


def test_database_url_goes_through_the_pooler() -> None:
    url = database_url(PRODUCTION, "pw")
    assert url == "postgresql://teknofest:pw@postgres-pooler-rw.teknofest-production.svc:5432/teknofest"


def test_keyless_backups_use_the_workload_identity_of_the_instances() -> None:
    irsa = {"eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/teknofest-backups"}
    found = objects(production(backups={**BACKUPS, "serviceAccountAnnotations": irsa}))
    assert found[("Cluster", "postgres")]["spec"]["serviceAccountTemplate"] == {"metadata": {"annotations": irsa}}
    assert found[("ObjectStore", "postgres-backups")]["spec"]["configuration"]["s3Credentials"] == {
        "inheritFromIAMRole": True
    }
    gke = {"iam.gke.io/gcp-service-account": "backups@teknofest.iam.gserviceaccount.com"}
    found = objects(
        production(backups={"destinationPath": "gs://teknofest-backups/prod", "serviceAccountAnnotations": gke})
    )
    configuration = found[("ObjectStore", "postgres-backups")]["spec"]["configuration"]
    assert configuration["googleCredentials"] == {"gkeEnvironment": True} and "s3Credentials" not in configuration
    azure = objects(production(backups={"destinationPath": "https://teknofest.blob.core.windows.net/backups"}))
    assert azure[("ObjectStore", "postgres-backups")]["spec"]["configuration"]["azureCredentials"] == {
        "inheritFromAzureAD": True
    }
    # Without annotations the Cluster keeps the operator's default service account.
    assert "serviceAccountTemplate" not in objects(production())[("Cluster", "postgres")]["spec"]
