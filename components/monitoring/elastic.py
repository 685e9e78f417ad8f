"""Elasticsearch and Kibana through ECK, least-privilege users for the writers and readers, and the
Prometheus exporter that makes the cluster's health scrapeable (pure builders)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from components.common import labels as lbl
from components.common.docker.containers import SECRETS_DIR
from components.common.kubernetes.manifests import container_resources, metadata, volume_claim_spec
from components.common.values import ResourceAmounts, Resources
from components.common.yaml_text import to_yaml
from components.monitoring.platform import MonitoredPlatform
from components.monitoring.workload import Port, SecretMount, ServerSpec

NAME = "elasticsearch"
KIBANA = "kibana"
ROLES_SECRET = "elasticsearch-roles"
EXPORTER = "elasticsearch-exporter"
# ECK's own names for what it creates from the Elasticsearch resource.
HTTP_SERVICE = f"{NAME}-es-http"
CA_SECRET = f"{NAME}-es-http-certs-public"
SUPERUSER_SECRET = f"{NAME}-es-elastic-user"  # ECK's generated "elastic" superuser (Kibana login)
KIBANA_SERVICE = f"{KIBANA}-kb-http"
KIBANA_PORT = 5601
# Labels ECK puts on the pods it creates.
ES_PODS = {"elasticsearch.k8s.elastic.co/cluster-name": NAME}
KIBANA_PODS = {"kibana.k8s.elastic.co/name": KIBANA}
CA_DIR = "/etc/elasticsearch-ca"
CA_FILE = f"{CA_DIR}/ca.crt"
# Where a client mounts its user's Secret: the password is read from a file, not the environment.
USER_DIR = "/etc/elasticsearch-user"
PASSWORD_FILE = f"{USER_DIR}/password"
EXPORTER_PORT = 9114

KIBANA_RESOURCES = Resources(
    requests=ResourceAmounts(cpu="250m", memory="1Gi"), limits=ResourceAmounts(cpu="1", memory="1Gi")
)
# Indices the platform writes: the shipper's daily platform-logs-YYYY.MM.DD and Jaeger's daily
# jaeger-jaeger-<kind>-YYYY-MM-DD indices; every client names them through these constants.
LOG_INDEX_PREFIX = "platform-logs"
TRACE_INDEX_PREFIX = "jaeger"
LOG_INDICES = f"{LOG_INDEX_PREFIX}-*"
TRACE_INDICES = f"{TRACE_INDEX_PREFIX}-*"


@dataclass(frozen=True)
class ElasticUser:
    """A file-realm user ECK creates from a basic-auth Secret; the password is generated."""

    secret_name: str
    username: str
    role: str


WRITER = ElasticUser("elasticsearch-writer", "platform-writer", "platform_writer")
READER = ElasticUser("elasticsearch-reader", "platform-reader", "platform_reader")
MONITOR = ElasticUser("elasticsearch-monitor", "platform-monitor", "platform_monitor")
USERS = (WRITER, READER, MONITOR)


@dataclass(frozen=True)
class IndexAccess:
    """What one client does in Elasticsearch, as which user: the roles are made of these rows alone,
    so a user holds exactly what its deployed clients need."""

    client: str
    user: ElasticUser
    indices: tuple[str, ...]
    privileges: tuple[str, ...]
    cluster: tuple[str, ...]
    why: str


def index_access(platform: MonitoredPlatform) -> tuple[IndexAccess, ...]:
    """The deployed clients' rows (Jaeger's only where it stores spans in Elasticsearch)."""
    rows = [
        IndexAccess(
            "log-shipper",
            WRITER,
            (LOG_INDICES,),
            ("create_index", "create_doc", "auto_configure"),
            ("monitor",),
            "the OpenTelemetry exporter appends to daily indices it creates, mapping new fields as they come",
        ),
        IndexAccess(
            "elasticsearch-retention",
            WRITER,
            (LOG_INDICES, TRACE_INDICES),
            ("monitor", "delete_index"),
            (),
            "lists the daily indices (_cat/indices) and deletes those past their retention",
        ),
        IndexAccess(
            EXPORTER,
            MONITOR,
            ("*",),
            ("monitor",),
            ("monitor",),
            "cluster health, node, index and shard statistics (--es.indices --es.shards)",
        ),
    ]
    if platform.monitoring.install_stack or not platform.kubernetes:
        # Grafana comes with this stack's kube-prometheus-stack release (always on Docker).
        rows.append(
            IndexAccess(
                "grafana",
                READER,
                (LOG_INDICES,),
                ("read", "view_index_metadata"),
                ("monitor",),
                "the Elasticsearch datasource searches the logs and reads their mappings",
            )
        )
    if platform.monitoring.tracing.storage == "elasticsearch":
        rows.append(
            IndexAccess(
                "jaeger",
                WRITER,
                (TRACE_INDICES,),
                ("create_index", "index", "read", "view_index_metadata"),
                ("monitor", "manage_index_templates"),
                "writes and queries its daily span indices, and installs their index templates at start",
            )
        )
    return tuple(rows)


def deployed_users(platform: MonitoredPlatform) -> tuple[ElasticUser, ...]:
    """The users some deployed client signs in as: only those exist."""
    used = {row.user for row in index_access(platform)}
    return tuple(user for user in USERS if user in used)


def roles(platform: MonitoredPlatform) -> dict[str, Any]:
    """Roles of the deployed users, the union of their clients' rows; no one but the operator-made
    elastic user can do more."""
    result: dict[str, Any] = {}
    for user in deployed_users(platform):
        rows = [row for row in index_access(platform) if row.user == user]
        by_indices: dict[tuple[str, ...], set[str]] = {}
        for row in rows:
            by_indices.setdefault(row.indices, set()).update(row.privileges)
        result[user.role] = {
            "cluster": sorted({c for row in rows for c in row.cluster}),
            "indices": [
                {"names": list(indices), "privileges": sorted(privileges)}
                for indices, privileges in sorted(by_indices.items())
            ],
        }
    return result


HTTP_PORT = 9200


def url(platform: MonitoredPlatform) -> str:
    """ECK's HTTP Service, or the container's network alias on one Docker host."""
    if not platform.kubernetes:
        return f"https://{NAME}:{HTTP_PORT}"
    return f"https://{HTTP_SERVICE}.{platform.monitoring.namespace}.svc:{HTTP_PORT}"


# On Docker every client is given the CA and its user's password as uploaded 0400 files.
DOCKER_CA_SECRET = "elasticsearch-ca"


def ca_file(platform: MonitoredPlatform) -> str:
    """Where a client reads the CA that signed Elasticsearch's HTTPS certificate."""
    return CA_FILE if platform.kubernetes else f"{SECRETS_DIR}/{DOCKER_CA_SECRET}.crt"


