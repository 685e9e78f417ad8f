"""Pure builders of the Redis + Sentinel manifests and the "redis-master" endpoint."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from components.common import labels as lbl
from components.common.kubernetes.manifests import (
    POD_IP_ENV,
    client_egress_policies,
    container_resources,
    metadata,
    namespace_peer,
    pod_disruption_budget,
    rendered_config_map,
    service_account,
    service_monitor,
    spread_constraints,
    volume_claim_spec,
)
from components.common.kubernetes.pod_security import container_security_context, pod_security_context
from components.common.quantities import memory_bytes
from components.load_balancer.haproxy_config import RedisMasterInputs, render_redis_master_cfg
from components.redis.redis_config import (
    ACL_USERS,
    MONITOR_USER,
    SENTINEL_USER,
    AclUser,
    RedisInputs,
    render_redis_conf,
    render_redis_start,
    render_sentinel_conf,
    render_sentinel_start,
)
from components.redis.settings import Redis

CONFIG_DIR = "/etc/redis"
RUNTIME_DIR = "/run/redis"
# The official image runs Redis as the "redis" user, uid and gid 999.
REDIS_USER = 999
HAPROXY_USER = 99
EXPORTER_PORT = 9121


@dataclass(frozen=True)
class RedisNames:
    """The names of one instance's objects, all derived from the instance name, so that two
    instances coexist in one namespace."""

    instance: str = "redis"

    @property
    def redis(self) -> str:
        return self.instance

    @property
    def sentinel(self) -> str:
        return f"{self.instance}-sentinel"

    @property
    def master_proxy(self) -> str:
        """The "redis-master" endpoint that follows failover."""
        return f"{self.instance}-master"

    @property
    def redis_headless(self) -> str:
        return f"{self.instance}-headless"

    @property
    def sentinel_headless(self) -> str:
        return f"{self.instance}-sentinel-headless"

    @property
    def config_map(self) -> str:
        return f"{self.instance}-config"

    @property
    def proxy_config_map(self) -> str:
        return f"{self.instance}-master-config"

    @property
    def auth_secret(self) -> str:
        """The ACL users' and the Sentinels' passwords, read only by this instance's pods."""
        return f"{self.instance}-auth"

    @property
    def client_secret(self) -> str:
        """What clients are given: URLs, the application user's password, the Sentinels' password."""
        return f"{self.instance}-client"


def redis_inputs(r: Redis) -> RedisInputs:
    return RedisInputs(
        maxmemory_bytes=memory_bytes(r.maxmemory),
        maxmemory_policy=r.maxmemory_policy,
        min_replicas_to_write=r.min_replicas_to_write,
        min_replicas_max_lag_seconds=r.min_replicas_max_lag_seconds,
        quorum=r.quorum,
        down_after_milliseconds=r.down_after_milliseconds,
        failover_timeout_milliseconds=r.failover_timeout_milliseconds,
        parallel_syncs=r.parallel_syncs,
        runtime_dir=RUNTIME_DIR,
    )


@dataclass(frozen=True)
class RedisSpec:
    """What one Redis instance (master, replicas, Sentinels, the master endpoint) is built from."""

    # This capability's own settings: sizes, Sentinel timings, memory policy.
    settings: Redis
    namespace: str
    environment: str
    # Redis and Sentinel run the Redis image; the master endpoint runs HAProxy.
    image: str
    exporter_image: str
    proxy_image: str
    # The pools that use it (name -> pod selector): its NetworkPolicies admit exactly those.
    clients: tuple[tuple[str, dict[str, str]], ...] = ()
    cluster_domain: str = "cluster.local"
    # Prometheus's namespace, admitted to the exporters; None: no monitoring, no ServiceMonitor.
    monitoring_namespace: str | None = None
    # The instance name every object's name derives from.
    name: str = "redis"

    @property
    def names(self) -> RedisNames:
        return RedisNames(self.name)

    @property
    def instances(self) -> int:
        return 1 + self.settings.replicas

    def fqdn(self, pod: str, service: str) -> str:
        return f"{pod}.{service}.{self.namespace}.svc.{self.cluster_domain}"

    def labels(self, name: str, component: str, image: str) -> dict[str, str]:
        return lbl.standard_labels(name, component, self.environment, image)

    @property
    def sentinel_addresses(self) -> str:
        port = redis_inputs(self.settings).sentinel_port
        n = self.names
        return " ".join(
            f"{self.fqdn(f'{n.sentinel}-{i}', n.sentinel_headless)}:{port}" for i in range(self.settings.sentinels)
        )

    @property
    def bootstrap_master(self) -> str:
        n = self.names
        return f"{self.fqdn(f'{n.redis}-0', n.redis_headless)}:{redis_inputs(self.settings).port}"


