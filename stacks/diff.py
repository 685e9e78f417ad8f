"""Markdown diff of two synth outputs, resource by resource, for a pull request."""

from __future__ import annotations

import difflib
import json
from pathlib import Path
from typing import Any

from stacks.plan_diff import markdown as plan_markdown
from stacks.plan_diff import plan_diff


def _files(root: Path) -> dict[str, str]:
    found: dict[str, str] = {}
    for sub in ("manifests", "containers", "services", "configs", "helm"):
        base = root / sub
        if base.is_dir():
            for path in sorted(base.rglob("*")):
                if path.is_file():
                    found[str(path.relative_to(root))] = path.read_text(encoding="utf-8")
    # The plan holds every resource's inputs: a change the per-object files do not show (a
    # container's DNS options, a dependency) still shows there.
    for name in ("plan.json", "outputs.json"):
        path = root / name
        if path.is_file():
            found[name] = path.read_text(encoding="utf-8")
    return found


def _plan(root: Path) -> list[dict[str, Any]]:
    path = root / "plan.json"
    if not path.is_file():
        return []
    loaded = json.loads(path.read_text(encoding="utf-8"))
    return loaded if isinstance(loaded, list) else []


def markdown_diff(before: Path, after: Path) -> str:
    """The plan first (counts per component, each resource's changed inputs), then the files,
    folded."""
    old, new = _files(before), _files(after)
    added = sorted(set(new) - set(old))
    removed = sorted(set(old) - set(new))
    changed = sorted(name for name in set(old) & set(new) if old[name] != new[name])
    lines = [f"## Synth diff: `{before}` → `{after}`", ""]
    if not (added or removed or changed):
        lines.append("No changes.")
        return "\n".join(lines) + "\n"
    lines += plan_markdown(plan_diff(_plan(before), _plan(after)))
    lines.append(
        f"<details><summary><b>Files: {len(added)} added, {len(removed)} removed, {len(changed)} changed</b></summary>"
    )
    lines.append("")
    for title, names in (("Added", added), ("Removed", removed)):
        if names:
            lines.append(f"### {title}")
            lines += [f"- `{name}`" for name in names]
            lines.append("")
    if changed:
        lines.append("### Changed")
        for name in changed:
            diff = difflib.unified_diff(
                old[name].splitlines(), new[name].splitlines(), f"before/{name}", f"after/{name}", lineterm="", n=3
            )
            lines += [
                f"<details><summary><code>{name}</code></summary>",
                "",
                "```diff",
                *diff,
                "```",
                "",
                "</details>",
                "",
            ]
    lines.append("</details>")
    return "\n".join(lines) + "\n"
