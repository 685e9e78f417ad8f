"""The synth's docker checks on literal container summaries: each rule reports what breaks it."""

from __future__ import annotations

from typing import Any

from stacks.docker_render import docker_findings, is_secret_file
from stacks.settings import PlatformSettings

SETTINGS = PlatformSettings(environment="dev", namespace="shop", target="docker")


def summary(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": "shop-api",
        "labels": {},
        "user": "10001:10001",
        "readOnlyRootFilesystem": True,
        "capabilities": {"drops": ["ALL"]},
        "securityOpts": ["no-new-privileges:true"],
        "ports": [{"internal": 8080, "external": 80, "ip": "127.0.0.1"}],
        "healthcheck": {"tests": ["CMD", "true"]},
        "env": ["APP_ENV=dev"],
        "files": [{"file": "/etc/teknofest/secrets/x", "permissions": "0400", "owner": "10001", "secret": True}],
    }
    return {**base, **changes}


def messages(**changes: Any) -> list[str]:
    return [f.message for f in docker_findings(SETTINGS, {"c.yaml": summary(**changes)})]


def test_a_confined_container_passes() -> None:
    assert messages() == []


def test_each_rule_reports_its_breach() -> None:
    assert messages(ports=[{"external": 80, "ip": "0.0.0.0"}])[0].startswith("publishes 80 on 0.0.0.0")
    assert messages(user="0:0") == ["runs as root"]
    assert messages(user="0:0", labels={"org.teknofest.root-because": "reads root's files"}) == []
    assert messages(readOnlyRootFilesystem=False) == ["root filesystem is writable"]
    assert messages(capabilities={"drops": ["NET_RAW"]}) == ["does not drop every capability"]
    assert messages(securityOpts=[]) == ["may gain privileges (no-new-privileges is off)"]
    assert messages(healthcheck=None) == ["no healthcheck, and no reason given"]
    assert messages(env=["DATABASE_URL=[secret]"]) == ["a secret in its environment: DATABASE_URL"]
    leaky = [{"file": "/etc/teknofest/secrets/x", "permissions": "0444", "owner": "0", "secret": False}]
    assert messages(files=leaky) == ["/etc/teknofest/secrets/x is readable by others (0444)"]


def test_a_secret_file_is_one_only_its_owner_reads() -> None:
    assert is_secret_file({"permissions": "0400"}) and is_secret_file({"permissions": "0600"})
    assert not is_secret_file({"permissions": "0444"}) and not is_secret_file({"permissions": "0440"})
