"""The monitoring namespace and the PrometheusRule that carries the platform's alert and recording rules."""

from __future__ import annotations

from typing import Any

from components.common import labels as lbl
from components.common.kubernetes.manifests import metadata
from components.monitoring.alert_rules import rule_groups
from components.monitoring.platform import MonitoredPlatform


def prometheus_rule(platform: MonitoredPlatform) -> dict[str, Any]:
    labels = lbl.standard_labels("platform-alerts", "monitoring", platform.environment)
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": metadata("platform-alerts", platform.namespace, labels),
        "spec": {"groups": rule_groups(platform)},
    }


def monitoring_namespace(platform: MonitoredPlatform) -> dict[str, Any]:
    """node-exporter (host network and PID) and the log shipper (the kubelet's log files) need host
    access, so this namespace cannot enforce "restricted" like the application's: it enforces
    "privileged" and audits and warns at "baseline", which names exactly those two on every apply.
    Our own servers here still run with the restricted security contexts."""
    labels = {
        "app.kubernetes.io/part-of": lbl.PART_OF,
        "app.kubernetes.io/managed-by": "pulumi",
        "teknofest.org/environment": platform.environment,
        "pod-security.kubernetes.io/enforce": "privileged",
        "pod-security.kubernetes.io/audit": "baseline",
        "pod-security.kubernetes.io/warn": "baseline",
    }
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": metadata(platform.monitoring.namespace, None, labels)}
