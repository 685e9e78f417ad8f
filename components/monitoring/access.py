"""How operators reach the monitoring UIs: ClusterIP Services by default (kubectl port-forward), or a
public host per UI served by the platform's own HAProxy (the load balancer's routes: TLS, the same rate
limit and headers, basic auth where the UI has no login), so no ingress controller is needed (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from components.common import labels as lbl
from components.common.kubernetes.manifests import namespace_peer, pods_peer
from components.monitoring import elastic, jaeger
from components.monitoring.platform import MonitoredPlatform
from components.monitoring.settings import UiAccess
from components.monitoring.stack_values import (
    ALERTMANAGER_PORT,
    ALERTMANAGER_SERVICE,
    GRAFANA,
    GRAFANA_CONTAINER_PORT,
    GRAFANA_LOCAL_PORT,
    GRAFANA_PORT,
    PROMETHEUS_PORT,
    PROMETHEUS_SERVICE,
)


@dataclass(frozen=True)
class Ui:
    key: str  # monitoring.access.<key>
    service: str
    port: int
    local_port: int
    # The pods behind the Service and their port (NetworkPolicies see pod ports, not Service ports).
    pod_selector: dict[str, str]
    pod_port: int
    # Prometheus, Alertmanager and Jaeger have no login: the edge asks for basic auth.
    needs_auth: bool
    # ECK serves Kibana over HTTPS with its own CA.
    https_backend: bool = False
    requires_elasticsearch: bool = False


@dataclass(frozen=True)
class Edge:
    """The platform's one public entry (our HAProxy): the only client that reaches a published UI."""

    namespace: str
    selector: dict[str, str]

    def peer(self) -> dict[str, Any]:
        return namespace_peer(self.namespace) | pods_peer(self.selector)


# Local ports of the port-forward lines: the deployment guide's access points (Grafana on 3001).
UIS = (
    Ui(
        "grafana",
        GRAFANA,
        GRAFANA_PORT,
        GRAFANA_LOCAL_PORT,
        {"app.kubernetes.io/name": "grafana"},
        GRAFANA_CONTAINER_PORT,
        needs_auth=False,
    ),
    Ui(
        "prometheus",
        PROMETHEUS_SERVICE,
        PROMETHEUS_PORT,
        PROMETHEUS_PORT,
        {"app.kubernetes.io/name": "prometheus"},
        PROMETHEUS_PORT,
        needs_auth=True,
    ),
    Ui(
        "alertmanager",
        ALERTMANAGER_SERVICE,
        ALERTMANAGER_PORT,
        ALERTMANAGER_PORT,
        {"app.kubernetes.io/name": "alertmanager"},
        ALERTMANAGER_PORT,
        needs_auth=True,
    ),
    Ui(
        "kibana",
        elastic.KIBANA_SERVICE,
        elastic.KIBANA_PORT,
        elastic.KIBANA_PORT,
        elastic.KIBANA_PODS,
        elastic.KIBANA_PORT,
        needs_auth=False,
        https_backend=True,
        requires_elasticsearch=True,
    ),
    Ui(
        "jaeger",
        jaeger.NAME,
        jaeger.UI_PORT,
        jaeger.UI_PORT,
        lbl.selector_labels(jaeger.NAME),
        jaeger.UI_PORT,
        needs_auth=True,
    ),
)


def deployed_uis(platform: MonitoredPlatform) -> tuple[Ui, ...]:
    return tuple(ui for ui in UIS if platform.monitoring.elasticsearch.enabled or not ui.requires_elasticsearch)


def access_of(platform: MonitoredPlatform, ui: Ui) -> UiAccess:
    access: UiAccess = getattr(platform.monitoring.access, ui.key)
    return access


def published(platform: MonitoredPlatform, key: str) -> bool:
    """Whether the UI `key` has a public host (served through the edge)."""
    return any(ui.key == key and access_of(platform, ui).host for ui in deployed_uis(platform))


def ui_endpoints(platform: MonitoredPlatform) -> dict[str, dict[str, str]]:
    """Per UI: its URL, and the exact port-forward line when no host is set."""
    ns = platform.monitoring.namespace
    scheme = "https" if platform.tls_enabled else "http"
    result: dict[str, dict[str, str]] = {}
    for ui in deployed_uis(platform):
        host = access_of(platform, ui).host
        if host is not None:
            result[ui.key] = {"url": f"{scheme}://{host}/"}
        else:
            local_scheme = "https" if ui.https_backend else "http"
            result[ui.key] = {
                "url": f"{local_scheme}://127.0.0.1:{ui.local_port}/",
                "portForward": f"kubectl -n {ns} port-forward svc/{ui.service} {ui.local_port}:{ui.port}",
            }
    return result
