"""The Kubernetes cluster a kubernetes-target stack deploys into."""

from __future__ import annotations

from pydantic import (
    Field,
)

from components.common.values import (
    DnsLabel,
    DnsName,
    Model,
)


class KubernetesCluster(Model):
    # kubeconfig context; None means the current context (or the provider's own config).
    context: str | None = None
    # Kubernetes version the manifests are validated against (kubernetes-validate, strict).
    version: str = Field(default="1.33", pattern=r"^1\.(2[5-9]|3[0-7])$")
    cluster_domain: DnsName = "cluster.local"
    # Where KEDA's operator runs: it reads queue lengths from RabbitMQ over AMQP.
    keda_namespace: DnsLabel = "keda"
