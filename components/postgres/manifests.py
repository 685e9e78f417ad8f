"""Pure builders of the CloudNativePG resources: Cluster, Poolers, ObjectStore, ScheduledBackup,
PodMonitors and NetworkPolicies."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from components.common import labels as lbl
from components.common.kubernetes.manifests import (
    client_egress_policies,
    container_resources,
    metadata,
    namespace_peer,
)
from components.postgres.parameters import tuned_parameters
from components.postgres.pgbouncer import pgbouncer_parameters
from components.postgres.settings import Backups, Postgres

BARMAN_PLUGIN = "barman-cloud.cloudnative-pg.io"
OPERATOR_NAMESPACE = "cnpg-system"
# CloudNativePG's own labels on the pods it creates.
CLUSTER_LABEL = "cnpg.io/cluster"
POOLER_LABEL = "cnpg.io/poolerName"


def pooler_name(kind: str, cluster: str = "postgres") -> str:
    """The Pooler (and its Service) of one kind, "rw" or "ro", of the cluster named `cluster`."""
    return f"{cluster}-pooler-{kind}"


@dataclass(frozen=True)
class PostgresNames:
    """The names of one cluster's objects, all derived from the instance name."""

    instance: str = "postgres"

    @property
    def cluster(self) -> str:
        return self.instance

    @property
    def app_secret(self) -> str:
        """The owner's credentials (basic-auth), which CloudNativePG sets on the database."""
        return f"{self.instance}-app"

    @property
    def client_secret(self) -> str:
        """What clients are given: the URLs through the poolers."""
        return f"{self.instance}-client"

    @property
    def s3_secret(self) -> str:
        return f"{self.instance}-backup-s3"

    @property
    def object_store(self) -> str:
        return f"{self.instance}-backups"

    def pooler(self, kind: str) -> str:
        return pooler_name(kind, self.instance)


@dataclass(frozen=True)
class PostgresSpec:
    """What one CloudNativePG cluster with its poolers and backups is built from."""

    # This capability's own settings: instances, sizes, pooling, and where backups go.
    settings: Postgres
    backups: Backups
    namespace: str
    environment: str
    image: str
    # The pools that use it (name -> pod selector): the poolers admit exactly those.
    clients: tuple[tuple[str, dict[str, str]], ...] = ()
    # Prometheus's namespace, admitted to the exporters; None: no monitoring, no PodMonitors.
    monitoring_namespace: str | None = None
    # The instance name every object's name derives from.
    name: str = "postgres"

    @property
    def names(self) -> PostgresNames:
        return PostgresNames(self.name)

    @property
    def labels(self) -> dict[str, str]:
        return lbl.standard_labels(self.name, "database", self.environment, self.image)

    @property
    def server_name(self) -> str:
        """Where this cluster writes its backups: a recovered cluster must not write over its source."""
        return f"{self.name}-recovered" if self.backups.recovery else self.name


def postgres_manifests(spec: PostgresSpec) -> list[dict[str, Any]]:
    objects = [cluster(spec), pooler(spec, "rw"), pooler(spec, "ro")]
    if spec.backups.destination_path:
        objects += [object_store(spec), scheduled_backup(spec)]
    if spec.monitoring_namespace:
        n = spec.names
        objects += [pod_monitor(spec, n.cluster, {CLUSTER_LABEL: n.cluster})]
        objects += [pod_monitor(spec, n.pooler(k), {POOLER_LABEL: n.pooler(k)}) for k in ("rw", "ro")]
    objects += network_policies(spec)
    return objects


def _synchronous(mode: str) -> dict[str, Any] | None:
    # "no-loss": a commit waits for a standby and writes stop without one; "stay-writable": it
    # waits while a standby exists but the primary keeps accepting writes when none is left.
    if mode == "off":
        return None
    return {"method": "any", "number": 1, "dataDurability": "required" if mode == "no-loss" else "preferred"}


