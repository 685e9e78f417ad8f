"""The pure container spec (components/common/docker/containers.py) from literal values."""

from __future__ import annotations

import pytest

from components.common.docker.containers import ContainerSpec, Healthcheck, NetworkAttachment, secret_file

CHECK = Healthcheck.shell("true")


def spec(command: tuple[str, ...], **more: object) -> ContainerSpec:
    return ContainerSpec(
        name="shop-web",
        image="docker.io/library/web:1",
        command=command,
        networks=(NetworkAttachment("net"),),
        memory_mb=64,
        cpus=0.5,
        healthcheck=CHECK,
        user="1000:1000",
        **more,  # type: ignore[arg-type]
    )


def test_the_program_is_the_entrypoint_so_the_images_own_never_runs() -> None:
    web = spec(("/bin/web", "--port=80"))
    assert (web.entrypoint, web.arguments) == (("/bin/web",), ("--port=80",))


def test_with_secrets_in_the_environment_the_wrapper_execs_the_whole_command() -> None:
    web = spec(
        ("/bin/web", "--port=80"),
        secret_env=(("TOKEN", "/etc/teknofest/secrets/token"),),
        uploads=(secret_file("token"),),
    )
    assert web.entrypoint == ("/bin/sh", "/etc/teknofest/secret-env.sh")
    assert web.arguments == ("/bin/web", "--port=80")


def test_a_command_of_arguments_only_is_refused() -> None:
    with pytest.raises(ValueError, match="starts with the program to run"):
        spec(("--config=/etc/web.yaml",))


def test_a_secret_looking_variable_in_plain_env_is_refused() -> None:
    with pytest.raises(ValueError, match="API_TOKEN looks like a secret"):
        spec(("/bin/web",), env=(("API_TOKEN", "x"),))
