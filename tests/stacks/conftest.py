"""Every stack rendered once per session by the offline synth, shared by the stack tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from stacks.synth import SynthResult, synth
from tests.conftest import STACKS


@pytest.fixture(scope="session")
def rendered(tmp_path_factory: pytest.TempPathFactory, crds_folder: Path) -> dict[str, SynthResult]:
    return {stack: synth(stack, tmp_path_factory.mktemp(stack) / "out") for stack in STACKS}
