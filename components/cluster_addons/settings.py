"""Settings of the cluster-wide add-ons (KEDA, cert-manager, the VPA recommender)."""

from __future__ import annotations

from typing import Annotated

from pydantic import (
    Field,
)

from components.common.values import (
    Model,
)

ChartVersion = Annotated[str, Field(pattern=r"^v?\d+\.\d+\.\d+$")]


class AddonRelease(Model):
    # Off where the cluster already runs it (one stack per cluster installs the add-ons).
    install: bool = True
    chart_version: ChartVersion


# One class per add-on so that a partial override (`install: false` alone) keeps the pinned version.
class KedaRelease(AddonRelease):
    chart_version: ChartVersion = "2.20.2"


class CertManagerRelease(AddonRelease):
    chart_version: ChartVersion = "v1.21.1"


class VpaRelease(AddonRelease):
    chart_version: ChartVersion = "0.11.0"


class ClusterAddons(Model):
    """Cluster-wide add-ons installed as pinned Helm releases (docs/versions.md), each only where the
    stack uses it: KEDA for `autoscaling.engine: keda`, the VPA recommender for
    `autoscaling.vpaRecommendations`, cert-manager for TLS issuers and the Barman Cloud plugin."""

    keda: KedaRelease = KedaRelease()
    cert_manager: CertManagerRelease = CertManagerRelease()
    vertical_pod_autoscaler: VpaRelease = VpaRelease()
    # Two of each controller with PodDisruptionBudgets; None: as the environment (production: on).
    highly_available: bool | None = None
