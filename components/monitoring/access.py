"""How operators reach the monitoring UIs: ClusterIP Services by default (kubectl port-forward), or an
Ingress per UI with a host from settings, TLS, and basic auth where the UI has no login (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from components.common import labels as lbl
from components.common.manifests import metadata
from components.monitoring import elastic, jaeger
from components.monitoring.stack_values import (
    ALERTMANAGER_PORT,
    ALERTMANAGER_SERVICE,
    GRAFANA,
    GRAFANA_LOCAL_PORT,
    GRAFANA_PORT,
    PROMETHEUS_PORT,
    PROMETHEUS_SERVICE,
)
from stacks.settings import PlatformSettings, UiAccess


@dataclass(frozen=True)
class Ui:
    key: str  # monitoring.access.<key>
    service: str
    port: int
    local_port: int
    # Prometheus, Alertmanager and Jaeger have no login: their Ingress asks for basic auth.
    needs_auth: bool
    # ECK serves Kibana over HTTPS with its own CA.
    https_backend: bool = False
    requires_elasticsearch: bool = False

    def basic_auth_secret(self) -> str:
        return f"{self.key}-basic-auth"


# Local ports of the port-forward lines: the deployment guide's access points (Grafana on 3001).
UIS = (
    Ui("grafana", GRAFANA, GRAFANA_PORT, GRAFANA_LOCAL_PORT, needs_auth=False),
    Ui("prometheus", PROMETHEUS_SERVICE, PROMETHEUS_PORT, PROMETHEUS_PORT, needs_auth=True),
    Ui("alertmanager", ALERTMANAGER_SERVICE, ALERTMANAGER_PORT, ALERTMANAGER_PORT, needs_auth=True),
    Ui("kibana", elastic.KIBANA_SERVICE, 5601, 5601, needs_auth=False, https_backend=True, requires_elasticsearch=True),
    Ui("jaeger", jaeger.NAME, jaeger.UI_PORT, jaeger.UI_PORT, needs_auth=True),
)


def deployed_uis(settings: PlatformSettings) -> tuple[Ui, ...]:
    return tuple(ui for ui in UIS if settings.monitoring.elasticsearch.enabled or not ui.requires_elasticsearch)


def access_of(settings: PlatformSettings, ui: Ui) -> UiAccess:
    access: UiAccess = getattr(settings.monitoring.access, ui.key)
    return access


def ingress(settings: PlatformSettings, ui: Ui) -> dict[str, Any] | None:
    host = access_of(settings, ui).host
    if host is None:
        return None
    annotations: dict[str, str] = {}
    if ui.needs_auth:
        annotations |= {
            "nginx.ingress.kubernetes.io/auth-type": "basic",
            "nginx.ingress.kubernetes.io/auth-secret": ui.basic_auth_secret(),
            "nginx.ingress.kubernetes.io/auth-realm": f"TEKNOFEST {ui.key}",
        }
    if ui.https_backend:
        annotations["nginx.ingress.kubernetes.io/backend-protocol"] = "HTTPS"
    spec: dict[str, Any] = {
        "ingressClassName": settings.monitoring.access.ingress_class_name,
        "rules": [
            {
                "host": host,
                "http": {
                    "paths": [
                        {
                            "path": "/",
                            "pathType": "Prefix",
                            "backend": {"service": {"name": ui.service, "port": {"number": ui.port}}},
                        }
                    ]
                },
            }
        ],
    }
    if settings.tls.enabled:
        spec["tls"] = [{"hosts": [host], "secretName": f"{ui.key}-tls"}]
        issuer = settings.tls.cert_manager_issuer
        if issuer is not None:
            kind = "cluster-issuer" if issuer.kind == "ClusterIssuer" else "issuer"
            annotations[f"cert-manager.io/{kind}"] = issuer.name
        annotations["nginx.ingress.kubernetes.io/ssl-redirect"] = "true"
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": metadata(
            ui.key,
            settings.monitoring.namespace,
            lbl.standard_labels(ui.key, "monitoring-access", settings.environment),
            annotations,
        ),
        "spec": spec,
    }


def basic_auth_secret(settings: PlatformSettings, ui: Ui, htpasswd_line: Any) -> dict[str, Any]:
    """ingress-nginx reads `auth`: "user:bcrypt-hash" (a Pulumi Output, marked secret)."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": metadata(
            ui.basic_auth_secret(),
            settings.monitoring.namespace,
            lbl.standard_labels(ui.key, "monitoring-access", settings.environment),
        ),
        "type": "Opaque",
        "stringData": {"auth": htpasswd_line},
    }


def ui_endpoints(settings: PlatformSettings) -> dict[str, dict[str, str]]:
    """Per UI: its URL, and the exact port-forward line when no host is set."""
    ns = settings.monitoring.namespace
    scheme = "https" if settings.tls.enabled else "http"
    result: dict[str, dict[str, str]] = {}
    for ui in deployed_uis(settings):
        host = access_of(settings, ui).host
        if host is not None:
            result[ui.key] = {"url": f"{scheme}://{host}/"}
        else:
            local_scheme = "https" if ui.https_backend else "http"
            result[ui.key] = {
                "url": f"{local_scheme}://127.0.0.1:{ui.local_port}/",
                "portForward": f"kubectl -n {ns} port-forward svc/{ui.service} {ui.local_port}:{ui.port}",
            }
    return result