def cluster(spec: PostgresSpec) -> dict[str, Any]:
    pg = spec.settings
    postgresql: dict[str, Any] = {"parameters": tuned_parameters(pg)}
    synchronous = _synchronous(pg.synchronous)
    if synchronous and pg.instances > 1:
        postgresql["synchronous"] = synchronous
    storage: dict[str, Any] = {"size": pg.storage_size}
    wal_storage: dict[str, Any] = {"size": pg.wal_storage_size}
    if pg.storage_class:
        storage["storageClass"] = wal_storage["storageClass"] = pg.storage_class
    body: dict[str, Any] = {
        "instances": pg.instances,
        "imageName": spec.image,
        "primaryUpdateStrategy": "unsupervised",
        "primaryUpdateMethod": "switchover",
        "enableSuperuserAccess": False,
        "enablePDB": True,
        "storage": storage,
        "walStorage": wal_storage,
        "resources": container_resources(pg.resources),
        "affinity": {
            "enablePodAntiAffinity": True,
            "podAntiAffinityType": "required" if spec.environment == "production" else "preferred",
            "topologyKey": "kubernetes.io/hostname"
            if pg.anti_affinity_topology == "hostname"
            else "topology.kubernetes.io/zone",
        },
        "postgresql": postgresql,
        # Standbys keep their slots across failovers, so none has to be rebuilt from a backup.
        "replicationSlots": {"highAvailability": {"enabled": True}},
        "inheritedMetadata": {"labels": {"app.kubernetes.io/part-of": lbl.PART_OF}},
    }
    backups = spec.backups
    if backups.service_account_annotations:
        # The Barman Cloud sidecar runs in the instance pods: their service account carries the
        # cloud identity (IRSA, GKE Workload Identity) that keyless backups use.
        body["serviceAccountTemplate"] = {"metadata": {"annotations": dict(backups.service_account_annotations)}}
    if backups.destination_path:
        body["plugins"] = [
            {
                "name": BARMAN_PLUGIN,
                "isWALArchiver": True,
                "parameters": {"barmanObjectName": spec.names.object_store, "serverName": spec.server_name},
            }
        ]
    if backups.recovery is not None:
        recovery: dict[str, Any] = {
            "source": "origin",
            "database": pg.database,
            "owner": pg.owner,
            "secret": {"name": spec.names.app_secret},
        }
        if backups.recovery.target_time:
            recovery["recoveryTarget"] = {"targetTime": backups.recovery.target_time}
        body["bootstrap"] = {"recovery": recovery}
        body["externalClusters"] = [
            {
                "name": "origin",
                "plugin": {
                    "name": BARMAN_PLUGIN,
                    "parameters": {
                        "barmanObjectName": spec.names.object_store,
                        "serverName": backups.recovery.source_server_name,
                    },
                },
            }
        ]
    else:
        body["bootstrap"] = {
            "initdb": {"database": pg.database, "owner": pg.owner, "secret": {"name": spec.names.app_secret}}
        }
    return {
        "apiVersion": "postgresql.cnpg.io/v1",
        "kind": "Cluster",
        "metadata": metadata(spec.name, spec.namespace, spec.labels),
        "spec": body,
    }


def pooler(spec: PostgresSpec, kind: str) -> dict[str, Any]:
    pg = spec.settings
    name = spec.names.pooler(kind)
    term = {"topologyKey": "kubernetes.io/hostname", "labelSelector": {"matchLabels": {POOLER_LABEL: name}}}
    return {
        "apiVersion": "postgresql.cnpg.io/v1",
        "kind": "Pooler",
        "metadata": metadata(name, spec.namespace, spec.labels),
        "spec": {
            "cluster": {"name": spec.name},
            "instances": pg.pooler_instances,
            "type": kind,
            "pgbouncer": {"poolMode": "transaction", "parameters": pgbouncer_parameters(pg)},
            "template": {
                "metadata": {"labels": {"app.kubernetes.io/part-of": lbl.PART_OF}},
                "spec": {
                    "containers": [],
                    "affinity": {
                        "podAntiAffinity": {
                            "preferredDuringSchedulingIgnoredDuringExecution": [
                                {"weight": 100, "podAffinityTerm": term}
                            ]
                        }
                    },
                },
            },
        },
    }


def _keyless_credentials(destination: str) -> dict[str, Any]:
    if destination.startswith("gs://"):
        return {"googleCredentials": {"gkeEnvironment": True}}
    if destination.startswith(("http://", "https://")) and ".blob.core.windows.net" in destination:
        return {"azureCredentials": {"inheritFromAzureAD": True}}
    return {"s3Credentials": {"inheritFromIAMRole": True}}


def object_store(spec: PostgresSpec) -> dict[str, Any]:
    b = spec.backups
    configuration: dict[str, Any] = {
        "destinationPath": b.destination_path,
        "wal": {"compression": "gzip", "maxParallel": 4},
        "data": {"compression": "gzip", "jobs": 2},
    }
    if b.endpoint_url:
        configuration["endpointURL"] = b.endpoint_url
    if b.credentials is not None:
        configuration["s3Credentials"] = {
            "accessKeyId": {"name": spec.names.s3_secret, "key": "ACCESS_KEY_ID"},
            "secretAccessKey": {"name": spec.names.s3_secret, "key": "ACCESS_SECRET_KEY"},
        }
    else:
        # No keys in config: the instances' service account gets access from the cloud
        # (backups.serviceAccountAnnotations), in the form of the destination's provider.
        configuration |= _keyless_credentials(b.destination_path or "")
    return {
        "apiVersion": "barmancloud.cnpg.io/v1",
        "kind": "ObjectStore",
        "metadata": metadata(spec.names.object_store, spec.namespace, spec.labels),
        "spec": {"retentionPolicy": b.retention, "configuration": configuration},
    }


