"""Pure builders: the RabbitmqCluster, its PDB, monitoring, KEDA authentication and NetworkPolicies."""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from components.common import labels as lbl
from components.common.kubernetes.manifests import (
    client_egress_policies,
    container_resources,
    metadata,
    namespace_peer,
    pod_disruption_budget,
    tcp,
)
from components.common.quantities import memory_bytes
from components.rabbitmq.settings import Rabbitmq

DEFINITIONS_DIR = "/etc/rabbitmq/definitions"
# The application's user and virtual host: no tags (no management, no administration), every
# permission on its own vhost and none elsewhere. The operator's default user administers.
APP_USER = "teknofest"
ADMIN_USER = "teknofest-admin"
VHOST = "teknofest"
OPERATOR_NAMESPACE = "rabbitmq-system"
AMQP_PORT = 5672
PROMETHEUS_PORT = 15692
MANAGEMENT_PORT = 15672


@dataclass(frozen=True)
class RabbitmqNames:
    """The names of one broker's objects, all derived from the instance name."""

    instance: str = "rabbitmq"

    @property
    def cluster(self) -> str:
        return self.instance

    @property
    def default_user_secret(self) -> str:
        """The operator's administrator, whom no pod of the platform is given."""
        return f"{self.instance}-default-user"

    @property
    def client_secret(self) -> str:
        """What clients are given: the application user's AMQP URL."""
        return f"{self.instance}-client"

    @property
    def definitions_secret(self) -> str:
        return f"{self.instance}-definitions"

    @property
    def trigger_authentication(self) -> str:
        """KEDA's TriggerAuthentication, which reads the client Secret's URL."""
        return f"{self.instance}-keda"


@dataclass(frozen=True)
class RabbitmqSpec:
    """What one RabbitMQ cluster (operator-managed) is built from."""

    # This capability's own settings: replicas, sizes, watermarks, TLS.
    settings: Rabbitmq
    namespace: str
    environment: str
    image: str
    # The pools that use it (name -> pod selector): its NetworkPolicy admits exactly those.
    clients: tuple[tuple[str, dict[str, str]], ...] = ()
    # Where KEDA's operator runs (it reads queue lengths over AMQP), admitted to AMQP; None: not admitted.
    keda_namespace: str | None = None
    # A KEDA TriggerAuthentication for the pools' queue-length triggers.
    keda_trigger_authentication: bool = False
    # Prometheus's namespace, admitted to the broker's metrics; None: no monitoring, no ServiceMonitor.
    monitoring_namespace: str | None = None
    # The instance name every object's name derives from.
    name: str = "rabbitmq"

    @property
    def names(self) -> RabbitmqNames:
        return RabbitmqNames(self.name)

    @property
    def pod_selector(self) -> dict[str, str]:
        # The operator labels the broker's pods and Services with the cluster's name.
        return {"app.kubernetes.io/name": self.name}

    @property
    def labels(self) -> dict[str, str]:
        return lbl.standard_labels(self.name, "broker", self.environment, self.image)

    @property
    def host(self) -> str:
        return f"{self.name}.{self.namespace}.svc"


def additional_config(spec: RabbitmqSpec) -> str:
    return render_rabbitmq_conf(spec.settings, f"{DEFINITIONS_DIR}/definitions.json")


def render_rabbitmq_conf(r: Rabbitmq, definitions_path: str) -> str:
    """The broker's policy, target-neutral: quorum queues, watermarks, no guest, definitions at boot."""
    lines = [
        # Declared without an explicit type, queues are quorum queues: replicated, and safe on a node loss.
        "default_queue_type = quorum",
        f"vm_memory_high_watermark.relative = {r.memory_high_watermark}",
        f"disk_free_limit.absolute = {memory_bytes(r.disk_free_limit)}",
        # The guest user never exists; the program-owned user is the only one.
        "loopback_users.guest = false",
        "collect_statistics_interval = 10000",
        # Users, the vhost and permissions from the rendered definitions at every boot. With them
        # RabbitMQ creates no default user or vhost, so the operator's default user is defined there too.
        "definitions.import_backend = local_filesystem",
        f"definitions.local.path = {definitions_path}",
    ]
    if r.tls_secret_name:
        lines += ["listeners.ssl.default = 5671", "ssl_options.fail_if_no_peer_cert = false"]
    return "\n".join(lines) + "\n"