def config_files(spec: RedisSpec) -> dict[str, str]:
    inputs = redis_inputs(spec.settings)
    return {
        "redis.conf": render_redis_conf(inputs),
        "sentinel.conf": render_sentinel_conf(inputs),
        "redis-start.sh": render_redis_start(inputs),
        "sentinel-start.sh": render_sentinel_start(inputs),
    }


def master_proxy_config(spec: RedisSpec) -> str:
    n = spec.names
    port = redis_inputs(spec.settings).port
    servers = tuple(
        (f"{n.redis}-{i}", spec.fqdn(f"{n.redis}-{i}", n.redis_headless), port) for i in range(spec.instances)
    )
    return render_redis_master_cfg(
        RedisMasterInputs(servers=servers, check_user=MONITOR_USER.name, password_env=MONITOR_USER.password_env)
    )


def redis_manifests(spec: RedisSpec) -> list[dict[str, Any]]:
    n = spec.names
    files = config_files(spec)
    redis_labels = spec.labels(n.redis, "cache", spec.image)
    sentinel_labels = spec.labels(n.sentinel, "cache-sentinel", spec.image)
    proxy_labels = spec.labels(n.master_proxy, "cache-endpoint", spec.proxy_image)
    monitoring = spec.monitoring_namespace
    objects: list[dict[str, Any]] = [
        service_account(n.redis, spec.namespace, redis_labels),
        rendered_config_map(n.config_map, spec.namespace, redis_labels, files, spec.name),
        rendered_config_map(
            n.proxy_config_map,
            spec.namespace,
            proxy_labels,
            {"haproxy.cfg": master_proxy_config(spec)},
            f"{spec.name}_master",
        ),
        _headless(n.redis_headless, spec.namespace, redis_labels, lbl.selector_labels(n.redis), "redis", 6379),
        _headless(
            n.sentinel_headless, spec.namespace, sentinel_labels, lbl.selector_labels(n.sentinel), "sentinel", 26379
        ),
        _service(n.sentinel, spec.namespace, sentinel_labels, lbl.selector_labels(n.sentinel), "sentinel", 26379),
        _service(n.master_proxy, spec.namespace, proxy_labels, lbl.selector_labels(n.master_proxy), "redis", 6379),
        _service(
            f"{n.redis}-metrics",
            spec.namespace,
            {**redis_labels, lbl.METRICS_SERVICE: "true"},
            lbl.selector_labels(n.redis),
            "metrics",
            EXPORTER_PORT,
        ),
        _redis_stateful_set(spec, files, redis_labels),
        _sentinel_stateful_set(spec, files, sentinel_labels),
        _master_proxy_deployment(spec, proxy_labels),
        pod_disruption_budget(n.redis, spec.namespace, redis_labels, lbl.selector_labels(n.redis)),
        pod_disruption_budget(n.sentinel, spec.namespace, sentinel_labels, lbl.selector_labels(n.sentinel)),
        pod_disruption_budget(n.master_proxy, spec.namespace, proxy_labels, lbl.selector_labels(n.master_proxy)),
        *_network_policies(spec, redis_labels, monitoring),
        *client_egress_policies(
            spec.clients,
            n.redis,
            spec.namespace,
            lbl.standard_labels(n.redis, "cache", spec.environment),
            [
                {"to": [{"podSelector": {"matchLabels": lbl.selector_labels(n.master_proxy)}}], "ports": [tcp(6379)]},
                {"to": [{"podSelector": {"matchLabels": lbl.selector_labels(n.sentinel)}}], "ports": [tcp(26379)]},
            ],
        ),
    ]
    if monitoring:
        objects.append(
            service_monitor(n.redis, spec.namespace, redis_labels, lbl.selector_labels(n.redis), "metrics", "/metrics")
        )
    return objects


def _port(name: str, port: int) -> dict[str, Any]:
    return {"name": name, "port": port, "targetPort": name, "protocol": "TCP"}


