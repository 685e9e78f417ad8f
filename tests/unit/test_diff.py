from __future__ import annotations

from pathlib import Path

from stacks.diff import markdown_diff


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
    assert "**1 added, 1 removed, 1 changed**" in text
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
    assert "**0 added, 0 removed, 1 changed**" in text
    assert '-{"dnsOpts": ["timeout:1"]}\n+{}' in text
