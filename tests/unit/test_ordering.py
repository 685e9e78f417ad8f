"""The creation-order check over a recorded plan, on small literal plans."""

from __future__ import annotations

from typing import Any

from stacks.ordering import effective_dependencies, ordering_findings

KEDA = "kubernetes:helm.sh/v3:Release::cluster-addons-keda"
DEPLOYMENT = "kubernetes:apps/v1:Deployment::ns/api"


def entry(
    type_: str, name: str, depends_on: list[str] | None = None, parent: str | None = None, **inputs: Any
) -> dict[str, Any]:
    return {"type": type_, "name": name, "parent": parent, "dependsOn": depends_on or [], "inputs": inputs}


def plan(scaled_object_deps: list[str], pool_deps: list[str] | None = None) -> list[dict[str, Any]]:
    return [
        entry("kubernetes:helm.sh/v3:Release", "cluster-addons-keda", chart="keda"),
        entry("teknofest:platform:WorkerPool", "api", pool_deps),
        entry("kubernetes:apps/v1:Deployment", "ns/api", parent="teknofest:platform:WorkerPool::api"),
        entry(
            "kubernetes:keda.sh/v1alpha1:ScaledObject",
            "ns/api",
            scaled_object_deps,
            parent="teknofest:platform:WorkerPool::api",
            metadata={"namespace": "ns"},
            spec={"scaleTargetRef": {"name": "api"}},
        ),
    ]


def test_a_custom_resource_after_its_crd_and_target_passes() -> None:
    assert ordering_findings(plan([KEDA, DEPLOYMENT])) == []


def test_a_dependency_of_the_parent_counts() -> None:
    # The engine registers a child only after its parent, whose registration waited for its own deps.
    assert ordering_findings(plan([DEPLOYMENT], pool_deps=[KEDA])) == []
    deps = effective_dependencies(plan([DEPLOYMENT], pool_deps=[KEDA]))
    assert deps["kubernetes:keda.sh/v1alpha1:ScaledObject::ns/api"] == {KEDA, DEPLOYMENT}


def test_a_custom_resource_before_its_crd_is_a_finding() -> None:
    findings = ordering_findings(plan([DEPLOYMENT]))
    assert [f.message for f in findings] == [f"is not created after {KEDA}, which installs its CRD"]


def test_a_scaled_object_before_its_target_is_a_finding() -> None:
    findings = ordering_findings(plan([KEDA]))
    assert [f.message for f in findings] == ["is created before the Deployment ns/api it scales"]


def test_a_scaled_object_of_a_missing_target_is_a_finding() -> None:
    broken = [e for e in plan([KEDA]) if e["type"] != "kubernetes:apps/v1:Deployment"]
    assert [f.message for f in ordering_findings(broken)] == [
        "scales Deployment ns/api, which the plan does not create"
    ]


def test_without_the_installer_in_the_plan_nothing_is_required() -> None:
    # The cluster already has the CRD (the add-on is switched off in this stack).
    assert ordering_findings(plan([DEPLOYMENT])[1:]) == []
