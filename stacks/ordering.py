"""Creation order the Pulumi engine will follow, checked on the recorded plan (pure).

A resource is created after what it depends on (explicit depends_on, and the resources its inputs
come from) and after its parent's registration, which in turn waited for the parent's dependencies:
so what a resource effectively waits for is its own dependencies and those of every ancestor.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from stacks.validate import Finding

# Who installs which CRDs: Helm charts by chart name, and the RabbitMQ operator's release manifest.
CRD_GROUPS_BY_CHART: Mapping[str, tuple[str, ...]] = {
    "keda": ("keda.sh",),
    "cert-manager": ("cert-manager.io", "acme.cert-manager.io"),
    "vertical-pod-autoscaler": ("autoscaling.k8s.io",),
    "kube-prometheus-stack": ("monitoring.coreos.com",),
    "cloudnative-pg": ("postgresql.cnpg.io",),
    "plugin-barman-cloud": ("barmancloud.cnpg.io",),
    "eck-operator": ("elasticsearch.k8s.elastic.co", "kibana.k8s.elastic.co"),
}
RABBITMQ_OPERATOR_GROUP = "rabbitmq.com"
HELM_RELEASE = "kubernetes:helm.sh/v3:Release"
CONFIG_FILE = "kubernetes:yaml/v2:ConfigFile"


def key(entry: Mapping[str, Any]) -> str:
    return f"{entry['type']}::{entry['name']}"


def api_group(resource_type: str) -> str | None:
    """The API group of a resource type ("keda.sh" of "kubernetes:keda.sh/v1alpha1:ScaledObject");
    None for core kinds and anything not Kubernetes."""
    if not resource_type.startswith("kubernetes:"):
        return None
    group = resource_type.split(":")[1].split("/")[0]
    return group if "." in group else None


def effective_dependencies(plan: Sequence[Mapping[str, Any]]) -> dict[str, set[str]]:
    by_key = {key(entry): entry for entry in plan}
    result: dict[str, set[str]] = {}

    def of(name: str) -> set[str]:
        if name not in result:
            entry = by_key[name]
            deps = set(entry.get("dependsOn", []))
            parent = entry.get("parent")
            if parent and parent in by_key:
                deps |= of(parent)
            result[name] = deps
        return result[name]

    for name in by_key:
        of(name)
    return result


def crd_installers(plan: Sequence[Mapping[str, Any]]) -> dict[str, set[str]]:
    installers: dict[str, set[str]] = {}
    for entry in plan:
        groups: tuple[str, ...] = ()
        if entry["type"] == HELM_RELEASE:
            groups = CRD_GROUPS_BY_CHART.get(entry["inputs"].get("chart", ""), ())
        elif entry["type"] == CONFIG_FILE and "rabbitmq/cluster-operator" in str(entry["inputs"].get("file", "")):
            groups = (RABBITMQ_OPERATOR_GROUP,)
        for group in groups:
            installers.setdefault(group, set()).add(key(entry))
    return installers


# API groups with dots that are no CRDs of ours: built-in kinds, and the Helm releases themselves.
_BUILT_IN_GROUPS = frozenset(
    {
        "networking.k8s.io",
        "scheduling.k8s.io",
        "rbac.authorization.k8s.io",
        "apiextensions.k8s.io",
        "admissionregistration.k8s.io",
        "storage.k8s.io",
        "helm.sh",
    }
)


def ordering_findings(plan: Sequence[Mapping[str, Any]]) -> list[Finding]:
    """Custom resources created before the release that installs their CRD, and KEDA ScaledObjects
    created before the workload they scale."""
    deps = effective_dependencies(plan)
    installers = crd_installers(plan)
    findings: list[Finding] = []
    for entry in plan:
        group = api_group(entry["type"])
        if group is None or group in _BUILT_IN_GROUPS:
            continue
        name = key(entry)
        for installer in sorted(installers.get(group, ())):
            if installer not in deps[name]:
                findings.append(Finding(name, f"is not created after {installer}, which installs its CRD"))
        if entry["type"].endswith(":ScaledObject"):
            findings += _scale_target_findings(entry, plan, deps[name])
    return findings


def _scale_target_findings(
    entry: Mapping[str, Any], plan: Sequence[Mapping[str, Any]], waits_for: set[str]
) -> list[Finding]:
    target = entry["inputs"].get("spec", {}).get("scaleTargetRef", {})
    namespace = entry["inputs"].get("metadata", {}).get("namespace")
    kind = target.get("kind", "Deployment")
    wanted = f"{namespace}/{target.get('name')}"
    matches = [key(e) for e in plan if e["type"].endswith(f":{kind}") and e["name"] == wanted]
    if not matches:
        return [Finding(key(entry), f"scales {kind} {wanted}, which the plan does not create")]
    if not any(match in waits_for for match in matches):
        return [Finding(key(entry), f"is created before the {kind} {wanted} it scales")]
    return []
