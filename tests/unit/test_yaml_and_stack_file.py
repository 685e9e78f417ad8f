from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from components.common.yaml_text import to_yaml
from stacks.stack_file import ENCRYPTED_PLACEHOLDER, StackFileError, read_stack_file


@pytest.mark.parametrize(
    "value", ["1e3", "on", "yes", "No", "0755", "true", "null", "1.0", "8080", "*", "a: b", "", "25%"]
)
def test_strings_that_could_pass_for_another_type_are_quoted(value: str) -> None:
    text = to_yaml({"key": value})
    assert text.strip() != f"key: {value}"
    assert yaml.safe_load(text) == {"key": value}


def test_plain_strings_and_numbers_stay_plain() -> None:
    assert to_yaml({"kind": "Deployment", "replicas": 3, "path": "/health/ready"}) == (
        "kind: Deployment\nreplicas: 3\npath: /health/ready\n"
    )


def test_multi_line_text_is_a_literal_block() -> None:
    text = to_yaml({"haproxy.cfg": "global\n    maxconn 10\n"})
    assert "|" in text.splitlines()[0]
    assert yaml.safe_load(text) == {"haproxy.cfg": "global\n    maxconn 10\n"}


def test_stack_file_encrypted_values_become_placeholders(tmp_path: Path) -> None:
    path = tmp_path / "Pulumi.x.yaml"
    path.write_text(
        "config:\n"
        "  teknofest-platform:namespace: ns\n"
        "  teknofest-platform:networkPolicies: true\n"
        "  teknofest-platform:backups:\n"
        "    credentials:\n"
        "      secretAccessKey:\n"
        "        secure: v1:abc:def\n"
    )
    stack_file = read_stack_file(path)
    assert stack_file.config["teknofest-platform:namespace"] == "ns"
    assert stack_file.config["teknofest-platform:networkPolicies"] == "true"
    backups = json.loads(stack_file.config["teknofest-platform:backups"])
    assert backups["credentials"]["secretAccessKey"] == ENCRYPTED_PLACEHOLDER
    assert stack_file.secret_keys == ["teknofest-platform:backups"]
    assert stack_file.encrypted_paths == ["teknofest-platform:backups.credentials.secretAccessKey"]
    assert "v1:abc:def" not in json.dumps(stack_file.config)


@pytest.mark.parametrize(
    ("content", "message"), [("config: [1, 2", "not valid YAML"), ("config: 3", "expected a mapping")]
)
def test_broken_stack_files_say_what_is_wrong(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "Pulumi.x.yaml"
    path.write_text(content)
    with pytest.raises(StackFileError, match=message):
        read_stack_file(path)
    with pytest.raises(StackFileError, match="no such stack file"):
        read_stack_file(tmp_path / "Pulumi.missing.yaml")


def test_a_shared_value_is_written_out_in_full_not_as_an_alias() -> None:
    shared = {"shards": 1}
    text = to_yaml({"spans": shared, "services": shared})
    assert "&" not in text and "*" not in text
    assert yaml.safe_load(text) == {"spans": {"shards": 1}, "services": {"shards": 1}}
