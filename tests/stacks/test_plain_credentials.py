"""A credential written in plain text in Pulumi.<stack>.yaml (or set without --secret) stops the
synth and the program with the command that makes it a secret; as a `secure:` value it passes."""

from __future__ import annotations

from pathlib import Path

import pulumi
import pytest
import yaml

from stacks.mock_engine import PROJECT_ROOT, run_program
from stacks.synth import SynthError, synth

PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


def dev_with(docker: dict[str, object], folder: Path) -> Path:
    document = yaml.safe_load((PROJECT_ROOT / "Pulumi.dev.yaml").read_text())
    document["config"]["teknofest-platform:docker"] = docker
    path = folder / "Pulumi.dev.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def test_the_synth_refuses_a_plain_certificate_and_says_how_to_set_it(tmp_path: Path) -> None:
    with pytest.raises(SynthError) as caught:
        synth("dev", tmp_path / "out", dev_with({"tlsCertificatePem": PEM}, tmp_path))
    message = str(caught.value)
    assert "docker.tlsCertificatePem = <plain text, not shown>" in message
    assert "pulumi config set --secret --path docker.tlsCertificatePem <value>" in message
    assert "BEGIN CERTIFICATE" not in message


def test_a_secure_value_passes(tmp_path: Path) -> None:
    result = synth("dev", tmp_path / "out", dev_with({"tlsCertificatePem": {"secure": "v1:abc"}}, tmp_path))
    assert result.encrypted_paths == ["teknofest-platform:docker.tlsCertificatePem"]


def test_the_program_refuses_a_credential_pulumi_does_not_hold_as_a_secret() -> None:
    config = {
        "teknofest-platform:environment": "dev",
        "teknofest-platform:target": "docker",
        "teknofest-platform:docker": '{"tlsCertificatePem": "' + PEM.replace("\n", "\\n") + '"}',
    }
    with pytest.raises(pulumi.RunError, match="must be a Pulumi secret"):
        run_program("dev", config, [])
    run_program("dev", config, ["teknofest-platform:docker"])
