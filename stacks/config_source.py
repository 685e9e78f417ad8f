"""From raw `teknofest-platform:*` config values to validated `PlatformSettings`, or one clear error."""

from __future__ import annotations

import json
import typing
from collections.abc import Collection, Iterator, Mapping
from typing import Any, get_args, get_origin

from pydantic import BaseModel, SecretStr, ValidationError

from stacks.defaults import DEFAULTS, deep_merge
from stacks.errors import CONFIG_NAMESPACE, Problem, SettingsError
from stacks.policy import environment_problems
from stacks.settings import PlatformSettings

ENVIRONMENTS = tuple(DEFAULTS)


def decode_config_value(raw: str) -> Any:
    """Pulumi hands structured config to programs as JSON text and scalars as plain text."""
    text = raw.strip()
    if text[:1] in ("{", "["):
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            return raw
    return raw


def project_config(all_config: Mapping[str, str]) -> dict[str, Any]:
    """The project's own keys ("teknofest-platform:api" -> "api"), decoded; other namespaces ignored."""
    prefix = CONFIG_NAMESPACE + ":"
    return {
        key[len(prefix) :]: decode_config_value(value) for key, value in all_config.items() if key.startswith(prefix)
    }


def load_settings(
    config: Mapping[str, Any], stack: str, source: str, secret_keys: Collection[str] | None = None
) -> PlatformSettings:
    """Merge `config` over the environment's defaults and validate; raise SettingsError on any problem.
    With `secret_keys` (the config keys Pulumi holds as secrets), a credential set in plain text is one."""
    environment = config.get("environment", stack)
    if environment not in DEFAULTS:
        allowed = ", ".join(ENVIRONMENTS)
        origin = "" if "environment" in config else f" (taken from the stack name '{stack}'; set it explicitly)"
        raise SettingsError([Problem("environment", _show(environment), f"must be one of {allowed}{origin}")], source)
    merged = deep_merge(DEFAULTS[environment], {**dict(config), "environment": environment})
    try:
        settings = PlatformSettings.model_validate(merged)
    except ValidationError as exc:
        raise SettingsError(_problems_from(exc), source) from None
    problems = environment_problems(settings)
    if secret_keys is not None:
        problems += plain_credentials(settings, secret_keys)
    if problems:
        raise SettingsError(problems, source)
    return settings


def credential_paths(model: BaseModel, path: tuple[str, ...] = ()) -> Iterator[str]:
    """The camelCase path of every credential (SecretStr) that is set."""
    for name, field in type(model).model_fields.items():
        value = getattr(model, name)
        key = (*path, field.alias or name)
        if isinstance(value, SecretStr):
            yield ".".join(key)
        elif isinstance(value, BaseModel):
            yield from credential_paths(value, key)


def plain_credentials(settings: PlatformSettings, secret_keys: Collection[str]) -> list[Problem]:
    """A credential must reach the program as a Pulumi secret (encrypted in the stack file, masked
    in every output), never as plain config: Pulumi marks a whole top-level key secret."""
    problems = []
    for path in credential_paths(settings):
        if f"{CONFIG_NAMESPACE}:{path.split('.')[0]}" not in secret_keys:
            problems.append(
                Problem(
                    path,
                    "<plain text, not shown>",
                    f"a credential must be a Pulumi secret: `pulumi config set --secret --path {path} <value>`",
                )
            )
    return problems


def _problems_from(exc: ValidationError) -> list[Problem]:
    problems = []
    for error in exc.errors(include_url=False):
        loc = [str(part) for part in error["loc"]]
        key = ".".join(loc) if loc else "(top level)"
        if error["type"] == "extra_forbidden":
            allowed_keys = _allowed_keys(loc[:-1])
            allowed = "unknown setting; allowed here: " + ", ".join(allowed_keys)
        elif error["type"] == "missing":
            problems.append(Problem(key, "<missing>", "is required"))
            continue
        else:
            allowed = error["msg"].removeprefix("Value error, ").removeprefix("Assertion failed, ")
        value_in = error.get("input")
        # A cross-field check of a model names its field first ("minReplicas (30) must not ..."):
        # point the key at that field rather than at the whole section.
        first_word = allowed.split(" ", 1)[0]
        if isinstance(value_in, dict) and first_word in _allowed_keys(loc):
            key = ".".join([*loc, first_word])
            value_in = value_in.get(first_word, "<default>")
            loc = [*loc, first_word]
        value = "<secret>" if _is_secret(loc) else _show(value_in)
        problems.append(Problem(key, value, allowed))
    return problems


def _show(value: Any) -> str:
    if isinstance(value, dict | list):
        text = json.dumps(value, sort_keys=True)
        return text if len(text) <= 120 else text[:117] + "..."
    return repr(value) if isinstance(value, str) else json.dumps(value)


def _field_type_at(loc: list[str]) -> Any:
    """The annotation of the setting at `loc` (camelCase keys, dict keys passed through)."""
    current: Any = PlatformSettings
    for part in loc:
        current = _unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            by_alias = {(f.alias or name): f for name, f in current.model_fields.items()}
            field = by_alias.get(part)
            if field is None:
                return None
            current = field.annotation
        elif get_origin(current) is dict:
            current = get_args(current)[1]
        elif get_origin(current) is list:
            current = get_args(current)[0]
        else:
            return None
    return _unwrap(current)


def _unwrap(annotation: Any) -> Any:
    """Strip Optional/Annotated so the model or container type shows."""
    while True:
        origin = get_origin(annotation)
        if origin is typing.Annotated:
            annotation = get_args(annotation)[0]
        elif origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
            members = [a for a in get_args(annotation) if a is not type(None)]
            if len(members) != 1:
                return annotation
            annotation = members[0]
        else:
            return annotation


def _allowed_keys(loc: list[str]) -> list[str]:
    model = _field_type_at(loc)
    if isinstance(model, type) and issubclass(model, BaseModel):
        return sorted((f.alias or name) for name, f in model.model_fields.items())
    return []


def _is_secret(loc: list[str]) -> bool:
    for depth in range(len(loc), 0, -1):
        if _field_type_at(loc[:depth]) is SecretStr:
            return True
    return "credentials" in loc
