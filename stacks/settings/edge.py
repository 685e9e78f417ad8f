"""How the platform is reached: its public domain and TLS."""

from __future__ import annotations

from typing import Literal

from components.common.values import (
    DnsName,
    Model,
)


class CertManagerIssuer(Model):
    kind: Literal["ClusterIssuer", "Issuer"] = "ClusterIssuer"
    name: DnsName


class Tls(Model):
    enabled: bool = True
    # Kubernetes TLS Secret (tls.crt, tls.key) that HAProxy serves.
    secret_name: DnsName = "teknofest-tls"
    # When set, a cert-manager Certificate keeps that Secret filled; otherwise it must exist.
    cert_manager_issuer: CertManagerIssuer | None = None


class Domains(Model):
    api: DnsName = "api.teknofest.local"
