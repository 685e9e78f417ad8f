"""The monitoring stack as each stack composes it (its settings through stacks.monitored): the
dashboards and rules read only exported metrics, Helm values, collectors, users, routes, policies.
Renderers alone, from literal inputs, are tested in tests/components/monitoring/."""

from __future__ import annotations

import json
from typing import Any

import pytest

from components.common.quantities import retention_hours
from components.monitoring import access, elastic
from components.monitoring.alert_rules import rule_groups
from components.monitoring.dashboards import platform_dashboards
from components.monitoring.jaeger import jaeger_config
from components.monitoring.loki import loki_config
from components.monitoring.metric_catalogue import exposed_metrics
from components.monitoring.network_policies import monitoring_network_policies
from components.monitoring.otel import agent_config, application_env, gateway_config
from components.monitoring.promql import metric_names
from components.monitoring.retention import retention_env
from components.monitoring.stack_values import datasources, kube_prometheus_stack_values
from stacks.config_source import load_settings
from stacks.kubernetes_specs import public_routes
from stacks.monitored import monitored_platform
from stacks.settings import PlatformSettings
from tests.conftest import STACKS, stack_settings


def recorded(settings: PlatformSettings) -> set[str]:
    return {
        rule["record"]
        for group in rule_groups(monitored_platform(settings))
        for rule in group["rules"]
        if "record" in rule
    }


def unknown_metrics(exprs: dict[str, str], settings: PlatformSettings) -> dict[str, list[str]]:
    known = exposed_metrics(monitored_platform(settings)) | recorded(settings)
    return {where: sorted(metric_names(expr) - known) for where, expr in exprs.items() if metric_names(expr) - known}


def panel_queries(settings: PlatformSettings) -> dict[str, str]:
    return {
        f"{d.title} / {p.title} / {n}": q.expr
        for d in platform_dashboards(monitored_platform(settings))
        for p in d.panels
        for n, q in enumerate(p.queries)
    }


@pytest.mark.parametrize("stack", STACKS)
def test_every_panel_queries_metrics_some_deployed_exporter_exposes(stack: str) -> None:
    settings = stack_settings(stack)
    assert unknown_metrics(panel_queries(settings), settings) == {}


@pytest.mark.parametrize("stack", STACKS)
def test_every_alert_rule_reads_metrics_some_deployed_exporter_exposes(stack: str) -> None:
    settings = stack_settings(stack)
    exprs = {
        rule.get("alert") or rule["record"]: rule["expr"]
        for group in rule_groups(monitored_platform(settings))
        for rule in group["rules"]
    }
    assert unknown_metrics(exprs, settings) == {}


def test_the_panel_check_catches_a_metric_nothing_exports(production_settings: PlatformSettings) -> None:
    exprs = {"typo": "sum(rate(haproxy_backend_http_request_total[5m]))", "fine": "sum(celery_queue_length)"}
    assert unknown_metrics(exprs, production_settings) == {"typo": ["haproxy_backend_http_request_total"]}
    # Elasticsearch metrics exist only where Elasticsearch is deployed (dev turns it off).
    es = {"es": "elasticsearch_cluster_health_status"}
    assert unknown_metrics(es, production_settings) == {}
    assert unknown_metrics(es, stack_settings("dev")) == {"es": ["elasticsearch_cluster_health_status"]}


def test_the_dashboards_cover_what_the_issue_and_the_guide_ask_for(production_settings: PlatformSettings) -> None:
    dashboards = {
        d.title: {p.title for p in d.panels} for d in platform_dashboards(monitored_platform(production_settings))
    }
    assert set(dashboards) == {
        "Platform overview",
        "API workers",
        "Celery queues and tasks",
        "PostgreSQL",
        "Redis",
        "RabbitMQ",
        "HAProxy",
        "AI inference",
        "Logs and traces pipeline",
    }
    assert {"Request rate", "Error ratio (5xx)", "Latency percentiles", "Active connections", "Queue lengths"} <= (
        dashboards["Platform overview"]
    )
    assert {"Pooler: client connections", "Transactions per second", "Replication lag", "Lock waits"} <= dashboards[
        "PostgreSQL"
    ]
    assert {"Hit rate", "Memory", "Replication"} <= dashboards["Redis"]
    assert "Inference time percentiles" in dashboards["AI inference"]


