"""Kubernetes NetworkPolicy semantics, evaluated offline over a render (pure).

For every pair in the topology table (stacks/topology.py): the client may send (no Egress policy
selects it, or one admits the server on that port and protocol) and the server may receive (likewise
for Ingress). Policies are the rendered ones plus those a chart renders from the values we give it
(kube-prometheus-stack's Alertmanager policy, reproduced from its template). Named ports resolve
against the server pod's container ports; `ipBlock` peers match only addresses outside the pod
network (how policies should name them; CNIs differ on pod addresses).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from stacks.topology import Peer, Talk
from stacks.validate import Finding

_POD_KINDS = ("Deployment", "StatefulSet", "DaemonSet")


@dataclass(frozen=True)
class Pod:
    namespace: str | None
    labels: Mapping[str, str]
    # Named container ports: name -> (number, protocol).
    ports: Mapping[str, tuple[int, str]]


def resolve(peer: Peer, manifests: Mapping[str, Mapping[str, Any]]) -> Pod:
    """The peer's pods as rendered (their full labels and named ports) when a rendered workload's pods
    carry the peer's labels; operator- and chart-made pods are known by the labels given."""
    if peer.namespace is not None and peer.labels:
        for m in manifests.values():
            if m["kind"] not in _POD_KINDS or m["metadata"].get("namespace") != peer.namespace:
                continue
            template = m["spec"]["template"]
            labels = template["metadata"].get("labels", {})
            if all(labels.get(k) == v for k, v in peer.labels.items()):
                ports = {
                    p["name"]: (p["containerPort"], p.get("protocol", "TCP"))
                    for c in template["spec"]["containers"]
                    for p in c.get("ports", [])
                    if p.get("name")
                }
                return Pod(peer.namespace, labels, ports)
    return Pod(peer.namespace, dict(peer.labels), {})


