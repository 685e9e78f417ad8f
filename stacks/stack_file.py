"""Reads `Pulumi.<stack>.yaml` the way the Pulumi CLI hands it to a program, without decrypting."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

# Encrypted values need the stack's secrets provider; offline they become this placeholder.
ENCRYPTED_PLACEHOLDER = "encrypted-value-not-decrypted-offline"


class StackFileError(Exception):
    pass


@dataclass(frozen=True)
class StackFile:
    config: dict[str, str]  # "project:key" -> value as Pulumi passes it (JSON text for structures)
    secret_keys: list[str]
    encrypted_paths: list[str]  # where a "secure:" value was replaced by the placeholder


def read_stack_file(path: Path) -> StackFile:
    if not path.is_file():
        raise StackFileError(f"{path}: no such stack file (expected Pulumi.<stack>.yaml beside Pulumi.yaml)")
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise StackFileError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(document, dict) or not isinstance(document.get("config", {}), dict):
        raise StackFileError(f"{path}: expected a mapping with a 'config:' mapping inside")
    config: dict[str, str] = {}
    secret_keys: list[str] = []
    encrypted: list[str] = []
    for key, value in (document.get("config") or {}).items():
        placeholder_paths: list[str] = []
        plain = _replace_secure(value, str(key), placeholder_paths)
        if placeholder_paths:
            secret_keys.append(str(key))
            encrypted += placeholder_paths
        config[str(key)] = _as_pulumi_string(plain)
    return StackFile(config, secret_keys, encrypted)


def _replace_secure(value: Any, path: str, found: list[str]) -> Any:
    if isinstance(value, dict):
        if set(value) == {"secure"}:
            found.append(path)
            return ENCRYPTED_PLACEHOLDER
        return {k: _replace_secure(v, f"{path}.{k}", found) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace_secure(v, f"{path}[{i}]", found) for i, v in enumerate(value)]
    return value


def _as_pulumi_string(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value)