def _walk(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [s for v in value.values() for s in _walk(v)]
    if isinstance(value, list):
        return [s for v in value for s in _walk(v)]
    return [str(value)]


def test_kube_prometheus_stack_values(production_settings: PlatformSettings) -> None:
    values = kube_prometheus_stack_values(monitored_platform(production_settings))
    prometheus = values["prometheus"]["prometheusSpec"]
    assert prometheus["replicas"] == 2 and prometheus["retention"] == "15d" and prometheus["retentionSize"] == "40GB"
    assert prometheus["storageSpec"]["volumeClaimTemplate"]["spec"]["resources"]["requests"]["storage"] == "50Gi"
    for kind in ("serviceMonitor", "podMonitor", "rule", "probe", "scrapeConfig"):
        assert prometheus[f"{kind}SelectorNilUsesHelmValues"] is False
    assert prometheus["serviceMonitorSelector"] == {} and prometheus["ruleNamespaceSelector"] == {}
    alertmanager = values["alertmanager"]["alertmanagerSpec"]
    assert alertmanager["replicas"] == 3 and alertmanager["configSecret"] == "alertmanager-platform"
    assert values["alertmanager"]["podDisruptionBudget"] == {"enabled": True, "minAvailable": 2}
    assert values["prometheus"]["podDisruptionBudget"] == {"enabled": True, "minAvailable": 1}
    # Alertmanager's replicas gossip over TCP and UDP; the chart's own rule would allow neither.
    gossip = values["alertmanager"]["networkPolicy"]["additionalIngress"][1]
    assert gossip["from"] == [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "alertmanager"}}}]
    assert gossip["ports"] == [{"port": 9094, "protocol": "TCP"}, {"port": 9094, "protocol": "UDP"}]
    grafana = values["grafana"]
    assert grafana["admin"]["existingSecret"] == "grafana-admin"
    assert grafana["grafana.ini"]["auth.anonymous"] == {"enabled": False}
    assert grafana["sidecar"]["dashboards"]["label"] == "grafana_dashboard"
    assert values["defaultRules"]["disabled"] == {"Watchdog": True}
    assert values["nodeExporter"]["enabled"] and values["kubeStateMetrics"]["enabled"]
    # No credential in the values: Grafana reads them from Secrets through its environment.
    strings = _walk(values)
    assert not any("teknofest2025" in s for s in strings)
    assert grafana["envValueFrom"]["ELASTICSEARCH_READER_PASSWORD"]["secretKeyRef"]["name"] == "elasticsearch-reader"
    dev = kube_prometheus_stack_values(monitored_platform(stack_settings("dev")))
    assert dev["prometheus"]["prometheusSpec"]["replicas"] == 1
    assert dev["alertmanager"]["alertmanagerSpec"]["replicas"] == 1
    assert dev["alertmanager"]["podDisruptionBudget"]["enabled"] is False
    assert dev["grafana"]["envValueFrom"] == {}


def test_grafana_datasources_link_traces_to_logs(production_settings: PlatformSettings) -> None:
    by_uid = {d["uid"]: d for d in datasources(monitored_platform(production_settings))}
    assert set(by_uid) == {"loki", "jaeger", "elasticsearch"}
    assert by_uid["jaeger"]["jsonData"]["tracesToLogsV2"]["datasourceUid"] == "loki"
    assert by_uid["loki"]["jsonData"]["derivedFields"][0]["datasourceUid"] == "jaeger"
    assert by_uid["elasticsearch"]["secureJsonData"]["basicAuthPassword"] == "$ELASTICSEARCH_READER_PASSWORD"
    assert by_uid["loki"]["url"] == "http://loki.monitoring.svc:3100"
    assert {d["uid"] for d in datasources(monitored_platform(stack_settings("dev")))} == {"loki", "jaeger"}


def test_jaeger_storage_follows_the_settings(production_settings: PlatformSettings) -> None:
    assert retention_hours("7d") == 168 and retention_hours("2w") == 336 and retention_hours("12h") == 12
    production = jaeger_config(monitored_platform(production_settings))["extensions"]["jaeger_storage"]["backends"][
        "main"
    ]
    es = production["elasticsearch"]
    assert es["server_urls"] == ["https://elasticsearch-es-http.monitoring.svc:9200"]
    # The password is read from the mounted Secret, never from the environment.
    assert es["auth"]["basic"] == {
        "username": "platform-writer",
        "password": "${file:/etc/elasticsearch-user/password}",
    }
    assert es["tls"]["ca_file"] == elastic.CA_FILE
    assert es["indices"]["spans"]["replicas"] == 1
    dev = jaeger_config(monitored_platform(stack_settings("dev")))["extensions"]["jaeger_storage"]["backends"]["main"]
    assert dev == {
        "badger": {
            "directories": {"keys": "/badger/keys", "values": "/badger/values"},
            "ephemeral": False,
            "ttl": {"spans": "48h"},
        }
    }


