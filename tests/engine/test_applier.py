"""The applier's mapping of the plan onto the engine's API, from literal inputs (no engine needed):
what pulumi-docker sends for each field, and a field it does not map failing the apply."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from tests.engine.applier import CONTAINER, PlanError, check_fields, container_request, go_duration_ns, upload_archive
from tests.engine.engine import debian_mirror

INPUTS = {
    "name": "teknofest-dev-api-0",
    "image": "ghcr.io/teknofest/egitim-eylemci-api:1.3.0",
    "entrypoints": ["/bin/sh", "/etc/teknofest/secret-env.sh"],
    "command": ["gunicorn", "src.app:app"],
    "user": "10001:10001",
    "readOnly": True,
    "memory": 512,
    "memorySwap": 512,
    "cpus": "0.5",
    "capabilities": {"drops": ["ALL"]},
    "ports": [{"internal": 8443, "external": 18443, "ip": "127.0.0.1", "protocol": "tcp"}],
    "healthcheck": {"tests": ["CMD", "true"], "interval": "1m30s", "timeout": "5s", "retries": 3},
    "labels": [{"label": "org.teknofest.capability", "value": "worker_pool"}],
}


def test_a_container_maps_to_the_create_body_the_provider_sends() -> None:
    body = container_request(INPUTS, "teknofest-standin/api:x")
    host = body["HostConfig"]
    assert body["Image"] == "teknofest-standin/api:x"
    assert body["Entrypoint"] == ["/bin/sh", "/etc/teknofest/secret-env.sh"]
    assert body["Cmd"] == ["gunicorn", "src.app:app"]
    assert body["Labels"] == {"org.teknofest.capability": "worker_pool"}
    assert body["Healthcheck"]["Interval"] == 90 * 10**9
    assert host["Memory"] == host["MemorySwap"] == 512 * 2**20  # the provider's MiB
    assert host["NanoCpus"] == 500_000_000
    assert host["PortBindings"] == {"8443/tcp": [{"HostIp": "127.0.0.1", "HostPort": "18443"}]}
    assert host["ReadonlyRootfs"] is True and host["CapDrop"] == ["ALL"]


def test_a_field_the_applier_does_not_map_fails_the_apply() -> None:
    check_fields(CONTAINER, "api-0", INPUTS)
    with pytest.raises(PlanError, match=r"fields the applier does not map: \['gpus'\]"):
        check_fields(CONTAINER, "api-0", {**INPUTS, "gpus": "all"})
    with pytest.raises(PlanError, match=r"fields of ports the applier does not map: \['hostIp'\]"):
        check_fields(CONTAINER, "api-0", {**INPUTS, "ports": [{"internal": 1, "hostIp": "0.0.0.0"}]})
    with pytest.raises(PlanError, match="a resource type the applier does not implement"):
        check_fields("docker:index/service:Service", "api", {"name": "api"})


def test_durations_are_go_durations() -> None:
    assert go_duration_ns("10s") == 10 * 10**9
    assert go_duration_ns("1m30s") == 90 * 10**9
    assert go_duration_ns("250ms") == 250 * 10**6
    with pytest.raises(PlanError, match="not a Go duration"):
        go_duration_ns("10 seconds")


def test_an_upload_is_a_one_file_archive_at_its_absolute_path() -> None:
    archive = upload_archive(
        {"file": "/etc/teknofest/secrets/db", "content": "s3cret", "permissions": "0400", "owner": 999, "group": 999}
    )
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        (member,) = tar.getmembers()
        assert (member.name, member.mode, member.uid, member.gid) == ("/etc/teknofest/secrets/db", 0o400, 999, 999)
        extracted = tar.extractfile(member)
        assert extracted is not None and extracted.read() == b"s3cret"


def test_the_mirror_is_the_first_bookworm_source_of_apt(tmp_path: Path) -> None:
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list.d" / "debian.sources").write_text(
        "Types: deb\nURIs: http://localhost/debian\nSuites: bookworm bookworm-updates\nComponents: main\n\n"
        "Types: deb\nURIs: http://localhost/debian-security\nSuites: bookworm-security\nComponents: main\n"
    )
    mirror = debian_mirror(tmp_path)
    assert mirror.url == "http://localhost/debian"
    assert mirror.hosts == {"localhost": "127.0.0.1"}
    (tmp_path / "sources.list.d" / "debian.sources").unlink()
    (tmp_path / "sources.list").write_text(
        "# deb http://localhost/old bookworm main\n"
        "deb [arch=amd64 signed-by=/k.gpg] http://localhost/deb bookworm main contrib\n"
    )
    assert debian_mirror(tmp_path).url == "http://localhost/deb"
    (tmp_path / "sources.list").write_text("deb http://localhost/deb trixie main\n")
    with pytest.raises(RuntimeError, match="no apt source of Debian bookworm"):
        debian_mirror(tmp_path)
