"""The validators must catch what they claim to catch."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from stacks.validate import CrdSchemas, structural_findings, to_json_schema, validate_manifests


def deployment() -> dict[str, Any]:
    labels = {"app.kubernetes.io/name": "api"}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "api", "namespace": "ns", "labels": labels},
        "spec": {
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    # Passes "restricted", which the checks assume for a namespace they do not see.
                    "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
                    "containers": [
                        {
                            "name": "api",
                            "image": "x:1",
                            "securityContext": {
                                "allowPrivilegeEscalation": False,
                                "capabilities": {"drop": ["ALL"]},
                            },
                        }
                    ],
                },
            },
        },
    }


def test_int_or_string_nullable_and_closed_objects() -> None:
    schema = to_json_schema(
        {
            "type": "object",
            "properties": {
                "port": {"x-kubernetes-int-or-string": True},
                "note": {"type": "string", "nullable": True},
                "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
            },
        }
    )
    assert schema["additionalProperties"] is False
    assert schema["properties"]["port"] == {"anyOf": [{"type": "integer"}, {"type": "string"}]}
    assert schema["properties"]["note"]["type"] == ["string", "null"]
    assert "additionalProperties" not in schema["properties"]["free"]


def test_builtin_kinds_are_checked_strictly() -> None:
    good = deployment()
    findings, checked = validate_manifests({"d": good}, "1.33", None)
    assert findings == [] and checked["d"] == "kubernetes 1.33 strict"
    bad = copy.deepcopy(good)
    bad["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] = "Sometimes"
    bad["spec"]["replicas"] = "three"
    findings, _ = validate_manifests({"d": bad}, "1.33", None)
    assert findings, "an invalid Deployment must be reported"


def test_custom_resources_are_checked_against_their_crd(crds_folder: Path) -> None:
    crds = CrdSchemas(crds_folder)
    scaled_object: dict[str, Any] = {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": {"name": "api", "namespace": "ns"},
        "spec": {"scaleTargetRef": {"name": "api"}, "triggers": [{"type": "cpu", "metadata": {"value": "70"}}]},
    }
    assert validate_manifests({"so": scaled_object}, "1.33", crds)[0] == []
    typo = copy.deepcopy(scaled_object)
    typo["spec"]["maxReplicaCont"] = 3
    findings, checked = validate_manifests({"so": typo}, "1.33", crds)
    assert checked["so"].startswith("CRD schema")
    assert any("maxReplicaCont" in f.message for f in findings)


def test_unknown_custom_resources_are_findings_when_crds_are_known(crds_folder: Path) -> None:
    unknown = {"apiVersion": "example.org/v1", "kind": "Widget", "metadata": {"name": "w", "namespace": "ns"}}
    findings, _ = validate_manifests({"w": unknown}, "1.33", CrdSchemas(crds_folder))
    assert [f.message for f in findings] == ["no schema for example.org/v1 Widget"]


def test_selector_that_misses_its_pods_is_caught() -> None:
    broken = deployment()
    broken["spec"]["selector"]["matchLabels"] = {"app.kubernetes.io/name": "apii"}
    assert any("does not match the pod template" in f.message for f in structural_findings({"d": broken}))


def test_service_that_selects_nothing_is_caught() -> None:
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "api", "namespace": "ns"},
        "spec": {"selector": {"app.kubernetes.io/name": "nothing"}, "ports": [{"port": 80}]},
    }
    messages = [f.message for f in structural_findings({"d": deployment(), "s": service})]
    assert any("matches no rendered pods" in m for m in messages)


@pytest.mark.parametrize("name", ["API", "api_1", "-api", "a" * 254])
def test_invalid_names_are_caught(name: str) -> None:
    d = deployment()
    d["metadata"]["name"] = name
    assert any("DNS-1123" in f.message for f in structural_findings({"d": d}))


def test_duplicates_and_bad_label_values_are_caught() -> None:
    d = deployment()
    d["metadata"]["labels"] = {"version": "1.3.0+build/7"}
    findings = structural_findings({"a": d, "b": deployment()})
    messages = [f.message for f in findings]
    assert any("duplicate of a" in m for m in messages)
    assert any("not a valid label value" in m for m in messages)


def test_pod_security_levels_follow_the_standards() -> None:
    from stacks.pod_security_check import namespace_levels, pod_template, violations

    hardened = {
        "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [
            {
                "name": "c",
                "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
            }
        ],
        "volumes": [{"name": "v", "emptyDir": {}}],
    }
    assert violations(hardened, "restricted") == []
    host = {**hardened, "hostNetwork": True, "volumes": [{"name": "logs", "hostPath": {"path": "/var/log"}}]}
    assert violations(host, "privileged") == []
    assert violations(host, "baseline") == ["hostNetwork is true", "volume 'logs' is a hostPath"]
    loose = {"containers": [{"name": "c"}]}
    assert violations(loose, "baseline") == []
    assert violations(loose, "restricted") == [
        "container 'c' does not set allowPrivilegeEscalation: false",
        "container 'c' may run as root (runAsNonRoot unset)",
        "container 'c' has no RuntimeDefault/Localhost seccompProfile",
        "container 'c' does not drop ALL capabilities",
    ]
    cron = {"kind": "CronJob", "spec": {"jobTemplate": {"spec": {"template": {"spec": loose}}}}}
    assert pod_template(cron) is loose and pod_template({"kind": "Service", "spec": {}}) is None
    ns = {"kind": "Namespace", "metadata": {"name": "x", "labels": {"pod-security.kubernetes.io/enforce": "baseline"}}}
    assert namespace_levels({"ns.yaml": ns}) == {"x": "baseline"}