def test_the_collectors_route_traces_to_jaeger_and_logs_to_loki_and_elasticsearch(
    production_settings: PlatformSettings,
) -> None:
    gateway = gateway_config(monitored_platform(production_settings))
    assert gateway["exporters"]["otlp/jaeger"]["endpoint"] == "jaeger.monitoring.svc:4317"
    assert gateway["service"]["pipelines"]["traces"]["exporters"] == ["otlp/jaeger"]
    assert set(gateway["receivers"]["otlp"]["protocols"]) == {"grpc", "http"}
    agent = agent_config(monitored_platform(production_settings))
    assert agent["service"]["pipelines"]["logs"]["exporters"] == ["elasticsearch", "otlphttp/loki"]
    assert agent["exporters"]["otlphttp/loki"]["endpoint"] == "http://loki.monitoring.svc:3100/otlp"
    assert agent["receivers"]["filelog"]["include"] == ["/var/log/pods/*/*/*.log"]
    assert agent_config(monitored_platform(stack_settings("dev")))["service"]["pipelines"]["logs"]["exporters"] == [
        "otlphttp/loki"
    ]
    env = application_env(monitored_platform(production_settings), "api")
    assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://otel-collector.monitoring.svc:4317"
    assert env["OTEL_SERVICE_NAME"] == "api" and env["OTEL_TRACES_SAMPLER_ARG"] == "1"


@pytest.mark.parametrize("stack", STACKS)
def test_no_generated_config_listens_on_every_address(stack: str) -> None:
    settings = stack_settings(stack)
    configs = [
        loki_config(monitored_platform(settings)),
        jaeger_config(monitored_platform(settings)),
        gateway_config(monitored_platform(settings)),
        agent_config(monitored_platform(settings)),
    ]
    assert not [s for c in configs for s in _walk(c) if "0.0.0.0" in s]


def test_elasticsearch_users_have_only_what_they_need(production_settings: PlatformSettings) -> None:
    roles = elastic.roles(monitored_platform(production_settings))
    assert set(roles) == {"platform_writer", "platform_reader", "platform_monitor"}
    assert roles["platform_reader"]["indices"][0]["privileges"] == ["read", "view_index_metadata"]
    assert all("all" not in r["cluster"] for r in roles.values())
    cluster = elastic.elasticsearch(monitored_platform(production_settings))["spec"]
    assert cluster["auth"]["fileRealm"] == [{"secretName": u.secret_name} for u in elastic.USERS]
    node_set = cluster["nodeSets"][0]
    assert node_set["count"] == 3 and node_set["zoneAwareness"] == {}
    staging = elastic.elasticsearch(monitored_platform(stack_settings("staging")))["spec"]["nodeSets"][0]
    assert staging["count"] == 1 and "zoneAwareness" not in staging
    secret = elastic.user_secret(monitored_platform(production_settings), elastic.WRITER, "pw")
    assert secret["type"] == "kubernetes.io/basic-auth" and secret["stringData"]["roles"] == "platform_writer"


def with_hosts(**hosts: str) -> PlatformSettings:
    base = stack_settings("production").model_dump(by_alias=True, mode="json")
    base["monitoring"]["access"] = {key: {"host": host} for key, host in hosts.items()}
    base["backups"]["credentials"] = None
    return load_settings(base, "production", "Pulumi.production.yaml")


EDGE = access.Edge("teknofest-production", {"app.kubernetes.io/name": "haproxy"})


