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


def shared_folder(folder: Path, what: str, variable: str, unchecked: str) -> Path:
    """A folder of ../shared/. CI always has it; elsewhere its absence is a stated skip."""
    if not folder.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"{what} folder {folder} is missing in CI; set {variable}")
        pytest.skip(f"{what} folder {folder} not present (set {variable}); {unchecked} unchecked")
    return folder


@pytest.fixture(scope="session")
def crds_folder() -> Path:
    """The operators' CRDs."""
    return shared_folder(crds_dir(), "CRD", "TEKNOFEST_CRDS_DIR", "custom resources")


@pytest.fixture(scope="session")
def charts_folder() -> Path:
    """The pinned charts' upstream values files (../shared/charts)."""
    return shared_folder(charts_dir(), "chart", "TEKNOFEST_CHARTS_DIR", "Helm values")
