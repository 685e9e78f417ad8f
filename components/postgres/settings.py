"""Settings of PostgreSQL (primary, replicas, poolers) and of its backups."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    Field,
    SecretStr,
    field_validator,
    model_validator,
)

from components.common.values import (
    AnnotationKey,
    DnsLabel,
    MemoryQuantity,
    Model,
    ResourceAmounts,
    Resources,
)


class Postgres(Model):
    instances: Annotated[int, Field(ge=1, le=9)] = 3
    storage_size: MemoryQuantity = "50Gi"
    wal_storage_size: MemoryQuantity = "10Gi"
    storage_class: str | None = None
    database: DnsLabel = "teknofest"
    owner: DnsLabel = "teknofest"
    # "no-loss" waits for a synchronous standby; "stay-writable" keeps accepting writes without one.
    synchronous: Literal["no-loss", "stay-writable", "off"] = "stay-writable"
    # Server connections; the poolers' pools must fit inside (checked below).
    max_connections: Annotated[int, Field(ge=20, le=10000)] = 200
    pooler_instances: Annotated[int, Field(ge=1, le=10)] = 2
    max_client_connections: Annotated[int, Field(ge=10)] = 1000
    default_pool_size: Annotated[int, Field(ge=1)] = 20
    # Transaction pooling with protocol-level prepared statements (PgBouncer 1.21+).
    max_prepared_statements: Annotated[int, Field(ge=0)] = 200
    # Replicas on other nodes ("hostname") or other zones ("zone").
    anti_affinity_topology: Literal["hostname", "zone"] = "hostname"
    # The CloudNativePG operator and the Barman Cloud plugin are cluster-wide: install them from
    # one stack only, and switch this off in the others.
    install_operator: bool = True
    # Helm charts (cloudnative-pg.github.io/charts; docs/versions.md): chart 0.29.0 ships operator
    # 1.30.0, whose CRDs ../shared/crds holds; the plugin's chart is numbered apart from the plugin
    # (chart 0.7.0 = plugin v0.13.0, the same ObjectStore CRD as the v0.14.0 one in ../shared/crds).
    operator_chart_version: str = Field(default="0.29.0", pattern=r"^\d+\.\d+\.\d+$")
    barman_plugin_chart_version: str = Field(default="0.7.0", pattern=r"^\d+\.\d+\.\d+$")
    resources: Resources = Resources(
        requests=ResourceAmounts(cpu="2", memory="4Gi"),
        limits=ResourceAmounts(cpu="2", memory="4Gi"),
    )

    @model_validator(mode="after")
    def _pools_fit(self) -> Postgres:
        # Each pooler instance keeps up to default_pool_size server connections per database;
        # rw and ro poolers both exist; CloudNativePG and superuser tasks need a reserve of 10.
        needed = self.default_pool_size * self.pooler_instances * 2 + 10
        if needed > self.max_connections:
            raise ValueError(
                f"maxConnections ({self.max_connections}) is below what the poolers can open: "
                f"defaultPoolSize x poolerInstances x 2 (rw, ro) + 10 reserved = {needed}"
            )
        return self


class S3Credentials(Model):
    access_key_id: SecretStr
    secret_access_key: SecretStr


class Recovery(Model):
    """Bootstrap a new Cluster from the object store, up to a point in time (PITR)."""

    # The server name the backups were written under (the old cluster's name).
    source_server_name: DnsLabel
    # RFC 3339 timestamp, e.g. "2026-11-28T10:15:00Z"; None recovers to the end of the WAL.
    target_time: str | None = Field(
        default=None, pattern=r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})$"
    )


class Backups(Model):
    # Barman Cloud destination, e.g. "s3://teknofest-backups/production"; required in production.
    destination_path: str | None = Field(default=None, pattern=r"^(s3|gs|https?)://[^\s]+$")
    endpoint_url: str | None = Field(default=None, pattern=r"^https?://[^\s]+$")
    retention: str = Field(default="30d", pattern=r"^[0-9]+[dwm]$")
    # Six-field cron (seconds first), as CloudNativePG's ScheduledBackup expects.
    schedule: str = "0 0 2 * * *"
    # Set as Pulumi secrets (`pulumi config set --secret --path backups.credentials.accessKeyId`).
    credentials: S3Credentials | None = None
    # Without credentials the instances reach the object store with their cloud identity: these
    # annotations go on the service account the Postgres pods run as, e.g.
    # {"eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/teknofest-backups"} (EKS IRSA) or
    # {"iam.gke.io/gcp-service-account": "backups@project.iam.gserviceaccount.com"} (GKE Workload Identity).
    service_account_annotations: dict[AnnotationKey, str] = Field(default_factory=dict)
    # When set, the Cluster is created by recovery from these backups instead of initdb.
    recovery: Recovery | None = None

    @field_validator("schedule")
    @classmethod
    def _six_fields(cls, value: str) -> str:
        if len(value.split()) != 6:
            raise ValueError("must be a six-field cron expression (seconds minutes hours day month weekday)")
        return value
