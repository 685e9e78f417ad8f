"""Pure builders of the HAProxy workload's manifests (everything but the generated Secret)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from components.common import labels as lbl
from components.common.kubernetes.manifests import (
    container_resources,
    metadata,
    namespace_peer,
    pod_disruption_budget,
    rendered_config_map,
    service_account,
    service_monitor,
    spread_constraints,
)
from components.common.kubernetes.pod_security import container_security_context, pod_security_context
from components.load_balancer.haproxy_config import (
    COOKIE_KEY_ENV,
    STATS_PASSWORD_ENV,
    STATS_USER_ENV,
    HaproxyInputs,
    HostRoute,
    Peer,
    render_entrypoint,
    render_haproxy_cfg,
    ui_password_env,
)
from components.load_balancer.settings import LoadBalancer

CONFIG_DIR = "/usr/local/etc/haproxy"
TLS_DIR = "/etc/haproxy/tls"
RUNTIME_DIR = "/var/run/haproxy"
PEER_PORT = 10000
# The official image runs HAProxy as the "haproxy" user, uid and gid 99.
HAPROXY_USER = 99


@dataclass(frozen=True)
class PublicRoute:
    """A UI served on its own public host through this load balancer (the only external entry)."""

    key: str  # short name: "grafana"
    host: str
    namespace: str  # where the UI's Service and pods are
    service: str
    service_port: int
    # The pods behind it and the port they listen on: NetworkPolicies see pod ports, not Service ports.
    pod_selector: dict[str, str]
    pod_port: int
    tls_backend: bool = False
    # Basic auth with a generated password, for UIs without a login of their own.
    needs_auth: bool = False

    @property
    def password_env(self) -> str | None:
        return ui_password_env(self.key) if self.needs_auth else None

    @property
    def password_key(self) -> str:
        """Key of the UI's password in the load balancer's credentials Secret."""
        return f"ui-{self.key}-password"


@dataclass(frozen=True)
class LoadBalancerSpec:
    settings: LoadBalancer
    namespace: str
    environment: str
    image: str
    cluster_domain: str
    api_headless_service: str
    api_port: int
    api_max_servers: int
    api_ready_path: str
    api_selector: dict[str, str]
    public_host: str
    tls_secret_name: str | None
    monitoring_namespace: str | None
    # Spread replicas over distinct nodes as a hard rule (production) or a preference.
    require_distinct_nodes: bool
    ui_routes: tuple[PublicRoute, ...] = ()
    # The instance name every object's name derives from (two load balancers coexist).
    name: str = "haproxy"

    @property
    def peers_service(self) -> str:
        """The headless Service that gives each replica a stable name for stick-table peering."""
        return f"{self.name}-peers"

    @property
    def stats_service(self) -> str:
        return f"{self.name}-stats"

    @property
    def config_map(self) -> str:
        return f"{self.name}-config"

    @property
    def credentials_secret(self) -> str:
        """The stats and UI basic-auth passwords, read only by the load balancer's pods."""
        return f"{self.name}-credentials"

    @property
    def public_hosts(self) -> tuple[str, ...]:
        return (self.public_host, *(route.host for route in self.ui_routes))

    @property
    def selector(self) -> dict[str, str]:
        return lbl.selector_labels(self.name)

    @property
    def labels(self) -> dict[str, str]:
        return lbl.standard_labels(self.name, "load-balancer", self.environment, self.image)

    def peer_fqdn(self, ordinal: int) -> str:
        return f"{self.name}-{ordinal}.{self.peers_service}.{self.namespace}.svc.{self.cluster_domain}"