def rabbitmq_cluster(spec: RabbitmqSpec) -> dict[str, Any]:
    r = spec.settings
    persistence: dict[str, Any] = {"storage": r.storage_size}
    if r.storage_class:
        persistence["storageClassName"] = r.storage_class
    term = {"topologyKey": "kubernetes.io/hostname", "labelSelector": {"matchLabels": spec.pod_selector}}
    body: dict[str, Any] = {
        "replicas": r.replicas,
        "image": spec.image,
        "persistence": persistence,
        "resources": container_resources(r.resources),
        "affinity": {
            "podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term]}
            if spec.environment == "production"
            else {"preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 100, "podAffinityTerm": term}]}
        },
        "rabbitmq": {"additionalConfig": additional_config(spec), "additionalPlugins": ["rabbitmq_prometheus"]},
        # Credentials come from a Secret the program generates, not from the operator.
        "secretBackend": {"externalSecret": {"name": spec.names.default_user_secret}},
        "terminationGracePeriodSeconds": 604800 if r.replicas > 1 else 60,
        "override": {
            "statefulSet": {
                "spec": {
                    "template": {
                        "spec": {
                            "containers": [
                                {
                                    "name": "rabbitmq",
                                    "volumeMounts": [
                                        {"name": "definitions", "mountPath": DEFINITIONS_DIR, "readOnly": True}
                                    ],
                                }
                            ],
                            "volumes": [
                                {
                                    "name": "definitions",
                                    # Group-readable: the operator runs RabbitMQ as uid 999 with fsGroup 0.
                                    "secret": {"secretName": spec.names.definitions_secret, "defaultMode": 0o440},
                                }
                            ],
                            "topologySpreadConstraints": [
                                {
                                    "maxSkew": 1,
                                    "topologyKey": "topology.kubernetes.io/zone",
                                    "whenUnsatisfiable": "ScheduleAnyway",
                                    "labelSelector": {"matchLabels": spec.pod_selector},
                                }
                            ],
                        }
                    }
                }
            }
        },
    }
    if r.tls_secret_name:
        body["tls"] = {"secretName": r.tls_secret_name}
    return {
        "apiVersion": "rabbitmq.com/v1beta1",
        "kind": "RabbitmqCluster",
        "metadata": metadata(spec.name, spec.namespace, spec.labels),
        "spec": body,
    }


def trigger_authentication(spec: RabbitmqSpec) -> dict[str, Any]:
    """KEDA reads the AMQP URL from the client Secret to measure queue lengths."""
    return {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "TriggerAuthentication",
        "metadata": metadata(spec.names.trigger_authentication, spec.namespace, spec.labels),
        "spec": {"secretTargetRef": [{"parameter": "host", "name": spec.names.client_secret, "key": "url"}]},
    }


def service_monitor(spec: RabbitmqSpec) -> dict[str, Any]:
    # The aggregated endpoint plus per-queue series (messages ready/unacked, consumers) that the
    # Celery alerts and dashboards need.
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "ServiceMonitor",
        "metadata": metadata(spec.name, spec.namespace, spec.labels),
        "spec": {
            "selector": {"matchLabels": spec.pod_selector},
            "namespaceSelector": {"matchNames": [spec.namespace]},
            "endpoints": [
                {"port": "prometheus", "path": "/metrics", "interval": "15s"},
                {
                    "port": "prometheus",
                    "path": "/metrics/detailed",
                    "params": {"family": ["queue_coarse_metrics", "queue_consumer_count"]},
                    "interval": "30s",
                },
            ],
        },
    }