def scheduled_backup(spec: PostgresSpec) -> dict[str, Any]:
    return {
        "apiVersion": "postgresql.cnpg.io/v1",
        "kind": "ScheduledBackup",
        "metadata": metadata(f"{spec.name}-daily", spec.namespace, spec.labels),
        "spec": {
            "schedule": spec.backups.schedule,
            "cluster": {"name": spec.name},
            "method": "plugin",
            "pluginConfiguration": {"name": BARMAN_PLUGIN},
            "backupOwnerReference": "self",
            # A base backup right away: PITR works from the first day, not the first night.
            "immediate": True,
        },
    }


def pod_monitor(spec: PostgresSpec, name: str, selector: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PodMonitor",
        "metadata": metadata(name, spec.namespace, spec.labels),
        "spec": {
            "selector": {"matchLabels": selector},
            "namespaceSelector": {"matchNames": [spec.namespace]},
            "podMetricsEndpoints": [{"port": "metrics", "interval": "15s"}],
        },
    }


def network_policies(spec: PostgresSpec) -> list[dict[str, Any]]:
    def policy(
        name: str, selector: dict[str, str], ingress: list[dict[str, Any]], egress: list[dict[str, Any]] | None = None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "podSelector": {"matchLabels": selector},
            "policyTypes": ["Ingress"],
            "ingress": ingress,
        }
        if egress is not None:
            body["policyTypes"].append("Egress")
            body["egress"] = egress
        return {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": metadata(name, spec.namespace, spec.labels),
            "spec": body,
        }

    instances = {"podSelector": {"matchLabels": {CLUSTER_LABEL: spec.name}}}
    poolers = [{"podSelector": {"matchLabels": {POOLER_LABEL: spec.names.pooler(k)}}} for k in ("rw", "ro")]
    clients = [{"podSelector": {"matchLabels": selector}} for _, selector in spec.clients]
    scrapers = [namespace_peer(spec.monitoring_namespace)] if spec.monitoring_namespace else []
    pg_port, status_port, metrics_port = 5432, 8000, 9187
    tcp = [{"port": pg_port, "protocol": "TCP"}]
    # CloudNativePG's instance manager (in instances and poolers) watches the Kubernetes API, and
    # the Barman Cloud plugin reaches the object store: both over HTTPS to addresses outside the
    # cluster's pod network that no selector names.
    https_out = {
        "to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}, {"ipBlock": {"cidr": "::/0"}}],
        "ports": [{"port": 443, "protocol": "TCP"}, {"port": 6443, "protocol": "TCP"}],
    }
    objects = [
        # Instances: the poolers and the other instances (replication) connect; the operator asks
        # each instance's status endpoint; Prometheus scrapes.
        policy(
            f"{spec.name}-instances",
            {CLUSTER_LABEL: spec.name},
            [
                {"from": [instances, *poolers], "ports": tcp},
                {"from": [namespace_peer(OPERATOR_NAMESPACE)], "ports": [{"port": status_port, "protocol": "TCP"}]},
                *([{"from": scrapers, "ports": [{"port": metrics_port, "protocol": "TCP"}]}] if scrapers else []),
            ],
            [{"to": [instances], "ports": tcp}, https_out],
        ),
        *[
            policy(
                spec.names.pooler(k),
                {POOLER_LABEL: spec.names.pooler(k)},
                [
                    {"from": clients, "ports": tcp},
                    *([{"from": scrapers, "ports": [{"port": 9127, "protocol": "TCP"}]}] if scrapers else []),
                ],
                [{"to": [instances], "ports": tcp}, https_out],
            )
            for k in ("rw", "ro")
        ],
    ]
    return objects + client_egress_policies(
        spec.clients, spec.name, spec.namespace, spec.labels, [{"to": poolers, "ports": tcp}]
    )


def database_url(spec: PostgresSpec, password: str, kind: str = "rw") -> str:
    pg = spec.settings
    host = f"{spec.names.pooler(kind)}.{spec.namespace}.svc"
    return f"postgresql://{pg.owner}:{password}@{host}:5432/{pg.database}"
