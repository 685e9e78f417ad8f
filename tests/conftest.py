"""Shared fixtures: settings of each stack, read from the real Pulumi.<stack>.yaml files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from stacks.config_source import load_settings, project_config
from stacks.mock_engine import PROJECT_ROOT
from stacks.settings import PlatformSettings
from stacks.stack_file import read_stack_file
from stacks.validate import charts_dir, crds_dir

STACKS = ("dev", "staging", "production")


def stack_settings(stack: str) -> PlatformSettings:
    stack_file = read_stack_file(PROJECT_ROOT / f"Pulumi.{stack}.yaml")
    return load_settings(project_config(stack_file.config), stack, f"Pulumi.{stack}.yaml")


@pytest.fixture(scope="session")
def production_settings() -> PlatformSettings:
    return stack_settings("production")


@pytest.fixture(scope="session")
def crds_folder() -> Path:
    """The operators' CRDs. CI always has them; elsewhere their absence is a stated skip."""
    folder = crds_dir()
    if not folder.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"CRD folder {folder} is missing in CI; set TEKNOFEST_CRDS_DIR")
        pytest.skip(f"CRD folder {folder} not present (set TEKNOFEST_CRDS_DIR); custom resources unchecked")
    return folder


@pytest.fixture(scope="session")
def charts_folder() -> Path:
    """The pinned charts' upstream values files (../shared/charts). CI always has them."""
    folder = charts_dir()
    if not folder.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"chart folder {folder} is missing in CI; set TEKNOFEST_CHARTS_DIR")
        pytest.skip(f"chart folder {folder} not present (set TEKNOFEST_CHARTS_DIR); Helm values unchecked")
    return folder
