"""Helm values of kube-prometheus-stack (Prometheus Operator, Prometheus, Alertmanager, Grafana,
node-exporter, kube-state-metrics) and Grafana's datasources (pure)."""

from __future__ import annotations

from typing import Any

from components.common.kubernetes.manifests import container_resources, volume_claim_spec
from components.monitoring import elastic, jaeger, loki
from components.monitoring.dashboards import DASHBOARD_LABEL, FOLDER_ANNOTATION, PROMETHEUS_UID
from components.monitoring.platform import MonitoredPlatform

RELEASE = "kube-prometheus-stack"
CHART_REPOSITORY = "https://prometheus-community.github.io/helm-charts"
ALERTMANAGER_SECRET = "alertmanager-platform"
GRAFANA_ADMIN_SECRET = "grafana-admin"
# Fixed names, so that Services are predictable: kube-prometheus-stack-prometheus:9090,
# kube-prometheus-stack-alertmanager:9093, grafana:80.
GRAFANA = "grafana"
PROMETHEUS_SERVICE = f"{RELEASE}-prometheus"
GRAFANA_LOCAL_PORT = 3001
ALERTMANAGER_SERVICE = f"{RELEASE}-alertmanager"
# (Service, port) the release creates: what the edge may route to besides our own Services.
GRAFANA_PORT, PROMETHEUS_PORT, ALERTMANAGER_PORT = 80, 9090, 9093
# Grafana's container port behind its Service (the chart's service.targetPort).
GRAFANA_CONTAINER_PORT = 3000
# Alertmanager's cluster (memberlist) port, TCP and UDP.
ALERTMANAGER_GOSSIP_PORT = 9094
CHART_SERVICES = frozenset(
    {(GRAFANA, GRAFANA_PORT), (PROMETHEUS_SERVICE, PROMETHEUS_PORT), (ALERTMANAGER_SERVICE, ALERTMANAGER_PORT)}
)


def datasources(platform: MonitoredPlatform) -> list[dict[str, Any]]:
    """Loki, Jaeger and Elasticsearch next to the chart's Prometheus; traces link to their logs."""
    sources: list[dict[str, Any]] = [
        {
            "name": "Loki",
            "uid": "loki",
            "type": "loki",
            "access": "proxy",
            "url": loki.query_url(platform),
            "jsonData": {
                "maxLines": 5000,
                # Log lines that carry a trace id open the trace in Jaeger.
                "derivedFields": [
                    {
                        "name": "TraceID",
                        "matcherRegex": r"trace_id=(\w+)",
                        "datasourceUid": "jaeger",
                        "url": "$${__value.raw}",
                    }
                ],
            },
        },
        {
            "name": "Jaeger",
            "uid": "jaeger",
            "type": "jaeger",
            "access": "proxy",
            "url": f"http://{platform.service_host(jaeger.NAME)}:{jaeger.UI_PORT}",
            "jsonData": {
                # Trace -> logs: the span's service and time window, filtered by trace id, in Loki.
                "tracesToLogsV2": {
                    "datasourceUid": "loki",
                    "spanStartTimeShift": "-5m",
                    "spanEndTimeShift": "5m",
                    "filterByTraceID": True,
                    "filterBySpanID": False,
                    "tags": [{"key": "service.name", "value": "service_name"}],
                },
                "nodeGraph": {"enabled": True},
            },
        },
    ]
    if platform.monitoring.elasticsearch.enabled:
        sources.append(
            {
                "name": "Elasticsearch",
                "uid": "elasticsearch",
                "type": "elasticsearch",
                "access": "proxy",
                "url": elastic.url(platform),
                "basicAuth": True,
                "basicAuthUser": elastic.READER.username,
                "jsonData": {"index": elastic.LOG_INDICES, "timeField": "@timestamp", "tlsAuthWithCACert": True},
                # Grafana expands these from its environment (envValueFrom below) on Kubernetes, from
                # the uploaded files on Docker: no secret in values or provisioning files.
                "secureJsonData": {
                    "basicAuthPassword": "$ELASTICSEARCH_READER_PASSWORD"
                    if platform.kubernetes
                    else f"$__file{{{elastic.password_file(platform, elastic.READER)}}}",
                    "tlsCACert": "$ELASTICSEARCH_CA"
                    if platform.kubernetes
                    else f"$__file{{{elastic.ca_file(platform)}}}",
                },
            }
        )
    return sources


def _volume_claim(size: str, storage_class: str | None) -> dict[str, Any]:
    return {"volumeClaimTemplate": {"spec": volume_claim_spec(size, storage_class)}}


def grafana_root_url(platform: MonitoredPlatform) -> str:
    """Where browsers reach Grafana: its host, or the local end of the port-forward."""
    host = platform.monitoring.access.grafana.host
    if host is None:
        return f"http://127.0.0.1:{GRAFANA_LOCAL_PORT}/"
    return f"{'https' if platform.tls_enabled else 'http'}://{host}/"


def _disruption_budget(replicas: int) -> dict[str, Any]:
    # The chart leaves these off; with replicas, a node drain must keep all but one running.
    return {"enabled": replicas > 1, "minAvailable": max(replicas - 1, 1)}


