"""The configuration reference (docs/configuration.md) is what the settings models say."""

from __future__ import annotations

from stacks.reference import REFERENCE, render, rows


def test_the_committed_reference_is_current() -> None:
    assert REFERENCE.read_text(encoding="utf-8") == render(), "docs/configuration.md is stale: run ./run reference"


def test_every_key_has_its_type_defaults_per_environment_rule_and_targets() -> None:
    by_key = {row.key: row for row in rows()}
    minimum = by_key["api.minReplicas"]
    assert minimum.defaults == ("1", "2", "2") and "≥ 1" in minimum.rule
    assert by_key["swarm.publishMode"].type == '"host" \\| "ingress"'
    assert by_key["swarm.publishMode"].targets == "swarm"
    assert by_key["docker.tlsCertificatePem"].type == "secret \\| null"
    assert by_key["kubernetes.version"].targets == "kubernetes"
    assert by_key["namespace"].type == "str (dns label)"
    assert "celery.pools.<name>.gpu.count" in by_key
    # Every section of the model is there.
    assert {key.split(".")[0] for key in by_key} >= {"api", "celery", "postgres", "redis", "rabbitmq", "monitoring"}
