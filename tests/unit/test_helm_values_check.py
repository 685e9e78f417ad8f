"""The Helm values check, on a small chart written by the test (values.yaml, templates.txt, schema)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stacks.helm_values_check import ChartFiles, helm_values_findings, merged, schema_errors, unknown_paths

VALUES = """
replicaCount: 1
podAnnotations: {}
resources: {}
service:
  port: 80
  type: ClusterIP
grafana.ini:
  server:
    domain: ""
sub:
  enabled: true
"""
SUB_VALUES = "image:\n  tag: ''\nextraEnv: []\n"


@pytest.fixture
def charts(tmp_path: Path) -> Path:
    folder = tmp_path / "demo-1.0.0"
    folder.mkdir()
    (folder / "Chart.yaml").write_text("name: demo\nversion: 1.0.0\ndependencies:\n  - name: sub\n    version: 2.0.0\n")
    (folder / "values.yaml").write_text(VALUES)
    (folder / "templates.txt").write_text("replicaCount\nservice.port\nmetrics.serviceMonitor.enabled\n")
    schema = {"type": "object", "properties": {"replicaCount": {"type": "integer", "minimum": 1}}}
    (folder / "values.schema.json").write_text(json.dumps(schema))
    sub = tmp_path / "sub-2.0.0"
    sub.mkdir()
    (sub / "Chart.yaml").write_text("name: sub\nversion: 2.0.0\n")
    (sub / "values.yaml").write_text(SUB_VALUES)
    return tmp_path


def demo(charts: Path) -> ChartFiles:
    chart = ChartFiles.load(charts, "demo", "1.0.0")
    assert chart is not None
    return chart


def test_known_keys_pass(charts: Path) -> None:
    values = {
        "replicaCount": 2,
        "service": {"type": "LoadBalancer"},
        "podAnnotations": {"a": "b"},  # below a free-form map
        "resources": {"limits": {"cpu": "1"}},
        "metrics": {"serviceMonitor": {"enabled": True}},  # read by a template, absent from values.yaml
        "sub": {"enabled": False, "image": {"tag": "1.2"}},  # the parent's condition, then the subchart's key
    }
    assert unknown_paths(values, demo(charts)) == []


def test_a_misspelt_key_is_reported(charts: Path) -> None:
    values = {"replicas": 2, "service": {"tpye": "ClusterIP"}, "sub": {"imagee": {"tag": "1"}}}
    assert unknown_paths(values, demo(charts)) == ["replicas", "service.tpye", "sub.imagee.tag"]


def test_below_a_structured_default_only_its_keys_pass(charts: Path) -> None:
    # grafana.ini is free-form only for the grafana chart (FREE_FORM_MAPS); here it is structured.
    assert unknown_paths({"grafana.ini": {"auth": {"anonymous": True}}}, demo(charts)) == ["grafana.ini.auth.anonymous"]


def test_the_schema_applies_to_the_merged_values(charts: Path) -> None:
    assert schema_errors({"replicaCount": 3}, demo(charts)) == []
    assert schema_errors({"replicaCount": 0}, demo(charts)) == ["replicaCount: 0 is less than the minimum of 1"]
    assert merged({"a": {"b": 1, "c": 2}, "d": [1]}, {"a": {"b": 3}, "d": [2]}) == {"a": {"b": 3, "c": 2}, "d": [2]}


def test_findings_name_the_release_and_a_chart_without_files(charts: Path) -> None:
    releases = {
        "demo.yaml": {"chart": "demo", "version": "1.0.0", "values": {"replica": 1}},
        "other.yaml": {"chart": "other", "version": "9.9.9", "values": {}},
    }
    messages = [(f.manifest, f.message) for f in helm_values_findings(releases, charts)]
    assert messages == [
        ("helm/demo.yaml", "replica: no such value in the chart"),
        ("helm/other.yaml", f"no upstream files for other 9.9.9 in {charts}"),
    ]