def selects(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    """A label selector (matchLabels and matchExpressions; {} selects all)."""
    if selector is None:
        return True
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for expression in selector.get("matchExpressions") or []:
        key, operator, values = expression["key"], expression["operator"], expression.get("values", [])
        present = key in labels
        if (
            (operator == "In" and labels.get(key) not in values)
            or (operator == "NotIn" and present and labels[key] in values)
            or (operator == "Exists" and not present)
            or (operator == "DoesNotExist" and present)
        ):
            return False
    return True


def _namespace_labels(namespace: str, manifests: Mapping[str, Mapping[str, Any]]) -> dict[str, str]:
    labels = {"kubernetes.io/metadata.name": namespace}
    for m in manifests.values():
        if m["kind"] == "Namespace" and m["metadata"]["name"] == namespace:
            labels |= m["metadata"].get("labels", {}) or {}
    return labels


def _peer_matches(
    peer: Mapping[str, Any], other: Pod, policy_namespace: str, manifests: Mapping[str, Mapping[str, Any]]
) -> bool:
    if "ipBlock" in peer:
        return other.namespace is None
    if other.namespace is None:
        return False
    if "namespaceSelector" in peer:
        if not selects(peer["namespaceSelector"], _namespace_labels(other.namespace, manifests)):
            return False
    elif other.namespace != policy_namespace:
        return False
    return selects(peer.get("podSelector"), other.labels) if "podSelector" in peer else True


def _port_matches(entry: Mapping[str, Any], port: int, protocol: str, server: Pod) -> bool:
    if entry.get("protocol", "TCP") != protocol:
        return False
    wanted = entry.get("port")
    if wanted is None:
        return True
    if isinstance(wanted, str):
        named = server.ports.get(wanted)
        return named is not None and named == (port, protocol)
    return int(wanted) <= port <= int(entry.get("endPort", wanted))


def _admits(
    policies: Sequence[Mapping[str, Any]],
    direction: str,
    subject: Pod,
    other: Pod,
    server: Pod,
    port: int,
    protocol: str,
    manifests: Mapping[str, Mapping[str, Any]],
) -> bool:
    """Whether `subject` may send to (Egress) or receive from (Ingress) `other`."""
    if subject.namespace is None:
        return True  # outside the cluster: no policy of ours applies
    key, peers_key = ("egress", "to") if direction == "Egress" else ("ingress", "from")
    selecting = [
        p
        for p in policies
        if p["metadata"].get("namespace") == subject.namespace
        and direction in p["spec"].get("policyTypes", ["Ingress"])
        and selects(p["spec"].get("podSelector") or {}, subject.labels)
    ]
    if not selecting:
        return True
    for policy in selecting:
        for rule in policy["spec"].get(key) or []:
            ports = rule.get("ports")
            if ports is not None and not any(_port_matches(e, port, protocol, server) for e in ports):
                continue
            peers = rule.get(peers_key)
            if peers is None or any(
                _peer_matches(peer, other, policy["metadata"]["namespace"], manifests) for peer in peers
            ):
                return True
    return False


def reachability_findings(
    talks: Sequence[Talk],
    manifests: Mapping[str, Mapping[str, Any]],
    extra_policies: Sequence[Mapping[str, Any]] = (),
) -> list[Finding]:
    policies = [*(m for m in manifests.values() if m["kind"] == "NetworkPolicy"), *extra_policies]
    findings = []
    for talk in talks:
        client, server = resolve(talk.client, manifests), resolve(talk.server, manifests)
        label = f"{talk.client.name} -> {talk.server.name}:{talk.port}/{talk.protocol}"
        if not _admits(policies, "Egress", client, server, server, talk.port, talk.protocol, manifests):
            findings.append(Finding(label, f"no NetworkPolicy lets {talk.client.name} send ({talk.why})"))
        if not _admits(policies, "Ingress", server, client, server, talk.port, talk.protocol, manifests):
            findings.append(Finding(label, f"no NetworkPolicy lets {talk.server.name} receive ({talk.why})"))
    return findings


def chart_network_policies(releases: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The NetworkPolicies charts render from our values; kube-prometheus-stack's Alertmanager policy
    as its template (templates/alertmanager/networkpolicy.yaml) builds it."""
    policies = []
    for release in releases.values():
        if release["chart"] != "kube-prometheus-stack":
            continue
        alertmanager = (release.get("values") or {}).get("alertmanager", {})
        network = alertmanager.get("networkPolicy", {})
        if not network.get("enabled"):
            continue
        port = alertmanager.get("service", {}).get("port", 9093)
        ingress: list[dict[str, Any]] = []
        gateway = network.get("gateway", {})
        if gateway.get("namespace") and gateway.get("podLabels"):
            ingress.append(
                {
                    "from": [
                        {
                            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": gateway["namespace"]}},
                            "podSelector": {"matchLabels": gateway["podLabels"]},
                        }
                    ],
                    "ports": [{"port": port, "protocol": "TCP"}],
                }
            )
        rules = network.get("monitoringRules", {"prometheus": True, "configReloader": True})
        if rules.get("prometheus", True):
            ingress.append(
                {
                    "from": [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "prometheus"}}}],
                    "ports": [{"port": port, "protocol": "TCP"}],
                }
            )
        cluster_port = alertmanager.get("service", {}).get("clusterPort")
        if network.get("enableClusterRules", True) and cluster_port:
            ingress.append(
                {
                    "from": [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "alertmanager"}}}],
                    "ports": [{"port": cluster_port, "protocol": "TCP"}],
                }
            )
        ingress += network.get("additionalIngress", [])
        policies.append(
            {
                "apiVersion": "networking.k8s.io/v1",
                "kind": "NetworkPolicy",
                "metadata": {"name": "kube-prometheus-stack-alertmanager", "namespace": release["namespace"]},
                "spec": {
                    "podSelector": {"matchLabels": {"app.kubernetes.io/name": "alertmanager"}},
                    "policyTypes": network.get("policyTypes", ["Ingress"]),
                    "ingress": ingress,
                },
            }
        )
    return policies


# Named ports of pods that operators create, as their Services and PodMonitors name them.
_OPERATOR_PORTS = {
    ("RabbitmqCluster", "prometheus"): 15692,
    ("Cluster", "metrics"): 9187,
    ("Pooler", "metrics"): 9127,
}


def scrape_talks(manifests: Mapping[str, Mapping[str, Any]], prometheus: Peer) -> list[Talk]:
    """Prometheus to every target a rendered ServiceMonitor or PodMonitor makes it scrape."""
    talks = []
    operator_pods = _operator_pods(manifests)
    for m in manifests.values():
        if m["kind"] not in ("ServiceMonitor", "PodMonitor"):
            continue
        spec, ns = m["spec"], m["metadata"].get("namespace", "")
        namespaces = spec.get("namespaceSelector", {}).get("matchNames") or [ns]
        why = f"scraped by {m['kind']} {ns}/{m['metadata']['name']}"
        if m["kind"] == "PodMonitor":
            for kind, pod_ns, labels in operator_pods:
                if pod_ns in namespaces and selects(spec.get("selector"), labels):
                    for endpoint in spec.get("podMetricsEndpoints", []):
                        port = _OPERATOR_PORTS[(kind, endpoint["port"])]
                        talks.append(Talk(prometheus, Peer(f"{kind.lower()} pods", pod_ns, labels), port, why=why))
            continue
        for service in _services(manifests, operator_pods):
            service_ns = service["metadata"].get("namespace", "")
            if service_ns not in namespaces or not selects(spec.get("selector"), service["metadata"].get("labels", {})):
                continue
            peer = Peer(service["metadata"]["name"], service_ns, service["spec"].get("selector", {}))
            for endpoint in spec.get("endpoints", []):
                entry = next((p for p in service["spec"]["ports"] if p.get("name") == endpoint.get("port")), None)
                if entry is None:
                    continue
                target = entry.get("targetPort", entry.get("port"))
                if isinstance(target, str):
                    target = resolve(peer, manifests).ports.get(target, (None, ""))[0] or _OPERATOR_PORTS.get(
                        (service.get("_owner", ""), target)
                    )
                if target is not None:
                    talks.append(Talk(prometheus, peer, int(target), why=why))
    return talks


def _operator_pods(manifests: Mapping[str, Mapping[str, Any]]) -> list[tuple[str, str, dict[str, str]]]:
    pods = []
    for m in manifests.values():
        ns, name = m["metadata"].get("namespace", ""), m["metadata"]["name"]
        if m["kind"] == "Cluster" and m["apiVersion"].startswith("postgresql.cnpg.io/"):
            pods.append(("Cluster", ns, {"cnpg.io/cluster": name}))
        elif m["kind"] == "Pooler" and m["apiVersion"].startswith("postgresql.cnpg.io/"):
            pods.append(("Pooler", ns, {"cnpg.io/poolerName": name}))
        elif m["kind"] == "RabbitmqCluster":
            pods.append(("RabbitmqCluster", ns, {"app.kubernetes.io/name": name}))
    return pods


def _services(
    manifests: Mapping[str, Mapping[str, Any]], operator_pods: list[tuple[str, str, dict[str, str]]]
) -> list[Mapping[str, Any]]:
    """Rendered Services, and the one the RabbitMQ Cluster Operator makes for each cluster."""
    services: list[Mapping[str, Any]] = [m for m in manifests.values() if m["kind"] == "Service"]
    for kind, ns, labels in operator_pods:
        if kind == "RabbitmqCluster":
            name = labels["app.kubernetes.io/name"]
            services.append(
                {
                    "_owner": kind,
                    "metadata": {
                        "name": name,
                        "namespace": ns,
                        "labels": {"app.kubernetes.io/name": name, "app.kubernetes.io/component": "rabbitmq"},
                    },
                    "spec": {"selector": labels, "ports": [{"name": "prometheus", "targetPort": "prometheus"}]},
                }
            )
    return services