def kube_prometheus_stack_values(
    platform: MonitoredPlatform, alertmanager_edge: tuple[str, dict[str, str]] | None = None
) -> dict[str, Any]:
    """`alertmanager_edge`: (namespace, pod labels) of the public entry, where it publishes Alertmanager."""
    m = platform.monitoring
    p = m.prometheus
    production = platform.environment == "production"
    env_from_secrets: dict[str, Any] = {}
    if m.elasticsearch.enabled:
        env_from_secrets = {
            "ELASTICSEARCH_READER_PASSWORD": {"secretKeyRef": {"name": elastic.READER.secret_name, "key": "password"}},
            "ELASTICSEARCH_CA": {"secretKeyRef": {"name": elastic.CA_SECRET, "key": "ca.crt"}},
        }
    return {
        "fullnameOverride": RELEASE,
        "crds": {"enabled": True},
        # Ours replaces the chart's Watchdog (routed to the dead man's switch by our Alertmanager config).
        "defaultRules": {"create": True, "disabled": {"Watchdog": True}},
        "prometheusOperator": {"enabled": True},
        "prometheus": {
            "podDisruptionBudget": _disruption_budget(p.replicas),
            "prometheusSpec": {
                "replicas": p.replicas,
                "retention": p.retention,
                "retentionSize": p.retention_size,
                "storageSpec": _volume_claim(p.storage_size, p.storage_class),
                "resources": container_resources(p.resources),
                "externalLabels": {"environment": platform.environment},
                "podAntiAffinity": "hard" if production else "soft",
                # Select every ServiceMonitor/PodMonitor/PrometheusRule in every namespace, whatever
                # its labels: the default only picks those labelled with this Helm release.
                "serviceMonitorSelectorNilUsesHelmValues": False,
                "podMonitorSelectorNilUsesHelmValues": False,
                "ruleSelectorNilUsesHelmValues": False,
                "probeSelectorNilUsesHelmValues": False,
                "scrapeConfigSelectorNilUsesHelmValues": False,
                "serviceMonitorSelector": {},
                "serviceMonitorNamespaceSelector": {},
                "podMonitorSelector": {},
                "podMonitorNamespaceSelector": {},
                "ruleSelector": {},
                "ruleNamespaceSelector": {},
            },
        },
        "alertmanager": {
            "podDisruptionBudget": _disruption_budget(m.alertmanager.replicas),
            # The chart's policy admits Prometheus and the config reloader; the edge where it publishes
            # Alertmanager (its "gateway" rule renders only with both namespace and pod labels); and
            # ours: Grafana (its Alertmanager datasource) and the replicas' gossip. The chart's own
            # cluster rule renders only with service.clusterPort set, and then for TCP alone, while
            # memberlist probes peers over UDP: without this rule the replicas could not deduplicate.
            "networkPolicy": {
                "enabled": True,
                **(
                    {"gateway": {"namespace": alertmanager_edge[0], "podLabels": dict(alertmanager_edge[1])}}
                    if alertmanager_edge
                    else {}
                ),
                "additionalIngress": [
                    {
                        "from": [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "grafana"}}}],
                        "ports": [{"port": ALERTMANAGER_PORT, "protocol": "TCP"}],
                    },
                    {
                        "from": [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "alertmanager"}}}],
                        "ports": [
                            {"port": ALERTMANAGER_GOSSIP_PORT, "protocol": "TCP"},
                            {"port": ALERTMANAGER_GOSSIP_PORT, "protocol": "UDP"},
                        ],
                    },
                ],
            },
            "alertmanagerSpec": {
                "replicas": m.alertmanager.replicas,
                # Our rendered config (receivers' secrets inside) from a Secret this program writes.
                "configSecret": ALERTMANAGER_SECRET,
                "storage": _volume_claim(m.alertmanager.storage_size, None),
                "podAntiAffinity": "hard" if production else "soft",
            },
        },
        "grafana": {
            "enabled": True,
            "fullnameOverride": GRAFANA,
            "admin": {"existingSecret": GRAFANA_ADMIN_SECRET, "userKey": "admin-user", "passwordKey": "admin-password"},
            "grafana.ini": {
                "server": {"root_url": grafana_root_url(platform)},
                "auth.anonymous": {"enabled": False},
                "users": {"allow_sign_up": False, "allow_org_create": False},
                "security": {
                    "cookie_secure": platform.tls_enabled and m.access.grafana.host is not None,
                    "disable_gravatar": True,
                    "disable_initial_admin_creation": False,
                },
                "analytics": {"reporting_enabled": False, "check_for_updates": False},
            },
            "defaultDashboardsEnabled": True,
            "sidecar": {
                "dashboards": {
                    "enabled": True,
                    "label": DASHBOARD_LABEL,
                    "labelValue": "1",
                    "searchNamespace": [m.namespace],
                    "folderAnnotation": FOLDER_ANNOTATION,
                    "provider": {"foldersFromFilesStructure": True, "allowUiUpdates": False},
                },
                "datasources": {"enabled": True, "defaultDatasourceEnabled": True, "uid": PROMETHEUS_UID},
            },
            "additionalDataSources": datasources(platform),
            "envValueFrom": env_from_secrets,
            "persistence": {"enabled": False},
            "serviceMonitor": {"enabled": True},
        },
        "nodeExporter": {"enabled": True},
        "kubeStateMetrics": {"enabled": True},
        "kube-state-metrics": {"fullnameOverride": "kube-state-metrics"},
        "prometheus-node-exporter": {"fullnameOverride": "node-exporter"},
    }