def traffic_policy(s: LoadBalancer) -> dict[str, Any]:
    """The HaproxyInputs every target takes from the load balancer's settings alone: rate limit,
    health checks, circuit breaking, timeouts, affinity, how the client address arrives."""
    return {
        "rate_limit_per_second": s.rate_limit.requests_per_second,
        "rate_limit_table_size": s.rate_limit.table_size,
        "check_interval_seconds": s.health_check.interval_seconds,
        "check_fall": s.health_check.fall,
        "check_rise": s.health_check.rise,
        "error_limit": s.error_limit,
        "retries": s.retries,
        "max_connections": s.max_connections,
        "per_server_max_connections": s.per_server_max_connections,
        "timeout_connect_seconds": s.timeouts.connect_seconds,
        "timeout_client_seconds": s.timeouts.client_seconds,
        "timeout_server_seconds": s.timeouts.server_seconds,
        "timeout_http_request_seconds": s.timeouts.http_request_seconds,
        "timeout_queue_seconds": s.timeouts.queue_seconds,
        "timeout_tunnel_seconds": s.timeouts.tunnel_seconds,
        "hard_stop_after_seconds": s.hard_stop_after_seconds,
        "hsts_max_age_seconds": s.hsts_max_age_seconds,
        "session_affinity": s.session_affinity,
        "accept_proxy_protocol": s.client_ip_preservation == "proxy-protocol",
    }


def haproxy_inputs(spec: LoadBalancerSpec) -> HaproxyInputs:
    s = spec.settings
    return HaproxyInputs(
        api_fqdn=f"{spec.api_headless_service}.{spec.namespace}.svc.{spec.cluster_domain}",
        api_port=spec.api_port,
        api_max_servers=spec.api_max_servers,
        ready_path=spec.api_ready_path,
        health_host=spec.public_host,
        **traffic_policy(s),
        tls_certificate=f"{TLS_DIR}/site.pem" if spec.tls_secret_name else None,
        peers=tuple(Peer(f"{spec.name}-{i}", spec.peer_fqdn(i), PEER_PORT) for i in range(s.replicas)),
        runtime_dir=RUNTIME_DIR,
        host_routes=tuple(
            HostRoute(
                route.key,
                route.host,
                f"{route.service}.{route.namespace}.svc.{spec.cluster_domain}:{route.service_port}",
                route.tls_backend,
                route.password_env,
            )
            for route in spec.ui_routes
        ),
    )


def config_files(spec: LoadBalancerSpec) -> dict[str, str]:
    return {
        "haproxy.cfg": render_haproxy_cfg(haproxy_inputs(spec)),
        "entrypoint.sh": render_entrypoint(f"{CONFIG_DIR}/haproxy.cfg", RUNTIME_DIR, peer_wait_seconds=30),
    }


def load_balancer_manifests(spec: LoadBalancerSpec) -> list[dict[str, Any]]:
    files = config_files(spec)
    objects = [
        service_account(spec.name, spec.namespace, spec.labels),
        config_map(spec, files),
        peers_service(spec),
        stateful_set(spec, files),
        public_service(spec),
        stats_service(spec),
        pod_disruption_budget(spec.name, spec.namespace, spec.labels, spec.selector),
        network_policy(spec),
    ]
    if spec.monitoring_namespace:
        objects.append(service_monitor(spec.name, spec.namespace, spec.labels, spec.selector, "stats", "/metrics"))
    return objects


def config_map(spec: LoadBalancerSpec, files: dict[str, str]) -> dict[str, Any]:
    return rendered_config_map(spec.config_map, spec.namespace, spec.labels, files, "load_balancer")


def peers_service(spec: LoadBalancerSpec) -> dict[str, Any]:
    # Stable per-replica names for the peers section, published before the pods are ready because
    # HAProxy resolves every peer (its own name too) while it starts.
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata(spec.peers_service, spec.namespace, spec.labels),
        "spec": {
            "clusterIP": "None",
            "publishNotReadyAddresses": True,
            "selector": spec.selector,
            "ports": [{"name": "peers", "port": PEER_PORT, "targetPort": "peers", "protocol": "TCP"}],
        },
    }


def _affinity(spec: LoadBalancerSpec) -> dict[str, Any]:
    term = {"topologyKey": "kubernetes.io/hostname", "labelSelector": {"matchLabels": spec.selector}}
    if spec.require_distinct_nodes:
        return {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term]}}
    return {
        "podAntiAffinity": {
            "preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 100, "podAffinityTerm": term}]
        }
    }


