"""The architecture picture of each rendered stack (build/<stack>/architecture.dot and .svg), and
the README's committed pictures, current."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from stacks.pictures import PICTURED, picture_path
from stacks.synth import SynthResult


def dot_binary() -> str:
    found = shutil.which("dot")
    if found is None:
        message = "Graphviz's dot is not installed (./run test installs it)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


@pytest.mark.parametrize("stack", PICTURED)
def test_the_readmes_pictures_are_current(rendered: dict[str, SynthResult], stack: str) -> None:
    dot = (rendered[stack].out / "architecture.dot").read_text()
    assert picture_path(stack, "dot").read_text() == dot, "stale: run ./run reference"
    svg = subprocess.run([dot_binary(), "-Tsvg"], input=dot, capture_output=True, text=True, check=True).stdout
    assert picture_path(stack, "svg").read_text() == svg, "stale: run ./run reference"


def test_each_picture_shows_who_talks_to_whom_and_what_is_published(rendered: dict[str, SynthResult]) -> None:
    production = (rendered["production"].out / "architecture.dot").read_text()
    assert '"clients" -> "haproxy" [label="8080, 8443"];' in production
    assert '"api" -> "postgres-pooler-rw" [label="5432"];' in production
    assert 'label="teknofest-production"' in production and 'label="monitoring"' in production
    dev = (rendered["dev"].out / "architecture.dot").read_text()
    assert '"clients" -> "haproxy" [label="127.0.0.1:80, 127.0.0.1:8404"];' in dev
    assert '"api-0" -> "postgres-pooler";' in dev
    # A sidecar runs none of the table's components: no edge from the pooler to the exporter.
    assert '"postgres-pooler" -> "postgres-exporter"' not in dev
    swarm = (rendered["swarm"].out / "architecture.dot").read_text()
    assert '"clients" -> "haproxy" [label="80 (host), 443 (host)"];' in swarm
    assert 'label="teknofest-swarm-backend"' in swarm
    for stack in ("production", "dev", "swarm"):
        if shutil.which("dot"):
            assert (rendered[stack].out / "architecture.svg").read_text().startswith("<?xml")
