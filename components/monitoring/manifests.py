"""The PrometheusRule that carries the platform's alert and recording rules."""

from __future__ import annotations

from typing import Any

from components.common import labels as lbl
from components.common.manifests import metadata
from components.monitoring.alert_rules import rule_groups
from stacks.settings import PlatformSettings


def prometheus_rule(settings: PlatformSettings) -> dict[str, Any]:
    labels = lbl.standard_labels("platform-alerts", "monitoring", settings.environment)
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": metadata("platform-alerts", settings.namespace, labels),
        "spec": {"groups": rule_groups(settings)},
    }
