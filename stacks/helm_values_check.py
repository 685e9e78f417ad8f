"""Helm values checked offline against each pinned chart's own files (`../shared/charts/<chart>-<version>/`).

Helm ignores a misspelt key without a word, so every value the program sets must be a key the chart's
`values.yaml` defines, or a path its templates read (`templates.txt`), or lie below a free-form map the
chart passes through as is (a default of `{}`, `[]` or null). Values under a subchart's key are checked
against the subchart's files where they are present. Where the chart ships `values.schema.json`, the
merged values (defaults with ours on top, as Helm merges them) must satisfy it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from stacks.validate import Finding

Path_ = tuple[str, ...]

# Maps a chart renders whole although its values.yaml gives structured defaults, read in a way
# templates.txt cannot list (`index .Values "grafana.ini"`): any key below them is the chart's input.
FREE_FORM_MAPS: Mapping[tuple[str, Path_], str] = {
    ("grafana", ("grafana.ini",)): 'rendered whole into grafana.ini (index .Values "grafana.ini")',
}
# Values under a subchart whose files are not in the chart folder, accepted with the reason they exist.
UNCHECKED_SUBCHART_VALUES: Mapping[tuple[str, str], str] = {
    ("kube-prometheus-stack", "kube-state-metrics.fullnameOverride"): (
        "read by the fullname helper every `helm create` chart has; fixes the Service name the catalogue scrapes"
    ),
    ("kube-prometheus-stack", "prometheus-node-exporter.fullnameOverride"): (
        "read by the fullname helper every `helm create` chart has; fixes the DaemonSet's name"
    ),
}


@dataclass(frozen=True)
class ChartFiles:
    name: str
    version: str
    defaults: Mapping[str, Any]
    template_paths: frozenset[Path_]
    schema: Mapping[str, Any] | None
    # Subchart name -> its files, where the folder holds them.
    subcharts: Mapping[str, ChartFiles]

    @classmethod
    def load(cls, charts: Path, name: str, version: str) -> ChartFiles | None:
        folder = charts / f"{name}-{version}"
        if not folder.is_dir():
            return None
        defaults = yaml.safe_load((folder / "values.yaml").read_text(encoding="utf-8")) or {}
        templates = folder / "templates.txt"
        paths = (
            frozenset(tuple(line.split(".")) for line in templates.read_text().split() if line)
            if templates.is_file()
            else frozenset()
        )
        schema_file = folder / "values.schema.json"
        schema = json.loads(schema_file.read_text(encoding="utf-8")) if schema_file.is_file() else None
        subcharts = {}
        chart_yaml = yaml.safe_load((folder / "Chart.yaml").read_text(encoding="utf-8")) or {}
        for dependency in chart_yaml.get("dependencies") or []:
            key = dependency.get("alias") or dependency["name"]
            sub = cls.load(charts, dependency["name"], str(dependency.get("version", "")))
            if sub is not None:
                subcharts[key] = sub
        return cls(name, version, defaults, paths, schema, subcharts)


def leaf_paths(values: Any, prefix: Path_ = ()) -> Iterator[Path_]:
    """Every path that ends in a value (a non-empty map is walked into, anything else is a leaf)."""
    if isinstance(values, Mapping) and values:
        for key, item in values.items():
            yield from leaf_paths(item, (*prefix, str(key)))
    else:
        yield prefix


def _lookup(tree: Any, path: Path_) -> tuple[bool, Any]:
    node = tree
    for key in path:
        if not isinstance(node, Mapping) or key not in node:
            return False, None
        node = node[key]
    return True, node


def _free_form(value: Any) -> bool:
    return value is None or value == {} or value == []


def unknown_paths(values: Mapping[str, Any], chart: ChartFiles) -> list[str]:
    """Paths of `values` that neither the chart's values.yaml nor its templates know."""
    unknown: list[str] = []
    for path in leaf_paths(values):
        if not path or _known(path, chart):
            continue
        dotted = ".".join(path)
        sub = chart.subcharts.get(path[0])
        # Not the parent's own value: the subchart's, checked against the subchart's files.
        if sub is not None and len(path) > 1 and _known(path[1:], sub):
            continue
        if (chart.name, dotted) not in UNCHECKED_SUBCHART_VALUES:
            unknown.append(dotted)
    return sorted(set(unknown))


def _known(path: Path_, chart: ChartFiles) -> bool:
    if _lookup(chart.defaults, path)[0] or path in chart.template_paths:
        return True
    if any((chart.name, path[:length]) in FREE_FORM_MAPS for length in range(1, len(path))):
        return True
    for length in range(len(path) - 1, 0, -1):
        prefix = path[:length]
        found, default = _lookup(chart.defaults, prefix)
        if found:
            # Below a free-form map the chart passes through; below a structured one, only its keys.
            return _free_form(default) or prefix in chart.template_paths
        if prefix in chart.template_paths:
            return True
    return False


def merged(defaults: Any, values: Any) -> Any:
    """Helm's coalescing: maps merge key by key, anything else is replaced."""
    if isinstance(defaults, Mapping) and isinstance(values, Mapping):
        result = dict(defaults)
        for key, item in values.items():
            result[key] = merged(defaults.get(key), item)
        return result
    return values


def schema_errors(values: Mapping[str, Any], chart: ChartFiles) -> list[str]:
    if chart.schema is None:
        return []
    validator = jsonschema.Draft7Validator(chart.schema)
    return sorted(
        f"{'.'.join(str(p) for p in error.path) or '(root)'}: {error.message}"
        for error in validator.iter_errors(merged(chart.defaults, values))
    )


def helm_values_findings(releases: Mapping[str, Mapping[str, Any]], charts: Path) -> list[Finding]:
    """Every release file of a render (`helm/<release>.yaml` contents) against its chart's files."""
    findings: list[Finding] = []
    for file_name, release in sorted(releases.items()):
        chart = ChartFiles.load(charts, release["chart"], str(release["version"]))
        label = f"helm/{file_name}"
        if chart is None:
            findings.append(
                Finding(label, f"no upstream files for {release['chart']} {release['version']} in {charts}")
            )
            continue
        values = release.get("values") or {}
        findings += [Finding(label, f"{path}: no such value in the chart") for path in unknown_paths(values, chart)]
        findings += [Finding(label, f"values schema: {error}") for error in schema_errors(values, chart)]
    return findings
