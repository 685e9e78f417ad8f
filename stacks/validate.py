"""Validation of rendered manifests: built-in kinds against the Kubernetes schemas (strict),
custom resources against the operators' CRD schemas, and the checks neither of those makes."""

from __future__ import annotations

import functools
import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import kubernetes_validate.utils
import yaml

from components.monitoring.promql import metric_names
from components.monitoring.stack_values import CHART_SERVICES
from stacks.pod_security_check import namespace_levels, pod_template, violations

# libyaml's loader: the operators' CRDs are large (CloudNativePG's Cluster alone is 0.5 MB).
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
# kubernetes-validate reads a kind's schema and the 1.4 MB of shared definitions from disk for
# every manifest (two thirds of a synth's validation time): one read of each per run. The parsed
# schemas are only read by jsonschema, never changed.
if not hasattr(kubernetes_validate.utils.schema_contents, "cache_info"):
    kubernetes_validate.utils.schema_contents = functools.lru_cache(maxsize=None)(
        kubernetes_validate.utils.schema_contents
    )
DEFAULT_CRDS_DIR = Path(__file__).resolve().parent.parent.parent / "shared" / "crds"
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_POD_TEMPLATE_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"}


def crds_dir() -> Path:
    """`TEKNOFEST_CRDS_DIR`, or `../shared/crds` beside the repository (where CI has it)."""
    return Path(os.environ.get("TEKNOFEST_CRDS_DIR", DEFAULT_CRDS_DIR))


def charts_dir() -> Path:
    """`TEKNOFEST_CHARTS_DIR`, or `../shared/charts`: each pinned chart's upstream values files."""
    return Path(os.environ.get("TEKNOFEST_CHARTS_DIR", DEFAULT_CRDS_DIR.parent / "charts"))


@dataclass(frozen=True)
class Finding:
    manifest: str  # file name or "<kind>/<namespace>/<name>"
    message: str


