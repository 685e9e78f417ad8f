"""What the monitoring stack asks the cluster for (pure): our own servers from their manifests,
Prometheus, Elasticsearch and Kibana from their platform, the log shipper per node."""

from __future__ import annotations

from typing import Any

from components.common.kubernetes.capacity import requested_totals
from components.common.quantities import cpu_millicores, memory_bytes
from components.common.values import Resources
from components.monitoring import elastic
from components.monitoring.celery_exporter import celery_exporter_spec
from components.monitoring.jaeger import jaeger_spec
from components.monitoring.loki import loki_spec
from components.monitoring.otel import AGENT_RESOURCES, gateway_spec
from components.monitoring.platform import MonitoredPlatform
from components.monitoring.workload import ServerSpec, server_manifests


def server_specs(platform: MonitoredPlatform, broker_secret: tuple[str, str]) -> list[ServerSpec]:
    """Every server of the stack built on the shared workload builder."""
    specs = [loki_spec(platform), jaeger_spec(platform), gateway_spec(platform)]
    if platform.monitoring.elasticsearch.enabled:
        specs.append(elastic.exporter_spec(platform))
    specs.append(celery_exporter_spec(platform, broker_secret))
    return specs


def _sum(parts: list[tuple[int, Resources]]) -> tuple[float, float]:
    cpu = sum(count * cpu_millicores(r.requests.cpu) for count, r in parts) / 1000
    memory = sum(count * memory_bytes(r.requests.memory) for count, r in parts) / 2**30
    return cpu, memory


def monitoring_requested(platform: MonitoredPlatform) -> dict[str, Any]:
    m = platform.monitoring
    ours = requested_totals(
        [manifest for spec in server_specs(platform, ("", "")) for manifest in server_manifests(spec)], {}
    )
    sized: list[tuple[int, Resources]] = [(m.prometheus.replicas, m.prometheus.resources)]
    if m.elasticsearch.enabled:
        sized += [
            (m.elasticsearch.nodes, m.elasticsearch.resources),
            (m.elasticsearch.kibana_replicas, elastic.KIBANA_RESOURCES),
        ]
    cpu, memory = _sum(sized)
    per_node_cpu, per_node_memory = _sum([(1, AGENT_RESOURCES)])
    return {
        "cpuCores": round(ours["cpuCores"] + cpu, 3),
        "memoryGiB": round(ours["memoryGiB"] + memory, 3),
        # The log shipper runs on every node.
        "perNode": {"cpuCores": round(per_node_cpu, 3), "memoryGiB": round(per_node_memory, 3)},
        # Pods whose requests are the charts' and operators' defaults, not set by this program.
        "notCounted": [
            "alertmanager",
            "grafana",
            "kube-state-metrics",
            "node-exporter (per node)",
            "prometheus-operator",
            "eck-operator",
        ],
    }
