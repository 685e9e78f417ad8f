"""Kubernetes specifics of the Celery pools: PriorityClasses (GPU inference may preempt batch work)."""

from __future__ import annotations

from typing import Any

from components.common import labels as lbl
from components.common.kubernetes.manifests import metadata


def priority_class_name(environment: str, tier: str) -> str:
    return f"teknofest-{environment}-{tier}"


def priority_classes(environment: str) -> list[dict[str, Any]]:
    """GPU inference may preempt batch work; batch work never preempts anything."""
    labels = {"app.kubernetes.io/part-of": lbl.PART_OF, "teknofest.org/environment": environment}
    return [
        {
            "apiVersion": "scheduling.k8s.io/v1",
            "kind": "PriorityClass",
            "metadata": metadata(priority_class_name(environment, "gpu"), None, labels),
            "value": 100000,
            "preemptionPolicy": "PreemptLowerPriority",
            "globalDefault": False,
            "description": "Celery pools on GPU nodes (TEKNOFEST platform)",
        },
        {
            "apiVersion": "scheduling.k8s.io/v1",
            "kind": "PriorityClass",
            "metadata": metadata(priority_class_name(environment, "batch"), None, labels),
            "value": 10000,
            "preemptionPolicy": "Never",
            "globalDefault": False,
            "description": "Celery batch pools (TEKNOFEST platform)",
        },
    ]
