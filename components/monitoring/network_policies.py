"""Who may reach the monitoring stack's own servers (pure). The namespace has no default deny, as
the chart's and operators' pods there are not ours to fence; each of our servers is fenced by its
own ingress policy instead, which makes everything not listed unreachable for that pod."""

from __future__ import annotations

from typing import Any

from components.common import labels as lbl
from components.common.kubernetes.manifests import ingress_policy, namespace_peer, pods_peer
from components.monitoring import elastic, jaeger, loki, otel, retention
from components.monitoring.access import Edge, published
from components.monitoring.platform import MonitoredPlatform

PROMETHEUS = pods_peer({"app.kubernetes.io/name": "prometheus"})
GRAFANA = pods_peer({"app.kubernetes.io/name": "grafana"})
ECK_OPERATOR_NAMESPACE = "elastic-system"
ES_PODS = elastic.ES_PODS
KIBANA_PODS = elastic.KIBANA_PODS


def _pods(name: str) -> dict[str, Any]:
    return pods_peer(lbl.selector_labels(name))


def _policy(
    platform: MonitoredPlatform,
    name: str,
    selector: dict[str, str],
    rules: list[tuple[list[dict[str, Any]], list[int | str]]],
) -> dict[str, Any]:
    labels = lbl.standard_labels(name, "monitoring", platform.environment)
    return ingress_policy(f"{name}-ingress", platform.monitoring.namespace, labels, selector, rules)


def monitoring_network_policies(platform: MonitoredPlatform, edge: Edge | None) -> list[dict[str, Any]]:
    """`edge`: the public entry, admitted to the UIs it publishes."""
    m = platform.monitoring

    def edge_for(ui: str) -> list[dict[str, Any]]:
        return [edge.peer()] if edge is not None and published(platform, ui) else []

    es = m.elasticsearch.enabled
    policies = [
        _policy(
            platform,
            loki.NAME,
            lbl.selector_labels(loki.NAME),
            [([_pods(otel.AGENT), GRAFANA, PROMETHEUS], [loki.HTTP_PORT])],
        ),
        _policy(
            platform,
            jaeger.NAME,
            lbl.selector_labels(jaeger.NAME),
            [
                ([_pods(otel.GATEWAY)], [jaeger.OTLP_GRPC_PORT]),
                ([GRAFANA, *edge_for("jaeger")], [jaeger.UI_PORT]),
                ([PROMETHEUS], [jaeger.METRICS_PORT]),
            ],
        ),
        _policy(
            platform,
            otel.GATEWAY,
            lbl.selector_labels(otel.GATEWAY),
            [
                # The application's pools; their own egress policies name the pods that may send.
                ([namespace_peer(platform.namespace)], [otel.OTLP_GRPC_PORT, otel.OTLP_HTTP_PORT]),
                ([PROMETHEUS], [otel.METRICS_PORT]),
            ],
        ),
        _policy(platform, otel.AGENT, lbl.selector_labels(otel.AGENT), [([PROMETHEUS], [otel.METRICS_PORT])]),
    ]
    if es:
        policies += [
            _policy(
                platform,
                elastic.EXPORTER,
                lbl.selector_labels(elastic.EXPORTER),
                [([PROMETHEUS], [elastic.EXPORTER_PORT])],
            ),
            _policy(
                platform,
                elastic.NAME,
                ES_PODS,
                [
                    (
                        [
                            _pods(otel.AGENT),
                            _pods(jaeger.NAME),
                            _pods(elastic.EXPORTER),
                            _pods(retention.NAME),
                            GRAFANA,
                            pods_peer(KIBANA_PODS),
                            # The operator manages the cluster through its HTTP API.
                            namespace_peer(ECK_OPERATOR_NAMESPACE),
                        ],
                        [9200],
                    ),
                    ([pods_peer(ES_PODS)], [9300]),
                ],
            ),
            _policy(
                platform,
                elastic.KIBANA,
                KIBANA_PODS,
                [([*edge_for("kibana"), namespace_peer(ECK_OPERATOR_NAMESPACE)], [elastic.KIBANA_PORT])],
            ),
        ]
    return policies
