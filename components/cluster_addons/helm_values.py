"""Helm values of the cluster add-ons the platform relies on: KEDA, cert-manager and the Vertical
Pod Autoscaler (recommender only). Pure: plain values in, Helm values out."""

from __future__ import annotations

from typing import Any


def keda_values(highly_available: bool) -> dict[str, Any]:
    """KEDA with its CRDs. Highly available: two operators (leader election), two webhook pods and
    PodDisruptionBudgets; the metrics API server stays single (KEDA serves it from one replica)."""
    values: dict[str, Any] = {"crds": {"install": True}}
    if highly_available:
        values["operator"] = {"replicaCount": 2}
        values["webhooks"] = {"replicaCount": 2}
        values["podDisruptionBudget"] = {"operator": {"minAvailable": 1}, "webhooks": {"minAvailable": 1}}
    return values


def cert_manager_values(highly_available: bool) -> dict[str, Any]:
    """cert-manager with its CRDs, kept when the release is removed (deleting them would delete every
    Certificate in the cluster). Highly available: two of each Deployment with PodDisruptionBudgets."""
    values: dict[str, Any] = {"crds": {"enabled": True, "keep": True}}
    if highly_available:
        pdb = {"enabled": True, "minAvailable": 1}
        values |= {
            "replicaCount": 2,
            "podDisruptionBudget": pdb,
            "webhook": {"replicaCount": 2, "podDisruptionBudget": pdb},
            "cainjector": {"replicaCount": 2, "podDisruptionBudget": pdb},
        }
    return values


def vpa_values(highly_available: bool) -> dict[str, Any]:
    """Only the recommender: the platform's VerticalPodAutoscalers have updateMode Off, so nothing
    evicts or mutates pods (no updater, no admission webhook)."""
    # Two recommenders elect a leader (the chart switches leader election on above one replica); the
    # chart's PodDisruptionBudget (minAvailable 1) would block every node drain with a single one.
    recommender: dict[str, Any] = {
        "enabled": True,
        "replicas": 2 if highly_available else 1,
        "podDisruptionBudget": {"enabled": highly_available},
    }
    return {
        "admissionController": {"enabled": False},
        "updater": {"enabled": False},
        "recommender": recommender,
    }
