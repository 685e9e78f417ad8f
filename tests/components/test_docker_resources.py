"""pulumi-docker resources from literal container specs (components/common/docker/resources.py)."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_docker as docker

from components.common.docker.containers import (
    ContainerSpec,
    Healthcheck,
    NetworkAttachment,
    Upload,
    haproxy_open_files,
    secret_file,
)
from components.common.docker.resources import FILES_DIGEST_LABEL, FILES_OF_LABEL, DockerLogging, deploy
from stacks.mock_engine import run_under_mocks, unwrap


def web(config: str = "port: 80\n", open_files: int | None = None) -> ContainerSpec:
    return ContainerSpec(
        name="shop-web",
        image="docker.io/library/web:1",
        command=("/bin/web",),
        networks=(NetworkAttachment("net"),),
        memory_mb=64,
        cpus=0.5,
        healthcheck=Healthcheck.shell("true"),
        user="1000:1000",
        secret_env=(("TOKEN", "/etc/teknofest/secrets/token"),),
        uploads=(Upload("/etc/teknofest/web.yaml", config), secret_file("token")),
        open_files=open_files,
    )


def containers(spec: ContainerSpec) -> dict[str, dict[str, Any]]:
    def program() -> None:
        net = docker.Network("net", name="net")
        deploy(
            "shop",
            [spec],
            [],
            {"net": net},
            {"token": pulumi.Output.secret("t0k3n")},
            DockerLogging(),
            pulumi.ResourceOptions(),
        )

    render = run_under_mocks(program)
    found = {r.name: {**unwrap(r.inputs, mask=False), "_depends": r.dependencies} for r in render.resources}
    return {name: inputs for name, inputs in found.items() if name.startswith("shop-web")}


def labels(inputs: dict[str, Any]) -> dict[str, str]:
    return {label["label"]: label["value"] for label in inputs["labels"]}


def test_files_come_in_a_carrier_that_is_never_started_and_the_container_has_none() -> None:
    # The engine refuses an upload into a read-only container ("container rootfs is marked
    # read-only"): the running container is given no uploads at all.
    found = containers(web())
    main, carrier = found["shop-web"], found["shop-web-files"]
    assert "uploads" not in main and main["readOnly"] is True
    assert carrier["start"] is False and carrier["mustRun"] is False and carrier["networkMode"] == "none"
    assert labels(carrier)[FILES_OF_LABEL] == "shop-web"
    assert {u["file"] for u in carrier["uploads"]} == {
        "/etc/teknofest/secret-env.sh",
        "/etc/teknofest/web.yaml",
        "/etc/teknofest/secrets/token",
    }
    assert [v["volumeName"] for v in carrier["volumes"]] == ["shop-web-files"]
    assert any(urn.endswith("::shop-web-files") and "container:Container" in urn for urn in main["_depends"])


def test_a_changed_file_changes_the_digest_that_replaces_the_container() -> None:
    before = labels(containers(web("port: 80\n"))["shop-web"])[FILES_DIGEST_LABEL]
    again = labels(containers(web("port: 80\n"))["shop-web"])[FILES_DIGEST_LABEL]
    after = labels(containers(web("port: 81\n"))["shop-web"])[FILES_DIGEST_LABEL]
    assert before == again != after
    assert "t0k3n" not in before and len(before) == 64


def test_a_container_that_needs_more_descriptors_asks_for_them() -> None:
    assert "ulimits" not in containers(web())["shop-web"]
    limits = containers(web(open_files=haproxy_open_files(8000)))["shop-web"]["ulimits"]
    assert limits == [{"name": "nofile", "soft": 17024, "hard": 17024}]
