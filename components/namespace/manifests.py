"""Pure builders: the namespace and the NetworkPolicies every pod in it gets."""

from __future__ import annotations

from typing import Any

from components.common import labels as lbl
from components.common.kubernetes.manifests import metadata
from components.common.kubernetes.pod_security import POD_SECURITY_LEVEL


def namespace(name: str, environment: str) -> dict[str, Any]:
    labels = {
        "app.kubernetes.io/part-of": lbl.PART_OF,
        "app.kubernetes.io/managed-by": "pulumi",
        "teknofest.org/environment": environment,
        # Pod Security Admission: refuse, audit and warn on anything below "restricted".
        **{f"pod-security.kubernetes.io/{mode}": POD_SECURITY_LEVEL for mode in ("enforce", "audit", "warn")},
        "pod-security.kubernetes.io/enforce-version": "latest",
    }
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": metadata(name, None, labels)}


def baseline_network_policies(namespace_name: str, environment: str) -> list[dict[str, Any]]:
    """Deny all traffic, then allow DNS; each component adds the allows its own traffic needs."""
    labels = {"app.kubernetes.io/part-of": lbl.PART_OF, "teknofest.org/environment": environment}
    return [
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": metadata("default-deny-all", namespace_name, labels),
            "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
        },
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": metadata("allow-dns-egress", namespace_name, labels),
            "spec": {
                "podSelector": {},
                "policyTypes": ["Egress"],
                "egress": [
                    {
                        "to": [
                            {
                                "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                                "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
                            }
                        ],
                        "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}],
                    }
                ],
            },
        },
    ]
