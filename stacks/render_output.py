"""From a mock-engine run to the synth's files: manifests, generated configs, plan, outputs."""

from __future__ import annotations

from typing import Any

from components.common.labels import RENDERED_CONFIG_ANNOTATION
from stacks.mock_engine import MASK, StackRender, unwrap

# The RPC layer does not keep key order; sort so that renders diff cleanly, names first.
_FIRST_KEYS = {"name": 0, "apiVersion": 0, "kind": 1, "metadata": 2}


def sorted_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: sorted_keys(value[k]) for k in sorted(value, key=lambda k: (_FIRST_KEYS.get(k, 9), k))}
    if isinstance(value, list):
        return [sorted_keys(item) for item in value]
    return value


def manifest_file_name(manifest: dict[str, Any]) -> str:
    meta = manifest["metadata"]
    return f"{manifest['kind'].lower()}-{meta.get('namespace') or 'cluster'}-{meta['name']}.yaml"


def manifests(render: StackRender) -> dict[str, dict[str, Any]]:
    """Each Kubernetes object exactly as the program sends it (secrets masked), by file name."""
    result: dict[str, dict[str, Any]] = {}
    for resource in render.resources:
        if not resource.type.startswith("kubernetes:") or not resource.custom:
            continue
        body = unwrap(resource.inputs)
        if "kind" not in body or "apiVersion" not in body:
            continue  # a provider or a Helm release: in the plan, not a manifest
        if body["kind"] == "Secret":
            # Belt and braces: a Secret's values never leave the engine, marked secret or not.
            for key in ("data", "stringData"):
                if isinstance(body.get(key), dict):
                    body[key] = {name: MASK for name in body[key]}
        ordered = sorted_keys(body)
        result[manifest_file_name(ordered)] = ordered
    return dict(sorted(result.items()))


def config_files(manifest_set: dict[str, dict[str, Any]]) -> dict[str, str]:
    """Generated config files, from the ConfigMaps that carry them: "<capability>/<file>" -> text."""
    files: dict[str, str] = {}
    for manifest in manifest_set.values():
        capability = manifest["metadata"].get("annotations", {}).get(RENDERED_CONFIG_ANNOTATION)
        if manifest["kind"] == "ConfigMap" and capability:
            for file_name, text in manifest.get("data", {}).items():
                files[f"{capability}/{file_name}"] = text
    return dict(sorted(files.items()))


def plan(render: StackRender) -> list[dict[str, Any]]:
    by_urn = {resource.urn: resource for resource in render.resources}
    entries = []
    # Registrations arrive from several threads; sort so the plan is the same on every run.
    for resource in sorted(render.resources, key=lambda r: (r.type, r.name)):
        parent = by_urn.get(resource.parent_urn or "")
        entry: dict[str, Any] = {
            "type": resource.type,
            "name": resource.name,
            "parent": f"{parent.type}::{parent.name}" if parent else None,
            # What `pulumi up` waits for before creating it (explicit depends_on and input sources).
            "dependsOn": sorted(
                f"{by_urn[urn].type}::{by_urn[urn].name}" for urn in resource.dependencies if urn in by_urn
            ),
            "inputs": unwrap(resource.inputs),
        }
        if resource.delete_before_replace:
            entry["deleteBeforeReplace"] = True
        entries.append(entry)
    return entries


def helm_releases(render: StackRender) -> dict[str, dict[str, Any]]:
    """Each Helm release the program installs, as a reviewable file: chart, version, values."""
    releases = {}
    for resource in render.resources:
        if resource.type != "kubernetes:helm.sh/v3:Release":
            continue
        inputs = unwrap(resource.inputs)
        repository = inputs.get("repositoryOpts", {}).get("repo")
        releases[f"{resource.name}.yaml"] = sorted_keys(
            {
                "name": inputs.get("name") or resource.name,
                "chart": inputs["chart"],
                "version": inputs["version"],
                "repository": repository,
                "namespace": inputs.get("namespace"),
                "values": inputs.get("values", {}),
            }
        )
    return dict(sorted(releases.items()))
