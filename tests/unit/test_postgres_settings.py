"""PostgreSQL settings: the tuning follows the instance's memory, and bad values are named errors."""

from __future__ import annotations

from typing import Any

import pytest

from components.postgres.parameters import tuned_parameters
from stacks.config_source import load_settings
from stacks.errors import SettingsError
from stacks.settings import PlatformSettings

BACKUPS = {"destinationPath": "s3://teknofest-backups/production"}


def production(**overrides: Any) -> PlatformSettings:
    return load_settings({"backups": BACKUPS, **overrides}, "production", "Pulumi.production.yaml")


def test_parameters_follow_the_instance_memory() -> None:
    small = production(
        postgres={"resources": {"requests": {"cpu": "1", "memory": "2Gi"}, "limits": {"cpu": "1", "memory": "2Gi"}}}
    )
    big = production(
        postgres={
            "maxConnections": 400,
            "resources": {"requests": {"cpu": "4", "memory": "16Gi"}, "limits": {"cpu": "4", "memory": "16Gi"}},
        }
    )
    assert tuned_parameters(small.postgres)["shared_buffers"] == "512MB"
    assert tuned_parameters(big.postgres)["shared_buffers"] == "4096MB"
    assert tuned_parameters(big.postgres)["effective_cache_size"] == "12288MB"
    assert tuned_parameters(big.postgres)["max_connections"] == "400"
    # 12 GiB left over / (400 connections x 3 sorts) = 10485 kB each.
    assert tuned_parameters(big.postgres)["work_mem"] == "10485kB"


def test_pool_sizes_must_fit_max_connections() -> None:
    with pytest.raises(SettingsError, match=r"postgres.maxConnections = 50: maxConnections \(50\) is below"):
        production(postgres={"maxConnections": 50})


def test_a_malformed_service_account_annotation_is_a_settings_error() -> None:
    with pytest.raises(SettingsError) as error:
        production(backups={**BACKUPS, "serviceAccountAnnotations": {"not a key": "x"}})
    assert "backups.serviceAccountAnnotations" in str(error.value) and "'not a key'" in str(error.value)


def test_keyless_backups_without_an_identity_are_warned_about() -> None:
    from stacks.policy import environment_warnings

    assert any("backups.serviceAccountAnnotations" in w for w in environment_warnings(production()))
    irsa = {"eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/teknofest-backups"}
    annotated = production(backups={**BACKUPS, "serviceAccountAnnotations": irsa})
    assert not any("backups.serviceAccountAnnotations" in w for w in environment_warnings(annotated))


def test_a_recovery_target_must_be_a_timestamp() -> None:
    with pytest.raises(SettingsError, match=r"backups\.recovery\.targetTime"):
        production(backups={**BACKUPS, "recovery": {"sourceServerName": "postgres", "targetTime": "yesterday"}})
