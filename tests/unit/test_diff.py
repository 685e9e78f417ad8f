from __future__ import annotations

import json
from pathlib import Path

from stacks.diff import markdown_diff
from stacks.plan_diff import PATHS_SHOWN, FieldChange, field_changes, plan_diff


def write(root: Path, files: dict[str, str]) -> Path:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_markdown_diff_lists_added_removed_and_changed(tmp_path: Path) -> None:
    before = write(
        tmp_path / "a",
        {
            "manifests/service-ns-x.yaml": "port: 80\n",
            "manifests/old.yaml": "x\n",
            "configs/lb/haproxy.cfg": "maxconn 10\n",
        },
    )
    after = write(
        tmp_path / "b",
        {
            "manifests/service-ns-x.yaml": "port: 8080\n",
            "manifests/new.yaml": "y\n",
            "configs/lb/haproxy.cfg": "maxconn 10\n",
        },
    )
    text = markdown_diff(before, after)
    assert "<b>Files: 1 added, 1 removed, 1 changed</b>" in text
    assert "- `manifests/new.yaml`" in text and "- `manifests/old.yaml`" in text
    assert "-port: 80\n+port: 8080" in text
    assert "haproxy.cfg" not in text


def test_identical_renders_have_no_changes(tmp_path: Path) -> None:
    files = {"manifests/a.yaml": "a: 1\n"}
    assert "No changes." in markdown_diff(write(tmp_path / "a", files), write(tmp_path / "b", files))


def test_a_chart_version_or_values_change_shows_in_the_diff(tmp_path: Path) -> None:
    before = write(tmp_path / "a", {"helm/monitoring-kube-prometheus-stack.yaml": 'version: "88.6.4"\n'})
    after = write(tmp_path / "b", {"helm/monitoring-kube-prometheus-stack.yaml": 'version: "88.7.0"\n'})
    text = markdown_diff(before, after)
    assert '-version: "88.6.4"\n+version: "88.7.0"' in text


def test_an_input_only_the_plan_records_shows_in_the_diff(tmp_path: Path) -> None:
    # A container's DNS options are in no per-object file, only in the plan's inputs.
    summary = {"containers/redis-0.yaml": "image: redis\n"}
    before = write(tmp_path / "a", {**summary, "plan.json": '{"dnsOpts": ["timeout:1"]}\n'})
    after = write(tmp_path / "b", {**summary, "plan.json": "{}\n"})
    text = markdown_diff(before, after)
    assert "<b>Files: 0 added, 0 removed, 1 changed</b>" in text
    assert '-{"dnsOpts": ["timeout:1"]}\n+{}' in text


def entry(
    name: str, inputs: dict[str, object], parent: str | None = "teknofest:platform:PoolContainers::api"
) -> dict[str, object]:
    return {
        "type": "docker:index/container:Container",
        "name": name,
        "parent": parent,
        "dependsOn": [],
        "inputs": inputs,
    }


def test_the_plan_comes_first_with_counts_per_component_and_changed_paths(tmp_path: Path) -> None:
    old = [entry("api-0", {"envs": ["A=1", "B=2"], "memory": 512}), entry("api-1", {}), entry("x", {}, None)]
    new = [entry("api-0", {"envs": ["A=1", "B=3"], "memory": 1024, "user": "1:1"}), entry("api-2", {})]
    before = write(tmp_path / "a", {"plan.json": json.dumps(old)})
    after = write(tmp_path / "b", {"plan.json": json.dumps(new)})
    text = markdown_diff(before, after)
    assert text.index("**Plan: 1 to create, 1 to update, 2 to delete**") < text.index("<b>Files:")
    assert "| `api` | 1 | 1 | 1 |" in text and "| `(stack)` | 0 | 0 | 1 |" in text
    assert "- ~ Container `api-0` (api)" in text
    assert '  - `envs[1]`: `"B=2"` → `"B=3"`' in text
    assert "  - `memory`: `512` → `1024`" in text
    assert '  - `user`: `(absent)` → `"1:1"`' in text
    assert "- + Container `api-2` (api)" in text and "- - Container `api-1` (api)" in text


def test_identical_plans_have_no_plan_changes_and_order_does_not_matter() -> None:
    a, b = entry("a", {"x": 1}), entry("b", {"y": [1, 2]})
    assert plan_diff([a, b], [b, a]).changes == []


def test_secrets_stay_masked_and_long_lists_fold() -> None:
    changes = field_changes(
        {"password": "[secret]", "ports": list(range(20))}, {"password": "[secret]", "ports": list(range(21))}
    )
    assert changes == [FieldChange("ports", "removed []", "added [20]")]
    objects = field_changes({"v": [{"a": i} for i in range(10)]}, {"v": [{"a": i} for i in range(11)]})
    assert objects == [FieldChange("v", "[10 items]", "[11 items]")]


def test_a_resource_with_many_changes_shows_the_first_and_counts_the_rest(tmp_path: Path) -> None:
    many = PATHS_SHOWN + 5
    old = [entry("big", {f"k{i:02}": 0 for i in range(many)})]
    new = [entry("big", {f"k{i:02}": 1 for i in range(many)})]
    text = markdown_diff(
        write(tmp_path / "a", {"plan.json": json.dumps(old)}), write(tmp_path / "b", {"plan.json": json.dumps(new)})
    )
    assert "  - … 5 more changed paths" in text and "`k00`: `0` → `1`" in text and "`k29`" not in text


def test_a_files_text_shows_where_it_first_differs() -> None:
    [change] = field_changes({"cfg": "a\nb\nc\n"}, {"cfg": "a\nB\nc\n"})
    assert change == FieldChange("cfg", 'line 2: "b"', 'line 2: "B"')
