"""The configuration reference (docs/configuration.md), generated from the settings models: every
key, its type, its default in each environment, its bounds and allowed values, the targets that
read it, and the comment the model gives it.

python -m stacks.reference            write docs/configuration.md
python -m stacks.reference --check    exit 1 if the committed file is not what the models say
"""

from __future__ import annotations

import argparse
import inspect
import json
import re
import sys
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args, get_origin

from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo

from stacks.defaults import DEFAULTS, deep_merge
from stacks.settings import PlatformSettings

REFERENCE = Path(__file__).resolve().parent.parent / "docs" / "configuration.md"
ENVIRONMENTS = ("dev", "staging", "production")
# Which targets read a section (the rest: every target).
TARGETS = {
    "kubernetes": "kubernetes",
    "clusterAddons": "kubernetes",
    "networkPolicies": "kubernetes",
    "docker": "docker, swarm",
    "swarm": "swarm",
}
_BOUNDS = (("ge", "≥"), ("gt", ">"), ("le", "≤"), ("lt", "<"), ("min_length", "length ≥"), ("max_length", "length ≤"))


@dataclass(frozen=True)
class Row:
    key: str
    type: str
    defaults: tuple[str, ...]
    rule: str
    targets: str
    comment: str


def _members(annotation: Any) -> list[Any]:
    origin = get_origin(annotation)
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        return [a for a in get_args(annotation) if a is not type(None)]
    return [annotation]


def _strip(annotation: Any) -> tuple[Any, list[Any]]:
    """The bare type and the metadata of every Annotated layer around it."""
    metadata: list[Any] = []
    while get_origin(annotation) is typing.Annotated:
        args = get_args(annotation)
        annotation, metadata = args[0], [*metadata, *args[1:]]
    return annotation, metadata


def _model_of(annotation: Any) -> type[BaseModel] | None:
    for member in _members(annotation):
        bare, _ = _strip(member)
        if isinstance(bare, type) and issubclass(bare, BaseModel):
            return bare
    return None


def _checks(metadata: list[Any]) -> list[str]:
    """The names of the validators a type carries ("dns label" for `_dns_label`)."""
    names = [getattr(getattr(m, "func", None), "__name__", "").strip("_").replace("_", " ") for m in metadata]
    return [name for name in names if name]


def _type_text(annotation: Any, field_metadata: list[Any] | None = None) -> str:
    parts = []
    for member in _members(annotation):
        bare, metadata = _strip(member)
        metadata = [*metadata, *(field_metadata or [])]
        if get_origin(bare) is typing.Literal:
            parts.append(" \\| ".join(json.dumps(a) for a in get_args(bare)))
            continue
        if bare is SecretStr:
            parts.append("secret")
            continue
        origin = get_origin(bare)
        if origin in (list, tuple, dict):
            inner = ", ".join(_type_text(a) for a in get_args(bare) if a is not Ellipsis)
            parts.append(f"{origin.__name__}[{inner}]")
            continue
        name = getattr(bare, "__name__", str(bare))
        named = _checks(metadata)
        parts.append(f"{name} ({', '.join(named)})" if named else name)
    optional = type(None) in get_args(annotation)
    return " \\| ".join(parts) + (" \\| null" if optional else "")


def _rule(field: FieldInfo) -> str:
    items = list(field.metadata)
    for member in _members(field.annotation):
        _, metadata = _strip(member)
        items += metadata
    found: list[str] = []
    for item in items:
        sources = [item, *(getattr(item, "metadata", None) or [])]
        for source in sources:
            for attribute, sign in _BOUNDS:
                value = getattr(source, attribute, None)
                if value is not None and f"{sign} {value}" not in found:
                    found.append(f"{sign} {value}")
            pattern = getattr(source, "pattern", None)
            if isinstance(pattern, str) and f"pattern `{pattern}`" not in found:
                found.append(f"pattern `{pattern}`")
    return ", ".join(found)


def field_comments(model: type[BaseModel]) -> dict[str, str]:
    """The `#` comment block right above each field of the model's class body."""
    try:
        lines = inspect.getsource(model).splitlines()
    except (OSError, TypeError):
        return {}
    comments: dict[str, str] = {}
    block: list[str] = []
    for line in lines:
        stripped = line.strip()
        if stripped.startswith("#"):
            block.append(stripped.lstrip("# "))
            continue
        match = re.match(r"^    (\w+)\s*:", line)
        if match and block:
            comments[match.group(1)] = " ".join(block)
        block = []
    return comments


