"""Every version the program pins is in docs/versions.md, with where it was checked, and nothing more."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.monitoring.elastic_containers import elasticsearch_image, kibana_image
from components.monitoring.settings import Elasticsearch
from stacks.mock_engine import PROJECT_ROOT
from stacks.settings import Images
from stacks.synth import SynthResult
from tests.conftest import KUBERNETES_STACKS, stack_settings

TABLE = PROJECT_ROOT / "docs" / "versions.md"
STATUSES = {"verified", "seen", "inferred", "ours"}
_OPERATOR_MANIFEST = re.compile(r"/releases/download/(v[0-9.]+)/cluster-operator\.yml$")


def table_rows(text: str) -> list[dict[str, str]]:
    """The rows of every table whose header starts `| what | pin |`, by column name."""
    rows: list[dict[str, str]] = []
    header: list[str] | None = None
    for line in text.splitlines():
        if not line.startswith("|"):
            header = None
            continue
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if cells[:2] == ["what", "pin"]:
            header = cells
        elif header and not set(cells) <= {"---"}:
            rows.append(dict(zip(header, cells, strict=True)))
    return rows


def table_pins() -> dict[str, dict[str, str]]:
    return {row["pin"].strip("`"): row for row in table_rows(TABLE.read_text(encoding="utf-8"))}


def _images(value: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(value, dict):
        for key, item in value.items():
            if key in ("image", "imageName") and isinstance(item, str):
                found.add(item)
            else:
                found |= _images(item)
    elif isinstance(value, list):
        for item in value:
            found |= _images(item)
    return found


def rendered_pins(result: SynthResult, charts: Path | None) -> set[str]:
    """What a render deploys: container and operand images, Helm charts (with the subcharts the
    pinned chart itself pins and we configure), release manifests, and the Elasticsearch version ECK runs."""
    # The docker target's containers run pinned images too (but the one built on the host).
    pins = {str(c["image"]) for c in result.containers.values() if not str(c["image"]).startswith(LOCAL_BUILDS)}
    for manifest in result.manifests.values():
        pins |= _images(manifest)
        if manifest["kind"] in ("Elasticsearch", "Kibana"):
            pins.add(f"elasticsearch {manifest['spec']['version']}")
    for entry in json.loads((result.out / "plan.json").read_text()):
        inputs = entry["inputs"]
        if entry["type"] == "kubernetes:helm.sh/v3:Release":
            pins.add(f"{inputs['chart']} {inputs['version']}")
            chart_file = charts / f"{inputs['chart']}-{inputs['version']}" / "Chart.yaml" if charts else None
            if chart_file and chart_file.is_file():
                # A subchart whose values we set and check (its files are in the chart folder).
                for dependency in yaml.safe_load(chart_file.read_text()).get("dependencies", []):
                    if charts and (charts / f"{dependency['name']}-{dependency['version']}").is_dir():
                        pins.add(f"{dependency['name']} {dependency['version']}")
        elif entry["type"] == "kubernetes:yaml/v2:ConfigFile":
            match = _OPERATOR_MANIFEST.search(inputs["file"])
            assert match, f"a release manifest the table cannot name: {inputs['file']}"
            pins.add(f"rabbitmq cluster-operator {match.group(1)}")
    return pins


# Images the docker target builds on the host from a pinned base (components/postgres/image).
LOCAL_BUILDS = "teknofest-platform/"


def default_image_pins() -> set[str]:
    """Every image default, including those of parts a shipped stack leaves off."""
    pins = {value for value in Images().model_dump().values() if value}
    versions = {Elasticsearch().version}
    for stack in KUBERNETES_STACKS:
        settings = stack_settings(stack)
        pins |= {value for value in settings.images.model_dump().values() if value}
        versions.add(settings.monitoring.elasticsearch.version)
    # The docker target runs Elasticsearch and Kibana from Elastic's images of that version.
    return pins | {image(v) for v in versions for image in (elasticsearch_image, kibana_image)}


def test_every_row_says_where_it_was_checked() -> None:
    rows = table_rows(TABLE.read_text(encoding="utf-8"))
    assert len(rows) == len(table_pins()), "a pin appears in two rows"
    for row in rows:
        assert row["status"] in STATUSES, row
        assert row["upstream repository"] and row["tag or commit"] and row["file that shows it"], row


def test_the_table_reader_reads_a_table() -> None:
    text = "x\n| what | pin | status |\n| --- | --- | --- |\n| a | `b:1` | seen |\n\n| other | table |\n| 1 | 2 |\n"
    assert table_rows(text) == [{"what": "a", "pin": "`b:1`", "status": "seen"}]


def test_every_pin_is_in_the_table_and_every_row_is_pinned(
    rendered: dict[str, SynthResult], charts_folder: Path
) -> None:
    used = default_image_pins()
    for result in rendered.values():
        used |= rendered_pins(result, charts_folder)
    listed = set(table_pins())
    assert sorted(used - listed) == [], "pinned in code but missing from docs/versions.md"
    assert sorted(listed - used) == [], "listed in docs/versions.md but pinned nowhere"


def test_a_new_pin_fails_the_check(rendered: dict[str, SynthResult], charts_folder: Path) -> None:
    """The check can fail: an image the table lacks is reported."""
    used = rendered_pins(rendered["production"], charts_folder) | {"docker.io/library/redis:7.0.15"}
    assert used - set(table_pins()) == {"docker.io/library/redis:7.0.15"}


@pytest.mark.parametrize("stack", KUBERNETES_STACKS)
def test_no_pin_is_on_a_line_upstream_stopped_publishing(rendered: dict[str, SynthResult], stack: str) -> None:
    images = set().union(*(_images(m) for m in rendered[stack].manifests.values()))
    retired = ("redis:7.0", "redis:6.", "rabbitmq:3.", "postgresql:16.10@", "kube-prometheus-stack 88.6.4")
    assert not [image for image in images if any(old in image for old in retired)]
    postgres = next(image for image in images if "cloudnative-pg/postgresql" in image)
    assert re.search(r"-(minimal|standard)-", postgres) and "@sha256:" in postgres
