"""The GitHub Actions workflows hold to the repository's rules (.github/workflows): actions pinned
by commit with the release named, no permission by default and each job's own, no expression
expanded inside a shell script, no credentials persisted, secrets only where a fork cannot reach."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

WORKFLOWS = sorted((Path(__file__).resolve().parents[2] / ".github" / "workflows").glob("*.yml"))
PINNED = re.compile(r"^[\w.-]+/[\w.-]+@[0-9a-f]{40} # v\d+(\.\d+)*$")


def load(path: Path) -> dict[Any, Any]:
    # YAML 1.1 reads the key `on` as True.
    return {("on" if key is True else key): value for key, value in yaml.safe_load(path.read_text()).items()}


def uses_lines(path: Path) -> list[str]:
    return [line.split("uses:", 1)[1].strip() for line in path.read_text().splitlines() if "uses:" in line]


def test_there_are_a_pull_request_and_a_deploy_workflow() -> None:
    assert [p.name for p in WORKFLOWS] == ["deploy.yml", "pull-request.yml"]
    assert "pull_request" in load(WORKFLOWS[1])["on"] and "pull_request_target" not in load(WORKFLOWS[1])["on"]
    assert load(WORKFLOWS[0])["on"] == {"push": {"branches": ["main"]}}


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_every_action_is_pinned_by_commit_with_its_release(path: Path) -> None:
    unpinned = [ref for ref in uses_lines(path) if not PINNED.match(ref)]
    assert not unpinned, unpinned


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_no_permission_by_default_and_each_job_states_its_own(path: Path) -> None:
    workflow = load(path)
    assert workflow["permissions"] == {}
    for name, job in workflow["jobs"].items():
        assert "permissions" in job, name
        granted = {scope for scope, level in job["permissions"].items() if level == "write"}
        assert granted <= {"pull-requests"}, (name, granted)


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_no_expression_in_a_script_and_no_persisted_credentials(path: Path) -> None:
    for name, job in load(path)["jobs"].items():
        for step in job["steps"]:
            assert "${{" not in step.get("run", ""), (name, step.get("run"))
            if str(step.get("uses", "")).startswith("actions/checkout@"):
                assert step["with"]["persist-credentials"] is False, name


def test_secrets_and_write_access_never_reach_a_forks_pull_request() -> None:
    jobs = load(WORKFLOWS[1])["jobs"]
    guard = "github.event.pull_request.head.repo.full_name == github.repository"
    for name, job in jobs.items():
        writes = "write" in job["permissions"].values()
        secrets = "secrets." in yaml.safe_dump(job)
        if writes or secrets:
            assert guard in job.get("if", ""), name


def test_production_waits_for_its_reviewers_after_staging() -> None:
    jobs = load(WORKFLOWS[0])["jobs"]
    assert jobs["production"]["needs"] == "staging"
    assert (jobs["staging"]["environment"], jobs["production"]["environment"]) == ("staging", "production")
    for job in jobs.values():
        assert job["concurrency"]["cancel-in-progress"] is False
