"""LoadBalancer: HAProxy as a StatefulSet with a rendered haproxy.cfg and generated credentials."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_random as random

from components.common.kubernetes.manifests import secret_manifest
from components.common.kubernetes.resources import NO_CRD_INSTALLERS, CrdInstallers, create
from components.common.names import require_instance_name
from components.load_balancer.manifests import (
    LoadBalancerSpec,
    certificate,
    load_balancer_manifests,
)


@dataclass(frozen=True)
class CertManagerRef:
    kind: str
    name: str


@dataclass(frozen=True)
class LoadBalancerArgs:
    spec: LoadBalancerSpec
    # When set, a cert-manager Certificate fills the TLS Secret; otherwise the Secret must exist.
    cert_manager_issuer: CertManagerRef | None = None
    # Installers of the CRDs of the Certificate and ServiceMonitor (cert-manager, Prometheus Operator).
    crds: CrdInstallers = NO_CRD_INSTALLERS


class LoadBalancer(pulumi.ComponentResource):
    service_name: str
    stats_service_name: str
    stats_password: pulumi.Output[str]
    # Basic-auth password of each published UI without a login of its own, by UI key.
    ui_passwords: dict[str, pulumi.Output[str]]

    def __init__(self, name: str, args: LoadBalancerArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        require_instance_name("LoadBalancer", name, args.spec.name)
        super().__init__("teknofest:platform:LoadBalancer", name, None, opts)
        spec = args.spec
        child = pulumi.ResourceOptions(parent=self)
        stats_password = random.RandomPassword(f"{name}-stats-password", length=32, special=False, opts=child)
        # Shared by every replica so that they compute the same affinity cookie for a server.
        cookie_key = random.RandomPassword(f"{name}-cookie-key", length=48, special=False, opts=child)
        self.ui_passwords = {
            route.key: pulumi.Output.secret(
                random.RandomPassword(f"{name}-{route.key}-ui-password", length=32, special=False, opts=child).result
            )
            for route in spec.ui_routes
            if route.needs_auth
        }
        secret = create(
            secret_manifest(
                spec.credentials_secret,
                spec.namespace,
                spec.labels,
                {
                    "stats-user": "admin",
                    "stats-password": pulumi.Output.secret(stats_password.result),
                    "cookie-key": pulumi.Output.secret(cookie_key.result),
                    **{
                        route.password_key: self.ui_passwords[route.key] for route in spec.ui_routes if route.needs_auth
                    },
                },
            ),
            child,
        )
        after_secret = pulumi.ResourceOptions(parent=self, depends_on=[secret])
        if args.cert_manager_issuer is not None and spec.tls_secret_name:
            create(certificate(spec, args.cert_manager_issuer.kind, args.cert_manager_issuer.name), child, args.crds)
        for manifest in load_balancer_manifests(spec):
            create(manifest, after_secret if manifest["kind"] == "StatefulSet" else child, args.crds)
        self.service_name = spec.name
        self.stats_service_name = spec.stats_service
        self.stats_password = pulumi.Output.secret(stats_password.result)
        self.register_outputs({"serviceName": spec.name, "statsServiceName": spec.stats_service})