def stateful_set(spec: LoadBalancerSpec, files: dict[str, str]) -> dict[str, Any]:
    s = spec.settings
    # Pods roll when the rendered config changes: each new pod starts from the new file, and the
    # old one drains (pre-stop pause, then the image's SIGUSR1 soft stop).
    checksum = hashlib.sha256("\n".join(f"{k}\n{v}" for k, v in sorted(files.items())).encode()).hexdigest()
    secret_env = [
        {"name": env, "valueFrom": {"secretKeyRef": {"name": spec.credentials_secret, "key": key}}}
        for env, key in (
            (STATS_USER_ENV, "stats-user"),
            (STATS_PASSWORD_ENV, "stats-password"),
            (COOKIE_KEY_ENV, "cookie-key"),
            *((route.password_env, route.password_key) for route in spec.ui_routes if route.password_env),
        )
    ]
    mounts = [
        {"name": "config", "mountPath": CONFIG_DIR, "readOnly": True},
        {"name": "runtime", "mountPath": RUNTIME_DIR},
    ]
    volumes: list[dict[str, Any]] = [
        {"name": "config", "configMap": {"name": spec.config_map, "defaultMode": 0o444}},
        {"name": "runtime", "emptyDir": {"medium": "Memory", "sizeLimit": "64Mi"}},
    ]
    ports = [
        {"name": "http", "containerPort": 8080, "protocol": "TCP"},
        {"name": "stats", "containerPort": 8404, "protocol": "TCP"},
        {"name": "peers", "containerPort": PEER_PORT, "protocol": "TCP"},
    ]
    if spec.tls_secret_name:
        ports.insert(1, {"name": "https", "containerPort": 8443, "protocol": "TCP"})
        mounts.append({"name": "tls", "mountPath": TLS_DIR, "readOnly": True})
        # HAProxy loads "<crt>.key" beside a certificate without its key.
        volumes.append(
            {
                "name": "tls",
                "secret": {
                    "secretName": spec.tls_secret_name,
                    "defaultMode": 0o440,
                    "items": [{"key": "tls.crt", "path": "site.pem"}, {"key": "tls.key", "path": "site.pem.key"}],
                },
            }
        )
    health = {"httpGet": {"path": "/healthz", "port": "stats"}, "periodSeconds": 5, "timeoutSeconds": 2}
    container = {
        "name": spec.name,
        "image": spec.image,
        "imagePullPolicy": "IfNotPresent",
        "command": ["/bin/sh", f"{CONFIG_DIR}/entrypoint.sh"],
        "ports": ports,
        "env": secret_env,
        "resources": container_resources(s.resources),
        "securityContext": container_security_context(),
        "volumeMounts": mounts,
        "startupProbe": {**health, "failureThreshold": 12},
        "readinessProbe": {**health, "failureThreshold": 2},
        "livenessProbe": {**health, "failureThreshold": 3},
        "lifecycle": {"preStop": {"sleep": {"seconds": s.drain_seconds}}} if s.drain_seconds else {},
    }
    if not container["lifecycle"]:
        del container["lifecycle"]
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": metadata(spec.name, spec.namespace, spec.labels),
        "spec": {
            "replicas": s.replicas,
            "serviceName": spec.peers_service,
            # Replicas are interchangeable; start them together so the peers resolve each other.
            "podManagementPolicy": "Parallel",
            "updateStrategy": {"type": "RollingUpdate"},
            "revisionHistoryLimit": 5,
            "selector": {"matchLabels": spec.selector},
            "template": {
                "metadata": {"labels": spec.labels, "annotations": {"checksum/config": checksum}},
                "spec": {
                    "serviceAccountName": spec.name,
                    "automountServiceAccountToken": False,
                    "securityContext": pod_security_context(HAPROXY_USER, HAPROXY_USER),
                    "terminationGracePeriodSeconds": s.drain_seconds + s.hard_stop_after_seconds + 5,
                    "containers": [container],
                    "volumes": volumes,
                    "affinity": _affinity(spec),
                    "topologySpreadConstraints": spread_constraints(spec.selector),
                },
            },
        },
    }