class CrdSchemas:
    """openAPIV3Schema of every CRD version in a folder, keyed by (group, version, kind)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.schemas: dict[tuple[str, str, str], dict[str, Any]] = {}
        for path in sorted(folder.glob("*")):
            if path.suffix not in (".yaml", ".yml", ".json"):
                continue
            text = path.read_text(encoding="utf-8")
            documents = [json.loads(text)] if path.suffix == ".json" else list(yaml.load_all(text, Loader=_Loader))
            for doc in documents:
                if isinstance(doc, dict) and doc.get("kind") == "CustomResourceDefinition":
                    self._add(doc)

    def _add(self, crd: dict[str, Any]) -> None:
        group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
        for version in crd["spec"]["versions"]:
            schema = version.get("schema", {}).get("openAPIV3Schema")
            if schema:
                self.schemas[(group, version["name"], kind)] = to_json_schema(schema)

    def schema_for(self, manifest: dict[str, Any]) -> dict[str, Any] | None:
        group, _, version = manifest["apiVersion"].rpartition("/")
        return self.schemas.get((group, version, manifest["kind"]))


def to_json_schema(node: Any) -> Any:
    """Kubernetes structural schema -> JSON Schema: int-or-string, nullable, and no unknown fields
    where properties are listed (as the API server's strict field validation does)."""
    if isinstance(node, list):
        return [to_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: to_json_schema(value) for key, value in node.items() if not key.startswith("x-kubernetes-")}
    if node.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if node.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"]
    out.pop("nullable", None)
    if (
        "properties" in node
        and "additionalProperties" not in node
        and not node.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    return out


def validate_manifests(
    manifests: dict[str, dict[str, Any]],
    kubernetes_version: str,
    crds: CrdSchemas | None,
    exposed_metrics: frozenset[str] | None = None,
) -> tuple[list[Finding], dict[str, str]]:
    """Return the findings and, per manifest, how it was checked ("kubernetes 1.33 strict", "crd", ...)."""
    findings: list[Finding] = []
    checked_by: dict[str, str] = {}
    for label, manifest in manifests.items():
        schema = crds.schema_for(manifest) if crds else None
        if schema is not None:
            checked_by[label] = f"CRD schema ({crds.folder.name if crds else ''})"
            validator = jsonschema.Draft7Validator(schema)
            for error in sorted(validator.iter_errors(manifest), key=lambda e: list(e.path)):
                path = "/".join(str(part) for part in error.path)
                findings.append(Finding(label, f"{path}: {error.message}"))
            continue
        try:
            kubernetes_validate.validate(manifest, kubernetes_version, strict=True)
            checked_by[label] = f"kubernetes {kubernetes_version} strict"
        except kubernetes_validate.SchemaNotFoundError:
            if crds is None:
                checked_by[label] = "not checked: custom resource and no CRD folder"
            else:
                findings.append(Finding(label, f"no schema for {manifest['apiVersion']} {manifest['kind']}"))
        except kubernetes_validate.ValidationError as exc:
            checked_by[label] = f"kubernetes {kubernetes_version} strict"
            path = "/".join(str(part) for part in exc.path) if hasattr(exc, "path") else ""
            findings.append(Finding(label, f"{path}: {exc.message if hasattr(exc, 'message') else exc}"))
    findings += structural_findings(manifests)
    findings += monitor_findings(manifests)
    findings += edge_route_findings(manifests)
    findings += pod_security_findings(manifests)
    if exposed_metrics is not None:
        findings += metric_findings(manifests, exposed_metrics)
    return findings, checked_by


def structural_findings(manifests: dict[str, dict[str, Any]]) -> list[Finding]:
    """What schemas do not catch: names, label values, selectors that miss their pods, duplicates."""
    findings: list[Finding] = []
    seen: dict[tuple[str, str, str, str], str] = {}
    pod_labels: list[tuple[str, dict[str, str]]] = []
    for label, m in manifests.items():
        meta = m.get("metadata", {})
        name, namespace = meta.get("name", ""), meta.get("namespace", "")
        key = (m["apiVersion"], m["kind"], namespace, name)
        if key in seen:
            findings.append(Finding(label, f"duplicate of {seen[key]}"))
        seen[key] = label
        if not name or len(name) > 253 or not _DNS_SUBDOMAIN.match(name):
            findings.append(Finding(label, f"metadata.name {name!r} is not a DNS-1123 subdomain"))
        for where, labels in _all_label_sets(m):
            for k, v in labels.items():
                if len(v) > 63 or not _LABEL_VALUE.match(v):
                    findings.append(Finding(label, f"{where} label {k}={v!r} is not a valid label value"))
        if m["kind"] in _POD_TEMPLATE_KINDS:
            selector = m["spec"].get("selector", {}).get("matchLabels", {})
            template = m["spec"]["template"]["metadata"].get("labels", {})
            if not _matches(selector, template):
                findings.append(Finding(label, f"selector {selector} does not match the pod template labels"))
            pod_labels.append((namespace, template))
    for label, m in manifests.items():
        if m["kind"] == "Service" and m["spec"].get("selector"):
            namespace = m["metadata"].get("namespace", "")
            if not any(ns == namespace and _matches(m["spec"]["selector"], labels) for ns, labels in pod_labels):
                findings.append(Finding(label, f"Service selector {m['spec']['selector']} matches no rendered pods"))
    return findings


def _matches(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def _all_label_sets(m: dict[str, Any]) -> Iterable[tuple[str, dict[str, str]]]:
    yield "metadata", m.get("metadata", {}).get("labels", {}) or {}
    template = m.get("spec", {}).get("template") if isinstance(m.get("spec"), dict) else None
    if isinstance(template, dict):
        yield "template", template.get("metadata", {}).get("labels", {}) or {}


def _operator_services(manifests: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Services that operators create from the custom resources we render (RabbitMQ Cluster Operator,
    ECK)."""
    services = []
    for m in manifests.values():
        ns = m["metadata"].get("namespace", "")
        for kind, suffix, port in (("Kibana", "kb-http", 5601), ("Elasticsearch", "es-http", 9200)):
            if m["kind"] == kind and m["apiVersion"].endswith(".k8s.elastic.co/v1"):
                services.append(
                    {
                        "kind": "Service",
                        "metadata": {"name": f"{m['metadata']['name']}-{suffix}", "namespace": ns, "labels": {}},
                        "spec": {"ports": [{"name": "https", "port": port}]},
                    }
                )
        if m["kind"] == "RabbitmqCluster":
            name, ns = m["metadata"]["name"], m["metadata"].get("namespace", "")
            labels = {
                "app.kubernetes.io/name": name,
                "app.kubernetes.io/component": "rabbitmq",
                "app.kubernetes.io/part-of": "rabbitmq",
            }
            for service, ports in (
                (name, ["amqp", "management", "prometheus"]),
                (f"{name}-nodes", ["epmd", "cluster-rpc"]),
            ):
                services.append(
                    {
                        "kind": "Service",
                        "metadata": {"name": service, "namespace": ns, "labels": labels},
                        "spec": {"ports": [{"name": p} for p in ports]},
                    }
                )
    return services


def _pod_templates(manifests: dict[str, dict[str, Any]]) -> list[tuple[str, str, dict[str, str], set[str]]]:
    """(owner, namespace, pod labels, container port names) of every pod the stack will run,
    including those CloudNativePG creates for Clusters and Poolers."""
    pods = []
    for label, m in manifests.items():
        ns = m["metadata"].get("namespace", "")
        if m["kind"] in _POD_TEMPLATE_KINDS:
            template = m["spec"]["template"]
            ports = {p.get("name", "") for c in template["spec"]["containers"] for p in c.get("ports", [])}
            pods.append((label, ns, template["metadata"].get("labels", {}), ports))
        elif m["kind"] == "Cluster" and m["apiVersion"].startswith("postgresql.cnpg.io/"):
            pods.append((label, ns, {"cnpg.io/cluster": m["metadata"]["name"]}, {"postgresql", "metrics"}))
        elif m["kind"] == "Pooler" and m["apiVersion"].startswith("postgresql.cnpg.io/"):
            pods.append((label, ns, {"cnpg.io/poolerName": m["metadata"]["name"]}, {"pgbouncer", "metrics"}))
    return pods


def monitor_targets(manifests: dict[str, dict[str, Any]]) -> dict[str, list[str]]:
    """What each ServiceMonitor/PodMonitor would scrape: the Services (or pod owners) it selects that
    expose every endpoint port it names."""
    services = [m for m in manifests.values() if m["kind"] == "Service"] + _operator_services(manifests)
    pods = _pod_templates(manifests)
    targets: dict[str, list[str]] = {}
    for label, m in manifests.items():
        if m["kind"] not in ("ServiceMonitor", "PodMonitor"):
            continue
        spec = m["spec"]
        namespaces = spec.get("namespaceSelector", {}).get("matchNames") or [m["metadata"].get("namespace", "")]
        selector = spec.get("selector", {}).get("matchLabels", {})
        if m["kind"] == "ServiceMonitor":
            wanted = {e.get("port") for e in spec.get("endpoints", [])}
            targets[label] = [
                s["metadata"]["name"]
                for s in services
                if s["metadata"].get("namespace", "") in namespaces
                and _matches(selector, s["metadata"].get("labels", {}) or {})
                and wanted <= {p.get("name") for p in s["spec"].get("ports", [])}
            ]
        else:
            wanted = {e.get("port") for e in spec.get("podMetricsEndpoints", [])}
            targets[label] = [
                owner
                for owner, ns, labels, ports in pods
                if ns in namespaces and _matches(selector, labels) and wanted <= ports
            ]
    return targets


def monitor_findings(manifests: dict[str, dict[str, Any]]) -> list[Finding]:
    """A monitor that matches nothing scrapes nothing (the original deployment's ServiceMonitor);
    one that matches two Services with the same port scrapes every pod twice."""
    findings = []
    for label, found in monitor_targets(manifests).items():
        kind = manifests[label]["kind"]
        if not found:
            findings.append(Finding(label, f"{kind} selects no Service/pod that exposes its port(s)"))
        elif kind == "ServiceMonitor" and len(found) > 1:
            findings.append(
                Finding(label, f"ServiceMonitor selects {len(found)} Services with its port: {sorted(found)}")
            )
    return findings


def edge_route_findings(manifests: dict[str, dict[str, Any]]) -> list[Finding]:
    """Every UI the load balancer publishes (a `backend ui_*` of the rendered haproxy.cfg) points at a
    Service that has the port (rendered, operator-made, or one of the kube-prometheus-stack release's
    fixed names), and every basic-auth password it reads from the environment is a key of the Secret
    the load balancer's pods take it from."""
    services = [m for m in manifests.values() if m["kind"] == "Service"] + _operator_services(manifests)
    ports: dict[tuple[str, str], set[Any]] = {}
    for service in services:
        key = (service["metadata"].get("namespace", ""), service["metadata"]["name"])
        ports[key] = {p.get("port") for p in service["spec"].get("ports", [])}
    secret_keys = {
        (m["metadata"].get("namespace", ""), m["metadata"]["name"]): set(m.get("stringData", {}) | m.get("data", {}))
        for m in manifests.values()
        if m["kind"] == "Secret"
    }
    findings = []
    for label, m in manifests.items():
        text = (m.get("data") or {}).get("haproxy.cfg") if m["kind"] == "ConfigMap" else None
        if not text:
            continue
        ns = m["metadata"].get("namespace", "")
        backend = ""
        for line in text.splitlines():
            if not line.startswith(" "):
                backend = line.split()[1] if line.startswith("backend ") else ""
                continue
            words = line.split()
            if backend.startswith("ui_") and words[0] == "server":
                host, _, port_text = words[2].rpartition(":")
                service, service_ns = host.split(".")[:2]
                port = int(port_text)
                if (service, port) in CHART_SERVICES:
                    continue
                if port not in ports.get((service_ns, service), set()):
                    findings.append(
                        Finding(label, f"{backend} reaches {service}:{port}, no Service port in {service_ns}")
                    )
        for env in re.findall(r'insecure-password "\$\{([A-Z0-9_]+)\}"', text):
            findings += _secret_env_findings(label, manifests, ns, env, secret_keys)
    return findings


def _secret_env_findings(
    label: str,
    manifests: dict[str, dict[str, Any]],
    namespace: str,
    env: str,
    secret_keys: dict[tuple[str, str], set[str]],
) -> list[Finding]:
    """The variable reaches the config's pods from a rendered Secret's key."""
    sources = [
        item["valueFrom"]["secretKeyRef"]
        for m in manifests.values()
        if m["kind"] in ("StatefulSet", "Deployment") and m["metadata"].get("namespace") == namespace
        for container in m["spec"]["template"]["spec"]["containers"]
        for item in container.get("env", [])
        if item["name"] == env and "secretKeyRef" in item.get("valueFrom", {})
    ]
    if not sources:
        return [Finding(label, f"{env} is read by the config but no pod in {namespace} gets it from a Secret")]
    return [
        Finding(label, f"{env} comes from {ref['name']}/{ref['key']}, which is not rendered")
        for ref in sources
        if ref["key"] not in secret_keys.get((namespace, ref["name"]), set())
    ]


def metric_findings(manifests: dict[str, dict[str, Any]], exposed: frozenset[str]) -> list[Finding]:
    """Every rendered dashboard panel and PrometheusRule expression reads only metrics that some
    deployed exporter exposes (`exposed`) or that a rendered recording rule records."""
    rules = [
        (label, rule)
        for label, m in manifests.items()
        if m["kind"] == "PrometheusRule"
        for group in m["spec"]["groups"]
        for rule in group["rules"]
    ]
    known = exposed | {rule["record"] for _, rule in rules if "record" in rule}
    queries = [(label, f"rule {rule.get('alert') or rule['record']}", rule["expr"]) for label, rule in rules]
    for label, m in manifests.items():
        if m["kind"] == "ConfigMap" and m["metadata"].get("labels", {}).get("grafana_dashboard") == "1":
            for text in m.get("data", {}).values():
                for panel in json.loads(text).get("panels", []):
                    for target in panel.get("targets", []):
                        queries.append((label, f"panel {panel['title']!r}", target.get("expr", "")))
    findings = []
    for label, where, expr in queries:
        for name in sorted(metric_names(expr) - known):
            findings.append(Finding(label, f"{where} reads {name}, which no deployed exporter exposes"))
    return findings


def pod_security_findings(manifests: dict[str, dict[str, Any]]) -> list[Finding]:
    """Pods that their namespace's enforced Pod Security level would refuse (a namespace the stack
    does not render is taken as "restricted", the strictest it could be)."""
    levels = namespace_levels(manifests)
    findings = []
    for label, manifest in manifests.items():
        pod = pod_template(manifest)
        if pod is None:
            continue
        level = levels.get(manifest["metadata"].get("namespace", ""), "restricted")
        for problem in violations(pod, level):
            findings.append(Finding(label, f"Pod Security {level}: {problem}"))
    return findings
