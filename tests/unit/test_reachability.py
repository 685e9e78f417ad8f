"""NetworkPolicy semantics of the offline reachability check, on small literal manifests."""

from __future__ import annotations

from typing import Any

from stacks.reachability import chart_network_policies, reachability_findings, selects
from stacks.topology import Peer, Talk

NS = "app"
WEB = Peer("web", NS, {"app": "web"})
DB = Peer("db", NS, {"app": "db"})


def deployment(name: str, labels: dict[str, str], ports: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "template": {"metadata": {"labels": labels}, "spec": {"containers": [{"name": name, "ports": ports}]}}
        },
    }


def policy(name: str, selector: dict[str, str] | None, types: list[str], **rules: Any) -> dict[str, Any]:
    return {
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": NS},
        "spec": {"podSelector": {"matchLabels": selector} if selector else {}, "policyTypes": types, **rules},
    }


DENY_ALL = policy("deny", None, ["Ingress", "Egress"])
WORKLOADS = {
    "web": deployment("web", {"app": "web", "tier": "front"}, []),
    "db": deployment("db", {"app": "db"}, [{"name": "pg", "containerPort": 5432}]),
}


def manifests(*policies: dict[str, Any]) -> dict[str, Any]:
    return {**WORKLOADS, **{p["metadata"]["name"]: p for p in policies}}


EGRESS = policy(
    "web-out",
    {"app": "web"},
    ["Egress"],
    egress=[{"to": [{"podSelector": {"matchLabels": {"app": "db"}}}], "ports": [{"port": 5432}]}],
)
INGRESS = policy(
    "db-in",
    {"app": "db"},
    ["Ingress"],
    ingress=[{"from": [{"podSelector": {"matchLabels": {"tier": "front"}}}], "ports": [{"port": "pg"}]}],
)


def test_without_policies_everything_talks() -> None:
    assert reachability_findings([Talk(WEB, DB, 5432)], manifests()) == []


def test_default_deny_needs_both_directions() -> None:
    talk = Talk(WEB, DB, 5432, why="queries")
    assert [f.message for f in reachability_findings([talk], manifests(DENY_ALL))] == [
        "no NetworkPolicy lets web send (queries)",
        "no NetworkPolicy lets db receive (queries)",
    ]
    assert reachability_findings([talk], manifests(DENY_ALL, EGRESS, INGRESS)) == []


def test_named_ports_resolve_on_the_server_and_the_protocol_counts() -> None:
    # The ingress rule names "pg", the server's container port 5432; the pod's full labels (tier) count.
    assert reachability_findings([Talk(WEB, DB, 5433)], manifests(DENY_ALL, EGRESS, INGRESS)) != []
    assert reachability_findings([Talk(WEB, DB, 5432, "UDP")], manifests(DENY_ALL, EGRESS, INGRESS)) != []


def test_namespace_selectors_ip_blocks_and_expressions() -> None:
    other = Peer("scraper", "monitoring", {"app": "prometheus"})
    by_namespace = policy(
        "db-in",
        {"app": "db"},
        ["Ingress"],
        ingress=[{"from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}]}],
    )
    assert reachability_findings([Talk(other, DB, 5432)], manifests(by_namespace)) == []
    # A pod selector alone means the policy's own namespace.
    same_namespace_only = policy("db-in", {"app": "db"}, ["Ingress"], ingress=[{"from": [{"podSelector": {}}]}])
    assert reachability_findings([Talk(other, DB, 5432)], manifests(same_namespace_only)) != []
    internet = Peer("internet", None)
    ip_block = policy("db-in", {"app": "db"}, ["Ingress"], ingress=[{"from": [{"ipBlock": {"cidr": "0.0.0.0/0"}}]}])
    assert reachability_findings([Talk(internet, DB, 5432)], manifests(ip_block)) == []
    assert reachability_findings([Talk(WEB, DB, 5432)], manifests(ip_block)) != []
    expression = {"matchExpressions": [{"key": "app", "operator": "In", "values": ["db", "cache"]}]}
    assert selects(expression, {"app": "db"}) and not selects(expression, {"app": "web"})
    assert selects({"matchExpressions": [{"key": "tier", "operator": "DoesNotExist"}]}, {"app": "db"})


def test_the_alertmanager_chart_policy_is_reproduced_from_the_values() -> None:
    def policies(**network: Any) -> list[dict[str, Any]]:
        values = {"alertmanager": {"networkPolicy": {"enabled": True, **network}}}
        return chart_network_policies(
            {"r": {"chart": "kube-prometheus-stack", "namespace": "monitoring", "values": values}}
        )

    (plain,) = policies(gateway={"namespace": "edge"})
    # The chart's gateway rule needs pod labels too; its cluster rule needs service.clusterPort.
    assert plain["spec"]["ingress"] == [
        {
            "from": [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "prometheus"}}}],
            "ports": [{"port": 9093, "protocol": "TCP"}],
        }
    ]
    (gateway,) = policies(gateway={"namespace": "edge", "podLabels": {"app": "lb"}})
    assert gateway["spec"]["ingress"][0]["from"][0]["podSelector"] == {"matchLabels": {"app": "lb"}}
    alertmanager = Peer("alertmanager", "monitoring", {"app.kubernetes.io/name": "alertmanager"})
    gossip = [Talk(alertmanager, alertmanager, 9094, "TCP"), Talk(alertmanager, alertmanager, 9094, "UDP")]
    assert len(reachability_findings(gossip, {}, policies())) == 2
