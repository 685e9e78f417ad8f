"""Shared fixtures: settings of each stack, read from the real Pulumi.<stack>.yaml files."""

from __future__ import annotations

import functools
import os
import subprocess
import tempfile
from pathlib import Path

import pytest

from stacks.config_source import load_settings, project_config
from stacks.mock_engine import PROJECT_ROOT
from stacks.settings import PlatformSettings
from stacks.stack_file import read_stack_file
from stacks.validate import charts_dir, crds_dir

STACKS = ("dev", "staging", "production", "swarm")
# Dev runs on the docker target; its settings on Kubernetes (a laptop cluster) stay rendered and
# checked as "dev-kubernetes", so the Kubernetes tiers still cover the dev environment's choices.
DEV_ON_KUBERNETES = "dev-kubernetes"
KUBERNETES_STACKS = (DEV_ON_KUBERNETES, "staging", "production")


@functools.cache
def stack_file_path(stack: str) -> Path:
    """The stack file of `stack`; dev-kubernetes is dev's with the kubernetes target, written
    into a temporary folder (tests never write into the working tree)."""
    if stack != DEV_ON_KUBERNETES:
        return PROJECT_ROOT / f"Pulumi.{stack}.yaml"
    text = (PROJECT_ROOT / "Pulumi.dev.yaml").read_text()
    assert "teknofest-platform:target: docker" in text
    path = Path(tempfile.mkdtemp(prefix="teknofest-stack-")) / "Pulumi.dev.yaml"
    path.write_text(text.replace("teknofest-platform:target: docker", "teknofest-platform:target: kubernetes"))
    return path


def stack_name(stack: str) -> str:
    """The Pulumi stack a (test) stack stands for."""
    return "dev" if stack == DEV_ON_KUBERNETES else stack


def stack_settings(stack: str) -> PlatformSettings:
    stack_file = read_stack_file(stack_file_path(stack))
    return load_settings(project_config(stack_file.config), stack_name(stack), f"Pulumi.{stack}.yaml")


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


# Tools' own caches and environments; everything else in the working tree belongs to the project.
_TOOL_PATHS = (
    ".venv",
    ".venv-checkov",
    ".mypy_cache",
    ".ruff_cache",
    ".pytest_cache",
    "tools/grafana-schema/node_modules",
)


def working_tree_files(root: Path) -> set[str]:
    """Every file in the working tree (tracked, untracked and ignored), but the tools' own."""
    result = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "-z"], cwd=root, capture_output=True, check=True
    )
    listed = {name for name in result.stdout.decode().split("\0") if name}
    return {
        name
        for name in listed
        if not name.startswith(_TOOL_PATHS) and "__pycache__/" not in name and (root / name).exists()
    }


def _fingerprint(root: Path) -> dict[str, tuple[int, int]]:
    return {name: ((root / name).stat().st_mtime_ns, (root / name).stat().st_size) for name in working_tree_files(root)}


def pytest_sessionstart(session: pytest.Session) -> None:
    session.config.stash[_BEFORE] = _fingerprint(PROJECT_ROOT)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Tests write only into temporary directories: a file the run created or changed in the
    working tree fails it (a daemon's dump.rdb once landed at the root)."""
    before = session.config.stash.get(_BEFORE, None)
    if before is None or os.environ.get("PYTEST_XDIST_WORKER"):
        return
    after = _fingerprint(PROJECT_ROOT)
    written = sorted(name for name, stamp in after.items() if before.get(name) != stamp)
    if written:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        message = "tests wrote into the working tree: " + ", ".join(written)
        if reporter is not None:
            reporter.write_line(message, red=True)
        else:
            print(message)


_BEFORE = pytest.StashKey[dict[str, tuple[int, int]]]()
