"""YAML that every Kubernetes client reads back as written: strings that could pass for another
type ("1e3", "on", "0755", "true") are quoted; multi-line text is a literal block."""

from __future__ import annotations

import re
from typing import Any

import yaml

_PLAIN_SAFE = re.compile(r"^[A-Za-z_/][A-Za-z0-9_./-]*$")
# YAML 1.1 booleans and nulls, which Go's YAML decoders still honour in places.
_AMBIGUOUS_WORDS = {"y", "n", "yes", "no", "on", "off", "true", "false", "null", "~"}


class _Dumper(yaml.SafeDumper):
    # A dict used twice is written out twice: anchors and aliases (&id001, *id001) are legal YAML
    # but surprise readers and some parsers.
    def ignore_aliases(self, data: Any) -> bool:
        return True


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    if "\n" in value:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    if _PLAIN_SAFE.match(value) and value.lower() not in _AMBIGUOUS_WORDS:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value)
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style='"')


_Dumper.add_representer(str, _represent_str)


def to_yaml(document: Any) -> str:
    return yaml.dump(
        document, Dumper=_Dumper, sort_keys=False, default_flow_style=False, allow_unicode=True, width=4096
    )