def test_a_ui_with_a_host_is_routed_through_the_edge_with_auth_where_it_has_no_login() -> None:
    settings = with_hosts(prometheus="prometheus.example.org", grafana="grafana.example.org")
    routes = {route.key: route for route in public_routes(settings)}
    assert set(routes) == {"prometheus", "grafana"}
    prometheus = routes["prometheus"]
    assert (prometheus.service, prometheus.service_port, prometheus.pod_port) == (
        "kube-prometheus-stack-prometheus",
        9090,
        9090,
    )
    assert prometheus.needs_auth and prometheus.password_env == "HAPROXY_UI_PROMETHEUS_PASSWORD"
    assert routes["grafana"].pod_port == 3000 and not routes["grafana"].needs_auth
    assert access.published(monitored_platform(settings), "prometheus") and not access.published(
        monitored_platform(settings), "jaeger"
    )
    # Alertmanager is not published: the chart's gateway rule stays off.
    assert "gateway" not in kube_prometheus_stack_values(monitored_platform(settings))["alertmanager"]["networkPolicy"]
    published = with_hosts(alertmanager="alertmanager.example.org")
    values = kube_prometheus_stack_values(monitored_platform(published), (EDGE.namespace, EDGE.selector))
    assert values["alertmanager"]["networkPolicy"]["gateway"] == {
        "namespace": "teknofest-production",
        "podLabels": {"app.kubernetes.io/name": "haproxy"},
    }
    endpoints = access.ui_endpoints(monitored_platform(settings))
    assert endpoints["grafana"] == {"url": "https://grafana.example.org/"}
    assert endpoints["jaeger"] == {
        "url": "http://127.0.0.1:16686/",
        "portForward": "kubectl -n monitoring port-forward svc/jaeger 16686:16686",
    }
    assert "kibana" not in access.ui_endpoints(monitored_platform(stack_settings("dev")))


def test_each_monitoring_server_admits_only_its_clients(production_settings: PlatformSettings) -> None:
    policies = {
        p["metadata"]["name"]: p["spec"]
        for p in monitoring_network_policies(monitored_platform(production_settings), EDGE)
    }
    assert set(policies) == {
        "loki-ingress",
        "jaeger-ingress",
        "otel-collector-ingress",
        "log-shipper-ingress",
        "elasticsearch-exporter-ingress",
        "elasticsearch-ingress",
        "kibana-ingress",
    }

    def admitted(name: str) -> dict[int, list[dict[str, Any]]]:
        return {port["port"]: rule["from"] for rule in policies[name]["ingress"] for port in rule["ports"]}

    loki = admitted("loki-ingress")
    assert list(loki) == [3100]
    assert {json.dumps(peer, sort_keys=True) for peer in loki[3100]} == {
        json.dumps({"podSelector": {"matchLabels": selector}}, sort_keys=True)
        for selector in (
            {"app.kubernetes.io/name": "log-shipper", "app.kubernetes.io/part-of": "teknofest-platform"},
            {"app.kubernetes.io/name": "grafana"},
            {"app.kubernetes.io/name": "prometheus"},
        )
    }
    collector = admitted("otel-collector-ingress")
    app_namespace = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "teknofest-production"}}}
    assert collector[4317] == collector[4318] == [app_namespace]
    assert admitted("elasticsearch-ingress")[9300] == [
        {"podSelector": {"matchLabels": {"elasticsearch.k8s.elastic.co/cluster-name": "elasticsearch"}}}
    ]
    edge = {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "teknofest-production"}},
        "podSelector": {"matchLabels": {"app.kubernetes.io/name": "haproxy"}},
    }
    jaeger = admitted("jaeger-ingress")
    # Production publishes Jaeger and Kibana: the edge reaches their UI ports, and only those.
    assert edge in jaeger[16686] and edge in admitted("kibana-ingress")[5601]
    assert edge not in loki[3100]
    gateway = {"app.kubernetes.io/name": "otel-collector", "app.kubernetes.io/part-of": "teknofest-platform"}
    assert jaeger[4317] == [{"podSelector": {"matchLabels": gateway}}]
    dev = {p["metadata"]["name"] for p in monitoring_network_policies(monitored_platform(stack_settings("dev")), EDGE)}
    assert not {"elasticsearch-ingress", "kibana-ingress", "elasticsearch-exporter-ingress"} & dev


def test_elasticsearch_retention_keeps_whole_days_rounded_up(production_settings: PlatformSettings) -> None:
    env = retention_env(monitored_platform(production_settings))
    assert (env["LOG_DAYS"], env["TRACE_DAYS"]) == ("14", "7")
    short = production_settings.model_copy(
        update={
            "monitoring": production_settings.monitoring.model_copy(
                update={"tracing": production_settings.monitoring.tracing.model_copy(update={"retention": "36h"})}
            )
        }
    )
    assert retention_env(monitored_platform(short))["TRACE_DAYS"] == "2"
