"""The rendered Alertmanager config, checked and routed by Debian's amtool."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from components.monitoring.alertmanager_config import AlertingSecrets, alertmanager_config, render_alertmanager_yaml
from stacks.settings import Alerting
from tests.integration.conftest import require_binary

pytestmark = pytest.mark.integration

FULL = Alerting.model_validate(
    {
        "email": {
            "to": "ops@teknofest.example.org",
            "sender": "alerts@teknofest.example.org",
            "smarthost": "smtp.example.org:587",
            "username": "alerts",
            "password": "smtp-test",
        },
        "slackChannel": "#teknofest-ops",
        "slackWebhookUrl": "https://hooks.slack.example/services/T/B/test",
        "deadMansSwitchUrl": "https://deadman.example.org/ping/test",
    }
)
SECRETS = AlertingSecrets(
    "smtp-test", "https://hooks.slack.example/services/T/B/test", "https://deadman.example.org/ping/test"
)


def amtool(*args: str) -> subprocess.CompletedProcess[str]:
    require_binary("amtool")
    binary = shutil.which("amtool") or "/usr/bin/amtool"
    return subprocess.run([binary, *args], capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(("alerting", "secrets"), [(FULL, SECRETS), (Alerting(), AlertingSecrets())])
def test_config_passes_amtool(tmp_path: Path, alerting: Alerting, secrets: AlertingSecrets) -> None:
    path = tmp_path / "alertmanager.yml"
    path.write_text(render_alertmanager_yaml(alerting, secrets))
    result = amtool("check-config", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


@pytest.mark.parametrize(
    ("labels", "receiver"),
    [
        (["alertname=Watchdog", "severity=none"], "dead-mans-switch"),
        (["alertname=RedisNoMaster", "severity=critical", "area=redis"], "pager"),
        (["alertname=PostgresReplicationLagHigh", "severity=warning", "area=postgres"], "tickets"),
        (["alertname=Anything", "severity=none"], "null"),
        (["alertname=Unlabelled"], "tickets"),
    ],
)
def test_alerts_reach_the_right_receiver(tmp_path: Path, labels: list[str], receiver: str) -> None:
    path = tmp_path / "alertmanager.yml"
    path.write_text(render_alertmanager_yaml(FULL, SECRETS))
    result = amtool("config", "routes", "test", "--config.file", str(path), f"--verify.receivers={receiver}", *labels)
    assert result.returncode == 0, result.stdout + result.stderr


def test_critical_inhibits_warnings_of_its_area_and_pages_on_two_channels() -> None:
    config = alertmanager_config(FULL, SECRETS)
    assert config["inhibit_rules"] == [
        {
            "source_matchers": ['severity="critical"'],
            "target_matchers": ['severity="warning"'],
            "equal": ["namespace", "area"],
        }
    ]
    pager = next(r for r in config["receivers"] if r["name"] == "pager")
    assert set(pager) == {"name", "email_configs", "slack_configs"}
    tickets = next(r for r in config["receivers"] if r["name"] == "tickets")
    assert set(tickets) == {"name", "email_configs"}
    # Without secrets configured, no receiver points anywhere half-configured.
    bare = yaml.safe_load(render_alertmanager_yaml(Alerting(), AlertingSecrets()))
    assert all(set(r) == {"name"} for r in bare["receivers"])
