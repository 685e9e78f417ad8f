"""PlatformNamespace under Pulumi's mock engine."""

from __future__ import annotations

from components.namespace.kubernetes import PlatformNamespace, PlatformNamespaceArgs
from stacks.mock_engine import run_under_mocks, unwrap
from tests.components.conftest import children_of


def test_namespace_enforces_restricted_pods_and_denies_traffic_by_default() -> None:
    render = run_under_mocks(lambda: PlatformNamespace("ns", PlatformNamespaceArgs("teknofest-test", "staging")))
    children = children_of(render, "teknofest:platform:Namespace")
    ns = next(unwrap(r.inputs) for r in children if r.type == "kubernetes:core/v1:Namespace")
    assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    policies = {
        unwrap(r.inputs)["metadata"]["name"]: unwrap(r.inputs)["spec"]
        for r in children
        if r.type.endswith(":NetworkPolicy")
    }
    assert policies["default-deny-all"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    assert policies["allow-dns-egress"]["egress"][0]["ports"] == [
        {"port": 53, "protocol": "UDP"},
        {"port": 53, "protocol": "TCP"},
    ]
    off = run_under_mocks(lambda: PlatformNamespace("ns", PlatformNamespaceArgs("t", "dev", network_policies=False)))
    assert not any(r.type.endswith(":NetworkPolicy") for r in off.resources)
