"""Every stack rendered once per session by the offline synth, shared by the stack tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from stacks.synth import SynthResult, synth
from tests.conftest import DEV_ON_KUBERNETES, STACKS, stack_file_path, stack_name


@pytest.fixture(scope="session")
def rendered(tmp_path_factory: pytest.TempPathFactory, crds_folder: Path) -> dict[str, SynthResult]:
    """Every stack, and dev's settings on the kubernetes target (dev-kubernetes)."""
    return {
        stack: synth(stack_name(stack), tmp_path_factory.mktemp(stack) / "out", stack_file_path(stack))
        for stack in (*STACKS, DEV_ON_KUBERNETES)
    }