def _headless(
    name: str, ns: str, labels: dict[str, str], selector: dict[str, str], port: str, number: int
) -> dict[str, Any]:
    # Stable per-pod names, published before readiness: the start-up scripts resolve them first.
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata(name, ns, labels),
        "spec": {
            "clusterIP": "None",
            "publishNotReadyAddresses": True,
            "selector": selector,
            "ports": [_port(port, number)],
        },
    }


def _service(
    name: str, ns: str, labels: dict[str, str], selector: dict[str, str], port: str, number: int
) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata(name, ns, labels),
        "spec": {"type": "ClusterIP", "selector": selector, "ports": [_port(port, number)]},
    }


def _checksum(*texts: str) -> str:
    return hashlib.sha256("\n".join(texts).encode()).hexdigest()


def _secret_env(spec: RedisSpec, name: str, key: str) -> dict[str, Any]:
    n = spec.names
    return {"name": name, "valueFrom": {"secretKeyRef": {"name": n.auth_secret, "key": key}}}


def acl_password_key(user: AclUser) -> str:
    """Key of an ACL user's password in the redis-auth Secret: "redis-password" is the application's
    (as before ACLs), "redis-<user>-password" the others' (apart from the Sentinels' own
    "sentinel-password", which clients get)."""
    return "redis-password" if user.name == "app" else f"redis-{user.name}-password"


def _acl_env(spec: RedisSpec, user: AclUser) -> dict[str, Any]:
    return _secret_env(spec, user.password_env, acl_password_key(user))


# Redis's own health: the monitor user, which can only ping and read server state.
_PING_REDIS = (
    f'REDISCLI_AUTH="${MONITOR_USER.password_env}" redis-cli --user {MONITOR_USER.name} -p 6379 ping | grep -q PONG'
)


def _script_env(spec: RedisSpec, headless: str, users: tuple[AclUser, ...]) -> list[dict[str, Any]]:
    """What a start-up script needs: where everything is, the Sentinels' password (it asks them for
    the master) and the passwords of the ACL users it writes or signs in as."""
    domain = f"{headless}.{spec.namespace}.svc.{spec.cluster_domain}"
    return [
        {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": "ANNOUNCE_HOST", "value": f"$(POD_NAME).{domain}"},
        {"name": "SENTINEL_ADDRESSES", "value": spec.sentinel_addresses},
        {"name": "BOOTSTRAP_MASTER", "value": spec.bootstrap_master},
        {"name": "CONFIG_DIR", "value": CONFIG_DIR},
        {"name": "RUNTIME_DIR", "value": RUNTIME_DIR},
        *(_acl_env(spec, user) for user in users),
        _secret_env(spec, "SENTINEL_PASSWORD", "sentinel-password"),
    ]


def _exec_probe(command: str, period: int, failures: int) -> dict[str, Any]:
    return {
        "exec": {"command": ["sh", "-c", command]},
        "periodSeconds": period,
        "timeoutSeconds": 3,
        "failureThreshold": failures,
    }


def _pod_spec(
    spec: RedisSpec, name: str, containers: list[dict[str, Any]], volumes: list[dict[str, Any]], user: int
) -> dict[str, Any]:
    n = spec.names
    selector = lbl.selector_labels(name)
    term = {"topologyKey": "kubernetes.io/hostname", "labelSelector": {"matchLabels": selector}}
    production = spec.environment == "production"
    affinity = (
        {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term]}}
        if production
        else {
            "podAntiAffinity": {
                "preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 100, "podAffinityTerm": term}]
            }
        }
    )
    return {
        "serviceAccountName": n.redis,
        "automountServiceAccountToken": False,
        "securityContext": pod_security_context(user, user),
        "terminationGracePeriodSeconds": 30,
        "containers": containers,
        "volumes": volumes,
        "affinity": affinity,
        "topologySpreadConstraints": spread_constraints(selector),
    }


def _config_volumes(spec: RedisSpec) -> list[dict[str, Any]]:
    n = spec.names
    return [
        {"name": "config", "configMap": {"name": n.config_map, "defaultMode": 0o444}},
        {"name": "runtime", "emptyDir": {"medium": "Memory", "sizeLimit": "16Mi"}},
    ]


