"""Which cluster add-ons this stack installs, and how: settings in, ClusterAddonsArgs out (pure)."""

from __future__ import annotations

from components.cluster_addons.helm_values import cert_manager_values, keda_values, vpa_values
from components.cluster_addons.kubernetes import ClusterAddonsArgs, HelmChartRelease
from stacks.settings import PlatformSettings

KEDA_REPOSITORY = "https://kedacore.github.io/charts"
CERT_MANAGER_REPOSITORY = "https://charts.jetstack.io"
VPA_REPOSITORY = "https://kubernetes.github.io/autoscaler"
CERT_MANAGER_NAMESPACE = "cert-manager"
VPA_NAMESPACE = "vertical-pod-autoscaler"


def uses_keda(settings: PlatformSettings) -> bool:
    return settings.api.autoscaling.engine == "keda"


def uses_vpa(settings: PlatformSettings) -> bool:
    return settings.api.autoscaling.vpa_recommendations


def uses_cert_manager(settings: PlatformSettings) -> bool:
    """Certificates for the public hosts, and the Barman Cloud plugin's chart (it issues its own)."""
    issuer = settings.tls.enabled and settings.tls.cert_manager_issuer is not None
    return issuer or settings.postgres.install_operator


def cluster_addons_args(settings: PlatformSettings) -> ClusterAddonsArgs:
    addons = settings.cluster_addons
    ha = addons.highly_available if addons.highly_available is not None else settings.environment == "production"
    releases: list[HelmChartRelease] = []
    if addons.keda.install and uses_keda(settings):
        releases.append(
            HelmChartRelease(
                "keda",
                "keda",
                addons.keda.chart_version,
                KEDA_REPOSITORY,
                settings.kubernetes.keda_namespace,
                keda_values(ha),
                ("keda.sh",),
            )
        )
    if addons.cert_manager.install and uses_cert_manager(settings):
        releases.append(
            HelmChartRelease(
                "cert-manager",
                "cert-manager",
                addons.cert_manager.chart_version,
                CERT_MANAGER_REPOSITORY,
                CERT_MANAGER_NAMESPACE,
                cert_manager_values(ha),
                ("cert-manager.io", "acme.cert-manager.io"),
            )
        )
    if addons.vertical_pod_autoscaler.install and uses_vpa(settings):
        releases.append(
            HelmChartRelease(
                "vertical-pod-autoscaler",
                "vertical-pod-autoscaler",
                addons.vertical_pod_autoscaler.chart_version,
                VPA_REPOSITORY,
                VPA_NAMESPACE,
                vpa_values(ha),
                ("autoscaling.k8s.io",),
            )
        )
    return ClusterAddonsArgs(tuple(releases))