def network_policies(spec: RabbitmqSpec) -> list[dict[str, Any]]:
    brokers = {"podSelector": {"matchLabels": spec.pod_selector}}
    # epmd, Erlang distribution, and the CLI tools' range.
    inter_node = [*tcp(4369, 25672), {"port": 35672, "endPort": 35682, "protocol": "TCP"}]
    clients = [{"podSelector": {"matchLabels": selector}} for _, selector in spec.clients]
    amqp_ports = (AMQP_PORT, 5671) if spec.settings.tls_secret_name else (AMQP_PORT,)
    ingress = [
        {"from": clients, "ports": tcp(*amqp_ports)},
        # Erlang distribution and peer discovery between the nodes.
        {"from": [brokers], "ports": inter_node},
        # The operator configures users and policies over the management API.
        {"from": [namespace_peer(OPERATOR_NAMESPACE)], "ports": tcp(MANAGEMENT_PORT)},
        # KEDA measures the Celery queues' lengths.
        *([{"from": [namespace_peer(spec.keda_namespace)], "ports": tcp(*amqp_ports)}] if spec.keda_namespace else []),
    ]
    if spec.monitoring_namespace:
        ingress.append({"from": [namespace_peer(spec.monitoring_namespace)], "ports": tcp(PROMETHEUS_PORT)})
    objects = [
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": metadata(spec.name, spec.namespace, spec.labels),
            "spec": {
                "podSelector": {"matchLabels": spec.pod_selector},
                "policyTypes": ["Ingress", "Egress"],
                "ingress": ingress,
                "egress": [
                    {"to": [brokers], "ports": inter_node},
                    # Peer discovery asks the Kubernetes API for the other nodes.
                    {
                        "to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}, {"ipBlock": {"cidr": "::/0"}}],
                        "ports": tcp(443, 6443),
                    },
                ],
            },
        }
    ]
    return objects + client_egress_policies(
        spec.clients, spec.name, spec.namespace, spec.labels, [{"to": [brokers], "ports": tcp(*amqp_ports)}]
    )


def rabbitmq_manifests(spec: RabbitmqSpec) -> list[dict[str, Any]]:
    objects = [
        rabbitmq_cluster(spec),
        pod_disruption_budget(spec.name, spec.namespace, spec.labels, spec.pod_selector),
        *network_policies(spec),
    ]
    # Only KEDA reads it; without KEDA its CRD does not exist and the object could not be created.
    if spec.keda_trigger_authentication:
        objects.append(trigger_authentication(spec))
    if spec.monitoring_namespace:
        objects.append(service_monitor(spec))
    return objects


def amqp_url(spec: RabbitmqSpec, username: str, password: str) -> str:
    return f"amqp://{username}:{password}@{spec.host}:{AMQP_PORT}/{VHOST}"


def password_hash(password: str) -> str:
    """RabbitMQ's rabbit_password_hashing_sha256: base64(salt + sha256(salt + password)). The salt is
    derived from the password so that the rendered file is stable; with 40 generated characters, a
    per-user random salt would add nothing against guessing."""
    salt = hashlib.sha256(f"teknofest-rabbitmq-salt:{password}".encode()).digest()[:4]
    return base64.b64encode(salt + hashlib.sha256(salt + password.encode()).digest()).decode()


def definitions(admin_password: str, app_password: str) -> dict[str, Any]:
    """The broker's users, vhost and permissions, imported at boot (pure)."""
    everything = {"configure": ".*", "write": ".*", "read": ".*"}

    def user(name: str, password: str, tags: list[str]) -> dict[str, Any]:
        return {
            "name": name,
            "password_hash": password_hash(password),
            "hashing_algorithm": "rabbit_password_hashing_sha256",
            "tags": tags,
        }

    return {
        "users": [user(ADMIN_USER, admin_password, ["administrator"]), user(APP_USER, app_password, [])],
        "vhosts": [{"name": VHOST}],
        "permissions": [
            {"user": ADMIN_USER, "vhost": VHOST, **everything},
            # Celery declares its queues and exchanges (configure), publishes (write) and consumes (read).
            {"user": APP_USER, "vhost": VHOST, **everything},
        ],
    }


def definitions_json(admin_password: str, app_password: str) -> str:
    return json.dumps(definitions(admin_password, app_password), indent=2, sort_keys=True) + "\n"