def _config_mounts() -> list[dict[str, Any]]:
    return [
        {"name": "config", "mountPath": CONFIG_DIR, "readOnly": True},
        {"name": "runtime", "mountPath": RUNTIME_DIR},
    ]


def _redis_stateful_set(spec: RedisSpec, files: dict[str, str], labels: dict[str, str]) -> dict[str, Any]:
    n = spec.names
    ping = _PING_REDIS
    redis_container = {
        "name": n.redis,
        "image": spec.image,
        "imagePullPolicy": "IfNotPresent",
        "command": ["sh", f"{CONFIG_DIR}/redis-start.sh"],
        "env": _script_env(spec, n.redis_headless, ACL_USERS),
        "ports": [{"name": "redis", "containerPort": 6379, "protocol": "TCP"}],
        "resources": container_resources(spec.settings.resources),
        "securityContext": container_security_context(),
        "volumeMounts": [*_config_mounts(), {"name": "data", "mountPath": "/data"}],
        "startupProbe": _exec_probe(ping, 5, 60),
        "livenessProbe": _exec_probe(ping, 10, 3),
        "readinessProbe": _exec_probe(ping, 5, 2),
    }
    exporter = {
        "name": "exporter",
        "image": spec.exporter_image,
        "imagePullPolicy": "IfNotPresent",
        "env": [
            {"name": "REDIS_ADDR", "value": "redis://127.0.0.1:6379"},
            {"name": "REDIS_USER", "value": MONITOR_USER.name},
            {**_acl_env(spec, MONITOR_USER), "name": "REDIS_PASSWORD"},
            # The pod's own address, not every address (Kubernetes expands $(POD_IP)).
            POD_IP_ENV,
            {"name": "REDIS_EXPORTER_WEB_LISTEN_ADDRESS", "value": f"$(POD_IP):{EXPORTER_PORT}"},
        ],
        "ports": [{"name": "metrics", "containerPort": EXPORTER_PORT, "protocol": "TCP"}],
        "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"cpu": "200m", "memory": "128Mi"}},
        "securityContext": container_security_context(),
        # /health answers while the exporter runs, whether Redis does or not (Redis has its own probes).
        "readinessProbe": {"httpGet": {"path": "/health", "port": "metrics"}, "periodSeconds": 10},
        "livenessProbe": {"httpGet": {"path": "/health", "port": "metrics"}, "periodSeconds": 20},
    }
    storage = volume_claim_spec(spec.settings.storage_size, spec.settings.storage_class)
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": metadata(n.redis, spec.namespace, labels),
        "spec": {
            "replicas": spec.instances,
            "serviceName": n.redis_headless,
            "podManagementPolicy": "OrderedReady",
            "updateStrategy": {"type": "RollingUpdate"},
            "selector": {"matchLabels": lbl.selector_labels(n.redis)},
            "template": {
                "metadata": {"labels": labels, "annotations": {"checksum/config": _checksum(*files.values())}},
                "spec": _pod_spec(spec, n.redis, [redis_container, exporter], _config_volumes(spec), REDIS_USER),
            },
            "volumeClaimTemplates": [{"metadata": {"name": "data", "labels": labels}, "spec": storage}],
            "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain", "whenScaled": "Retain"},
        },
    }


def _sentinel_stateful_set(spec: RedisSpec, files: dict[str, str], labels: dict[str, str]) -> dict[str, Any]:
    n = spec.names
    ping = 'REDISCLI_AUTH="$SENTINEL_PASSWORD" redis-cli -p 26379 ping | grep -q PONG'
    container = {
        "name": "sentinel",
        "image": spec.image,
        "imagePullPolicy": "IfNotPresent",
        "command": ["sh", f"{CONFIG_DIR}/sentinel-start.sh"],
        "env": _script_env(spec, n.sentinel_headless, (SENTINEL_USER,)),
        "ports": [{"name": "sentinel", "containerPort": 26379, "protocol": "TCP"}],
        "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"cpu": "200m", "memory": "128Mi"}},
        "securityContext": container_security_context(),
        "volumeMounts": _config_mounts(),
        "livenessProbe": _exec_probe(ping, 10, 3),
        "readinessProbe": _exec_probe(ping, 5, 2),
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": metadata(n.sentinel, spec.namespace, labels),
        "spec": {
            "replicas": spec.settings.sentinels,
            "serviceName": n.sentinel_headless,
            "podManagementPolicy": "Parallel",
            "selector": {"matchLabels": lbl.selector_labels(n.sentinel)},
            "template": {
                "metadata": {"labels": labels, "annotations": {"checksum/config": _checksum(*files.values())}},
                "spec": _pod_spec(spec, n.sentinel, [container], _config_volumes(spec), REDIS_USER),
            },
        },
    }