def password_file(platform: MonitoredPlatform, user: ElasticUser) -> str:
    """Where a client reads its user's password: the Secret's key, or the uploaded file."""
    return PASSWORD_FILE if platform.kubernetes else f"{SECRETS_DIR}/{user.secret_name}"


def _labels(name: str, platform: MonitoredPlatform) -> dict[str, str]:
    return lbl.standard_labels(name, "search", platform.environment)


def roles_secret(platform: MonitoredPlatform) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": metadata(ROLES_SECRET, platform.monitoring.namespace, _labels(NAME, platform)),
        "type": "Opaque",
        "stringData": {"roles.yml": to_yaml(roles(platform))},
    }


def user_secret(platform: MonitoredPlatform, user: ElasticUser, password: Any) -> dict[str, Any]:
    """`password` is a Pulumi Output marked secret (tests pass a string)."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": metadata(user.secret_name, platform.monitoring.namespace, _labels(NAME, platform)),
        "type": "kubernetes.io/basic-auth",
        "stringData": {"username": user.username, "password": password, "roles": user.role},
    }


def elasticsearch(platform: MonitoredPlatform) -> dict[str, Any]:
    es = platform.monitoring.elasticsearch
    claim = volume_claim_spec(es.storage_size, es.storage_class)
    node_set: dict[str, Any] = {
        "name": "default",
        "count": es.nodes,
        "config": {
            # Without mmap no privileged init container has to raise vm.max_map_count on the node.
            "node.store.allow_mmap": False,
        },
        "podTemplate": {
            "metadata": {"labels": _labels(NAME, platform)},
            "spec": {
                "containers": [
                    {
                        "name": "elasticsearch",
                        "resources": container_resources(es.resources),
                    }
                ]
            },
        },
        "volumeClaimTemplates": [{"metadata": {"name": "elasticsearch-data"}, "spec": claim}],
    }
    if es.nodes >= 3:
        # Spread over zones and make shard allocation zone-aware (ECK 3.4+).
        node_set["zoneAwareness"] = {}
    return {
        "apiVersion": "elasticsearch.k8s.elastic.co/v1",
        "kind": "Elasticsearch",
        "metadata": metadata(NAME, platform.monitoring.namespace, _labels(NAME, platform)),
        "spec": {
            "version": es.version,
            "auth": {
                "roles": [{"secretName": ROLES_SECRET}],
                "fileRealm": [{"secretName": user.secret_name} for user in deployed_users(platform)],
            },
            # ECK's self-signed CA; clients trust it from the <name>-es-http-certs-public Secret.
            "http": {"tls": {"selfSignedCertificate": {"disabled": False}}},
            "nodeSets": [node_set],
        },
    }


def kibana(platform: MonitoredPlatform) -> dict[str, Any]:
    es = platform.monitoring.elasticsearch
    return {
        "apiVersion": "kibana.k8s.elastic.co/v1",
        "kind": "Kibana",
        "metadata": metadata(KIBANA, platform.monitoring.namespace, _labels(KIBANA, platform)),
        "spec": {
            "version": es.version,
            "count": es.kibana_replicas,
            "elasticsearchRef": {"name": NAME},
            "podTemplate": {
                "metadata": {"labels": _labels(KIBANA, platform)},
                "spec": {"containers": [{"name": "kibana", "resources": container_resources(KIBANA_RESOURCES)}]},
            },
        },
    }


def credential_env(user: ElasticUser) -> tuple[dict[str, Any], ...]:
    """ES_USERNAME / ES_PASSWORD from a user's Secret, for the exporter, which reads only those."""
    return tuple(
        {"name": env, "valueFrom": {"secretKeyRef": {"name": user.secret_name, "key": key}}}
        for env, key in (("ES_USERNAME", "username"), ("ES_PASSWORD", "password"))
    )


def exporter_spec(platform: MonitoredPlatform) -> ServerSpec:
    """prometheus-community/elasticsearch_exporter with the monitor user and ECK's CA."""
    return ServerSpec(
        name=EXPORTER,
        namespace=platform.monitoring.namespace,
        component="search",
        environment=platform.environment,
        image=platform.images.elasticsearch_exporter,
        args=(
            f"--es.uri={url(platform)}",
            f"--es.ca={ca_file(platform)}",
            "--es.indices",
            "--es.shards",
            # Kubernetes expands $(POD_IP) from the container's env.
            f"--web.listen-address=$(POD_IP):{EXPORTER_PORT}",
        ),
        ports=(Port("metrics", EXPORTER_PORT),),
        resources=Resources(
            requests=ResourceAmounts(cpu="50m", memory="64Mi"),
            limits=ResourceAmounts(cpu="200m", memory="128Mi"),
        ),
        ready_path="/healthz",
        live_path="/healthz",
        probe_port="metrics",
        secret_mounts=(SecretMount(CA_SECRET, CA_DIR),),
        env=credential_env(MONITOR),
    )