def public_service(spec: LoadBalancerSpec) -> dict[str, Any]:
    s = spec.settings
    ports = [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}]
    if spec.tls_secret_name:
        ports.append({"name": "https", "port": 443, "targetPort": "https", "protocol": "TCP"})
    service_spec: dict[str, Any] = {
        "type": s.service_type,
        "selector": spec.selector,
        "ports": ports,
        # One client IP keeps to one replica, so its rate-limit counter lives in one place; the
        # peers carry the counters over when a replica goes away.
        "sessionAffinity": "ClientIP",
        "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 3600}},
    }
    if s.service_type in ("LoadBalancer", "NodePort") and s.client_ip_preservation == "local":
        service_spec["externalTrafficPolicy"] = "Local"
    if s.service_type == "LoadBalancer" and s.load_balancer_source_ranges:
        service_spec["loadBalancerSourceRanges"] = list(s.load_balancer_source_ranges)
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata(spec.name, spec.namespace, spec.labels, dict(s.service_annotations) or None),
        "spec": service_spec,
    }


def stats_service(spec: LoadBalancerSpec) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata(spec.stats_service, spec.namespace, {**spec.labels, lbl.METRICS_SERVICE: "true"}),
        "spec": {
            "type": "ClusterIP",
            "selector": spec.selector,
            "ports": [{"name": "stats", "port": 8404, "targetPort": "stats", "protocol": "TCP"}],
        },
    }


def network_policy(spec: LoadBalancerSpec) -> dict[str, Any]:
    own_pods = {"podSelector": {"matchLabels": spec.selector}}
    public_ports = [{"port": "http", "protocol": "TCP"}]
    if spec.tls_secret_name:
        public_ports.append({"port": "https", "protocol": "TCP"})
    ingress: list[dict[str, Any]] = [
        {"ports": public_ports},  # no "from": the public entry point
        {"from": [own_pods], "ports": [{"port": "peers", "protocol": "TCP"}]},
    ]
    if spec.monitoring_namespace:
        ingress.append(
            {
                "from": [namespace_peer(spec.monitoring_namespace)],
                "ports": [{"port": "stats", "protocol": "TCP"}],
            }
        )
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": metadata(spec.name, spec.namespace, spec.labels),
        "spec": {
            "podSelector": {"matchLabels": spec.selector},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": ingress,
            "egress": [
                {
                    "to": [{"podSelector": {"matchLabels": spec.api_selector}}],
                    "ports": [{"port": spec.api_port, "protocol": "TCP"}],
                },
                {"to": [own_pods], "ports": [{"port": PEER_PORT, "protocol": "TCP"}]},
                # The UIs it publishes, each in its own namespace.
                *(
                    {
                        "to": [namespace_peer(route.namespace) | {"podSelector": {"matchLabels": route.pod_selector}}],
                        "ports": [{"port": route.pod_port, "protocol": "TCP"}],
                    }
                    for route in spec.ui_routes
                ),
            ],
        },
    }


def certificate(spec: LoadBalancerSpec, issuer_kind: str, issuer_name: str) -> dict[str, Any]:
    """cert-manager keeps the TLS Secret filled and renewed."""
    if spec.tls_secret_name is None:
        raise ValueError("a Certificate needs TLS switched on (tls.enabled) and a Secret name")
    return {
        "apiVersion": "cert-manager.io/v1",
        "kind": "Certificate",
        "metadata": metadata(spec.tls_secret_name, spec.namespace, spec.labels),
        "spec": {
            "secretName": spec.tls_secret_name,
            "dnsNames": list(spec.public_hosts),
            "issuerRef": {"kind": issuer_kind, "name": issuer_name, "group": "cert-manager.io"},
            "privateKey": {"algorithm": "ECDSA", "size": 256, "rotationPolicy": "Always"},
        },
    }