def _master_proxy_deployment(spec: RedisSpec, labels: dict[str, str]) -> dict[str, Any]:
    n = spec.names
    health = {"httpGet": {"path": "/healthz", "port": "stats"}, "periodSeconds": 5, "timeoutSeconds": 2}
    container = {
        "name": "haproxy",
        "image": spec.proxy_image,
        "imagePullPolicy": "IfNotPresent",
        "command": ["haproxy", "-W", "-db", "-f", "/usr/local/etc/haproxy/haproxy.cfg"],
        "env": [_acl_env(spec, MONITOR_USER)],
        "ports": [
            {"name": "redis", "containerPort": 6379, "protocol": "TCP"},
            {"name": "stats", "containerPort": 8404, "protocol": "TCP"},
        ],
        "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"cpu": "500m", "memory": "256Mi"}},
        "securityContext": container_security_context(),
        "volumeMounts": [{"name": "config", "mountPath": "/usr/local/etc/haproxy", "readOnly": True}],
        "readinessProbe": health,
        "livenessProbe": health,
    }
    pod = _pod_spec(
        spec,
        n.master_proxy,
        [container],
        [{"name": "config", "configMap": {"name": n.proxy_config_map, "defaultMode": 0o444}}],
        HAPROXY_USER,
    )
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata(n.master_proxy, spec.namespace, labels),
        "spec": {
            "replicas": 2 if spec.environment != "dev" else 1,
            "selector": {"matchLabels": lbl.selector_labels(n.master_proxy)},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
            "template": {
                "metadata": {
                    "labels": labels,
                    "annotations": {"checksum/config": _checksum(master_proxy_config(spec))},
                },
                "spec": pod,
            },
        },
    }


def _network_policies(spec: RedisSpec, labels: dict[str, str], monitoring: str | None) -> list[dict[str, Any]]:
    n = spec.names

    def pods(name: str) -> dict[str, Any]:
        return {"podSelector": {"matchLabels": lbl.selector_labels(name)}}

    clients = [{"podSelector": {"matchLabels": selector}} for _, selector in spec.clients]
    redis_ingress: list[dict[str, Any]] = [
        {"from": [pods(n.redis), pods(n.sentinel), pods(n.master_proxy)], "ports": [tcp(6379)]},
    ]
    if monitoring:
        redis_ingress.append(
            {
                "from": [namespace_peer(monitoring)],
                "ports": [tcp(EXPORTER_PORT)],
            }
        )

    def policy(name: str, selector: str, ingress: list[dict[str, Any]], egress: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": metadata(name, spec.namespace, labels),
            "spec": {
                "podSelector": pods(selector)["podSelector"],
                "policyTypes": ["Ingress", "Egress"],
                "ingress": ingress,
                "egress": egress,
            },
        }

    return [
        policy(
            n.redis,
            n.redis,
            redis_ingress,
            [{"to": [pods(n.redis)], "ports": [tcp(6379)]}, {"to": [pods(n.sentinel)], "ports": [tcp(26379)]}],
        ),
        policy(
            n.sentinel,
            n.sentinel,
            [{"from": [pods(n.sentinel), pods(n.redis), *clients], "ports": [tcp(26379)]}],
            [{"to": [pods(n.redis)], "ports": [tcp(6379)]}, {"to": [pods(n.sentinel)], "ports": [tcp(26379)]}],
        ),
        policy(
            n.master_proxy,
            n.master_proxy,
            [{"from": clients, "ports": [tcp(6379)]}]
            + (
                [
                    {
                        "from": [namespace_peer(monitoring)],
                        "ports": [tcp(8404)],
                    }
                ]
                if monitoring
                else []
            ),
            [{"to": [pods(n.redis)], "ports": [tcp(6379)]}],
        ),
    ]


def tcp(port: int) -> dict[str, Any]:
    return {"port": port, "protocol": "TCP"}
