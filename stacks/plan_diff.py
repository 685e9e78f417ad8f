"""What changes between two synth plans, read like `pulumi preview`: resources to create, update
and delete per component, and for each changed resource the input paths with old → new values.
Pure: two plan.json documents in, a summary out; secrets are masked in the plans already."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

# Past this many items a changed list is shown by its count, not item by item.
FOLD_LIST_AFTER = 8
# Past this many changed paths a resource's remaining ones are counted, not shown.
PATHS_SHOWN = 25
VALUE_CHARS = 80


@dataclass(frozen=True)
class FieldChange:
    path: str
    old: str
    new: str


@dataclass(frozen=True)
class ResourceChange:
    action: str  # "create", "update", "delete"
    type: str
    name: str
    component: str
    fields: tuple[FieldChange, ...] = ()


@dataclass
class PlanDiff:
    changes: list[ResourceChange] = field(default_factory=list)

    def counts(self) -> dict[str, dict[str, int]]:
        """component -> action -> number of resources, components sorted."""
        table: dict[str, dict[str, int]] = {}
        for change in self.changes:
            row = table.setdefault(change.component, {"create": 0, "update": 0, "delete": 0})
            row[change.action] += 1
        return dict(sorted(table.items()))

    def totals(self) -> dict[str, int]:
        return {action: sum(1 for c in self.changes if c.action == action) for action in ("create", "update", "delete")}


def _key(entry: dict[str, Any]) -> tuple[str, str]:
    return (str(entry["type"]), str(entry["name"]))


def _component(entry: dict[str, Any]) -> str:
    parent = entry.get("parent")
    return str(parent).split("::", 1)[1] if parent else "(stack)"


def show(value: Any) -> str:
    if isinstance(value, list) and len(value) > FOLD_LIST_AFTER:
        return f"[{len(value)} items]"
    text = json.dumps(value, sort_keys=True, ensure_ascii=False)
    return text if len(text) <= VALUE_CHARS else text[: VALUE_CHARS - 1] + "…"


def field_changes(old: Any, new: Any, path: str = "") -> list[FieldChange]:
    """Changed leaves by path ("taskSpec.containerSpec.env.PORT", "envs[3]"); lists of one length
    item by item; a list that changed length as the values removed and added, or (of objects) by
    its item counts."""
    if isinstance(old, dict) and isinstance(new, dict):
        found: list[FieldChange] = []
        for key in sorted(set(old) | set(new), key=str):
            sub = f"{path}.{key}" if path else str(key)
            if key not in old:
                found.append(FieldChange(sub, "(absent)", show(new[key])))
            elif key not in new:
                found.append(FieldChange(sub, show(old[key]), "(absent)"))
            else:
                found += field_changes(old[key], new[key], sub)
        return found
    if isinstance(old, list) and isinstance(new, list):
        if old == new:
            return []
        if len(old) == len(new):
            return [
                c for i, (a, b) in enumerate(zip(old, new, strict=True)) for c in field_changes(a, b, f"{path}[{i}]")
            ]
        if all(not isinstance(v, dict | list) for v in (*old, *new)):
            # A list of plain values: the items gone and the items come, not the whole list.
            gone = [v for v in old if v not in new]
            come = [v for v in new if v not in old]
            return [FieldChange(path, f"removed {show(gone)}", f"added {show(come)}")]
        return [FieldChange(path, show(old), show(new))]
    if isinstance(old, str) and isinstance(new, str) and old != new and ("\n" in old or "\n" in new):
        # A file's text: where it first differs, not two truncated copies of its start.
        old_lines, new_lines = old.splitlines(), new.splitlines()
        first = next(
            (i for i, (a, b) in enumerate(zip(old_lines, new_lines, strict=False)) if a != b),
            min(len(old_lines), len(new_lines)),
        )
        at = f"line {first + 1}: "
        return [
            FieldChange(
                path,
                at + show(old_lines[first] if first < len(old_lines) else "(end)"),
                at + show(new_lines[first] if first < len(new_lines) else "(end)"),
            )
        ]
    if old != new:
        return [FieldChange(path, show(old), show(new))]
    return []


def plan_diff(old_plan: list[dict[str, Any]], new_plan: list[dict[str, Any]]) -> PlanDiff:
    old = {_key(e): e for e in old_plan}
    new = {_key(e): e for e in new_plan}
    result = PlanDiff()
    for key in sorted(set(old) | set(new)):
        before, after = old.get(key), new.get(key)
        if before is None and after is not None:
            result.changes.append(ResourceChange("create", key[0], key[1], _component(after)))
        elif after is None and before is not None:
            result.changes.append(ResourceChange("delete", key[0], key[1], _component(before)))
        elif before is not None and after is not None:
            changes = field_changes(before.get("inputs", {}), after.get("inputs", {}), "")
            changes += [
                FieldChange(f"(dependsOn){c.path}", c.old, c.new)
                for c in field_changes(before.get("dependsOn", []), after.get("dependsOn", []))
            ]
            if changes:
                result.changes.append(ResourceChange("update", key[0], key[1], _component(after), tuple(changes)))
    return result


_SIGN = {"create": "+", "update": "~", "delete": "-"}


def markdown(diff: PlanDiff) -> list[str]:
    """The plan part of the PR comment: totals, the table per component, then each resource."""
    if not diff.changes:
        return []
    totals = diff.totals()
    lines = [
        f"**Plan: {totals['create']} to create, {totals['update']} to update, {totals['delete']} to delete**",
        "",
        "| component | create | update | delete |",
        "| --- | ---: | ---: | ---: |",
    ]
    for component, row in diff.counts().items():
        lines.append(f"| `{component}` | {row['create']} | {row['update']} | {row['delete']} |")
    lines.append("")
    for change in diff.changes:
        short_type = change.type.split(":")[-1]
        lines.append(f"- {_SIGN[change.action]} {short_type} `{change.name}` ({change.component})")
        for fc in change.fields[:PATHS_SHOWN]:
            lines.append(f"  - `{fc.path}`: `{fc.old}` → `{fc.new}`")
        if len(change.fields) > PATHS_SHOWN:
            lines.append(f"  - … {len(change.fields) - PATHS_SHOWN} more changed paths")
    lines.append("")
    return lines
