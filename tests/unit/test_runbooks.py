"""Every alert of every stack links to a runbook section that exists (docs/runbooks/), and every
link inside the runbooks resolves."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from components.monitoring.alert_rules import rule_groups
from stacks.monitored import monitored_platform
from tests.conftest import DEV_ON_KUBERNETES, STACKS, stack_settings

RUNBOOKS = Path(__file__).resolve().parents[2] / "docs" / "runbooks"
SECTION = re.compile(r"^#{1,6} (.+)$", re.MULTILINE)
LINK = re.compile(r"\]\(([^)#]*)(?:#([^)]+))?\)")


def anchors(path: Path) -> set[str]:
    """GitHub's anchors of a Markdown file's headings (lower case, spaces to dashes)."""
    return {
        re.sub(r"[^\w\- ]", "", heading).strip().lower().replace(" ", "-")
        for heading in SECTION.findall(path.read_text())
    }


@pytest.mark.parametrize("stack", [*STACKS, DEV_ON_KUBERNETES])
def test_every_alert_links_to_its_runbook_section(stack: str) -> None:
    settings = stack_settings(stack)
    base = settings.monitoring.runbook_base_url.rstrip("/")
    missing = []
    for group in rule_groups(monitored_platform(settings)):
        for rule in group["rules"]:
            if "alert" not in rule:
                continue
            url = rule["annotations"]["runbook_url"]
            assert url.startswith(base + "/"), url
            page, _, anchor = url.removeprefix(base + "/").partition("#")
            path = RUNBOOKS / page
            if not path.is_file() or anchor not in anchors(path):
                missing.append(url)
    assert not missing, missing


def test_every_section_says_what_it_means_what_to_check_and_what_to_do() -> None:
    for path in sorted(RUNBOOKS.glob("*.md")):
        for section in path.read_text().split("\n### ")[1:]:
            name = section.splitlines()[0]
            for part in ("**Meaning.**", "**Check.**", "**Act.**"):
                assert part in section, f"{path.name} {name}: no {part}"


def test_links_between_runbooks_and_the_operations_checklist_resolve() -> None:
    for path in [*sorted(RUNBOOKS.glob("*.md")), RUNBOOKS.parent / "operations.md"]:
        for target, anchor in LINK.findall(path.read_text()):
            if target.startswith("http"):
                continue
            linked = (path.parent / target) if target else path
            assert linked.is_file(), f"{path.name}: {target}"
            if anchor:
                assert anchor in anchors(linked), f"{path.name}: {target}#{anchor}"
