"""A private CA of the stack's own and server certificates it signs (pulumi-tls): HTTPS between
containers on one host without a certificate authority outside. Keys live in the Pulumi state,
encrypted (secrets), and reach only the container that serves with them, as 0400 files."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_tls as tls

# A server certificate is re-issued by the first `pulumi up` in its last 30 days.
SERVER_VALIDITY_HOURS = 365 * 24
EARLY_RENEWAL_HOURS = 30 * 24
CA_VALIDITY_HOURS = 10 * 365 * 24


@dataclass(frozen=True)
class IssuedCertificate:
    key_pem: pulumi.Output[str]
    cert_pem: pulumi.Output[str]


@dataclass(frozen=True)
class PrivateCa:
    name: str
    key: tls.PrivateKey
    certificate: tls.SelfSignedCert

    @property
    def cert_pem(self) -> pulumi.Output[str]:
        return self.certificate.cert_pem


def private_ca(name: str, common_name: str, opts: pulumi.ResourceOptions) -> PrivateCa:
    """`name`: the logical name prefix of its resources (the owning component's)."""
    key = tls.PrivateKey(f"{name}-ca-key", algorithm="ECDSA", ecdsa_curve="P256", opts=opts)
    cert = tls.SelfSignedCert(
        f"{name}-ca",
        private_key_pem=key.private_key_pem,
        is_ca_certificate=True,
        subject=tls.SelfSignedCertSubjectArgs(common_name=common_name, organization="teknofest-platform"),
        validity_period_hours=CA_VALIDITY_HOURS,
        allowed_uses=["cert_signing", "crl_signing", "digital_signature"],
        opts=opts,
    )
    return PrivateCa(name, key, cert)


def server_certificate(
    ca: PrivateCa, server: str, dns_names: tuple[str, ...], opts: pulumi.ResourceOptions
) -> IssuedCertificate:
    """A certificate for `dns_names` (and loopback, for the container's own healthcheck), usable
    by a server and, for a cluster's transport layer, as a client."""
    key = tls.PrivateKey(f"{ca.name}-{server}-key", algorithm="ECDSA", ecdsa_curve="P256", opts=opts)
    request = tls.CertRequest(
        f"{ca.name}-{server}-request",
        private_key_pem=key.private_key_pem,
        subject=tls.CertRequestSubjectArgs(common_name=dns_names[0], organization="teknofest-platform"),
        dns_names=list(dns_names),
        ip_addresses=["127.0.0.1"],
        opts=opts,
    )
    cert = tls.LocallySignedCert(
        f"{ca.name}-{server}-cert",
        cert_request_pem=request.cert_request_pem,
        ca_private_key_pem=ca.key.private_key_pem,
        ca_cert_pem=ca.cert_pem,
        validity_period_hours=SERVER_VALIDITY_HOURS,
        early_renewal_hours=EARLY_RENEWAL_HOURS,
        allowed_uses=["digital_signature", "key_encipherment", "server_auth", "client_auth"],
        opts=opts,
    )
    # PKCS#8: what both the JVM (Elasticsearch) and Node.js (Kibana) read.
    return IssuedCertificate(pulumi.Output.secret(key.private_key_pem_pkcs8), cert.cert_pem)
