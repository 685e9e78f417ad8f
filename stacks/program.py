"""The Pulumi program: read this stack's config, build the platform, export its outputs."""

from __future__ import annotations

from typing import Any

import pulumi
from pulumi.runtime import config as runtime_config

from stacks.config_source import load_settings, project_config
from stacks.docker_platform import build_docker_platform
from stacks.errors import SettingsError
from stacks.kubernetes_platform import build_kubernetes_platform
from stacks.policy import environment_warnings
from stacks.settings import PlatformSettings


def all_config() -> dict[str, str]:
    """Every config value of the stack, as Pulumi hands them to the program (JSON for structures)."""
    values = dict(runtime_config.get_config_env())
    values.update(runtime_config.CONFIG.get())
    return {key: value if isinstance(value, str) else str(value) for key, value in values.items()}


def current_settings() -> PlatformSettings:
    stack = pulumi.get_stack()
    try:
        config = all_config()
        secret_keys = [key for key in config if runtime_config.is_config_secret(key)]
        return load_settings(project_config(config), stack, f"Pulumi.{stack}.yaml", secret_keys)
    except SettingsError as exc:
        # RunError prints its message without a traceback.
        raise pulumi.RunError(str(exc)) from None


def main() -> None:
    settings = current_settings()
    for warning in environment_warnings(settings):
        pulumi.log.warn(warning)
    # The swarm target is the docker target's composition with services in place of containers.
    build = build_kubernetes_platform if settings.target == "kubernetes" else build_docker_platform
    outputs: dict[str, Any] = build(settings)
    for name, value in outputs.items():
        pulumi.export(name, value)