def _value_at(data: Any, path: list[str]) -> Any:
    for part in path:
        if not isinstance(data, dict) or part not in data:
            return None
        data = data[part]
    return data


def _show(value: Any) -> str:
    if isinstance(value, dict) and value and all(isinstance(v, dict) for v in value.values()):
        return "keys: " + ", ".join(sorted(value))
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= 60 else text[:57] + "…"


def environment_values() -> dict[str, dict[str, Any]]:
    """Each environment's settings with nothing set but the environment (its defaults)."""
    values = {}
    for environment in ENVIRONMENTS:
        merged = deep_merge(DEFAULTS[environment], {"environment": environment})
        settings = PlatformSettings.model_validate(merged)
        values[environment] = settings.model_dump(by_alias=True, mode="json")
    return values


def rows() -> list[Row]:
    values = environment_values()
    found: list[Row] = []

    def walk(model: type[BaseModel], path: list[str], value_path: list[str] | None) -> None:
        comments = field_comments(model)
        for name, field in model.model_fields.items():
            key = field.alias or name
            here = [*path, key]
            top = here[0]
            nested = _model_of(field.annotation)
            bare, _ = _strip(_members(field.annotation)[0])
            if nested is not None and get_origin(bare) is None:
                walk(nested, here, None if value_path is None else [*value_path, key])
                continue
            if get_origin(bare) is dict and _model_of(get_args(bare)[1]) is not None:
                item = _model_of(get_args(bare)[1])
                assert item is not None
                found.append(_row(here, field, values, value_path, comments.get(name, ""), top))
                walk(item, [*here, "<name>"], None)
                continue
            found.append(_row(here, field, values, value_path, comments.get(name, ""), top))

    walk(PlatformSettings, [], [])
    return found


def _row(
    here: list[str],
    field: FieldInfo,
    values: dict[str, dict[str, Any]],
    value_path: list[str] | None,
    comment: str,
    top: str,
) -> Row:
    if value_path is None:
        default = field.get_default(call_default_factory=True) if not field.is_required() else None
        shown = ("—",) * len(ENVIRONMENTS) if field.is_required() else (_show(_jsonable(default)),) * len(ENVIRONMENTS)
    else:
        path = [*value_path, here[-1]]
        shown = tuple(
            "secret" if field.annotation is SecretStr else _show(_value_at(values[e], path)) for e in ENVIRONMENTS
        )
    kind = _type_text(field.annotation, list(field.metadata))
    return Row(".".join(here), kind, shown, _rule(field), TARGETS.get(top, "all"), comment)


def _jsonable(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(by_alias=True, mode="json")
    try:
        json.dumps(value)
        return value
    except TypeError:
        return str(value)


def render() -> str:
    lines = [
        "# Configuration reference",
        "",
        "Generated from the settings models by `./run reference` (`stacks/reference.py`); a test fails",
        "when this file is not what the models say. Keys sit under `teknofest-platform:` in",
        "`Pulumi.<stack>.yaml` (camelCase); `<name>` is any name of a map's entry. The defaults are each",
        "environment's with nothing set (`stacks/defaults.py` over the models' own); production's are",
        "the deployment guide's numbers. Secrets are set with `pulumi config set --secret --path <key>`.",
        "",
    ]
    section = None
    for row in rows():
        top = f"`{row.key.split('.')[0]}`" if "." in row.key else "the platform"
        if top != section:
            section = top
            lines += ["", f"## {top}", "", "| key | type | dev | staging | production | rule | targets | notes |"]
            lines.append("| --- | --- | --- | --- | --- | --- | --- | --- |")
        cells = [f"`{row.key}`", row.type, *(f"`{d}`" if d != "—" else d for d in row.defaults)]
        cells += [row.rule, row.targets, row.comment]
        lines.append("| " + " | ".join(c.replace("|", "\\|") if "\\|" not in c else c for c in cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stacks.reference", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the committed file instead of writing")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        if not REFERENCE.is_file() or REFERENCE.read_text(encoding="utf-8") != text:
            print(f"{REFERENCE} is stale: run ./run reference", file=sys.stderr)
            return 1
        return 0
    REFERENCE.write_text(text, encoding="utf-8")
    print(f"wrote {REFERENCE} ({len(text.splitlines())} lines)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
