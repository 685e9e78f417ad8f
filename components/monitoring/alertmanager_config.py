"""Alertmanager routing from settings (pure): severity routes, grouping, inhibition, Watchdog.

The text holds the receivers' secrets, as Alertmanager's own config does: it is only ever stored in
a Kubernetes Secret, and the values come from Pulumi secrets (tests pass fakes).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml
from pydantic import SecretStr

from components.monitoring.settings import Alerting


@dataclass(frozen=True)
class AlertingSecrets:
    smtp_password: str | None = None
    slack_webhook_url: str | None = None
    dead_mans_switch_url: str | None = None


def alertmanager_config(alerting: Alerting, secrets: AlertingSecrets) -> dict[str, Any]:
    email = alerting.email
    global_: dict[str, Any] = {"resolve_timeout": "5m"}
    if email is not None:
        global_ |= {"smtp_smarthost": email.smarthost, "smtp_from": email.sender, "smtp_require_tls": True}
        if email.username:
            global_["smtp_auth_username"] = email.username
        if secrets.smtp_password:
            global_["smtp_auth_password"] = secrets.smtp_password
    if secrets.slack_webhook_url:
        global_["slack_api_url"] = secrets.slack_webhook_url

    def receiver(name: str, page: bool) -> dict[str, Any]:
        body: dict[str, Any] = {"name": name}
        if email is not None:
            body["email_configs"] = [{"to": email.to, "send_resolved": True}]
        if page and alerting.slack_channel and secrets.slack_webhook_url:
            body["slack_configs"] = [
                {
                    "channel": alerting.slack_channel,
                    "send_resolved": True,
                    "title": "{{ .CommonLabels.severity | toUpper }}: {{ .CommonAnnotations.summary }}",
                    "text": "{{ range .Alerts }}{{ .Annotations.description }}\n"
                    "{{ .Annotations.runbook_url }}\n{{ end }}",
                }
            ]
        return body

    deadman: dict[str, Any] = {"name": "dead-mans-switch"}
    if secrets.dead_mans_switch_url:
        deadman["webhook_configs"] = [{"url": secrets.dead_mans_switch_url, "send_resolved": False}]
    return {
        "global": global_,
        "route": {
            "receiver": "tickets",
            "group_by": list(alerting.group_by),
            "group_wait": "30s",
            "group_interval": "5m",
            "repeat_interval": f"{alerting.repeat_interval_hours}h",
            "routes": [
                # The heartbeat: sent every minute, never grouped with anything else.
                {
                    "receiver": "dead-mans-switch",
                    "matchers": ['alertname="Watchdog"'],
                    "group_wait": "0s",
                    "group_interval": "1m",
                    "repeat_interval": "1m",
                },
                {"receiver": "pager", "matchers": ['severity="critical"'], "repeat_interval": "1h"},
                {"receiver": "tickets", "matchers": ['severity="warning"']},
                {"receiver": "null", "matchers": ['severity="none"']},
            ],
        },
        # A critical alert silences the warnings of the same area and namespace (no double noise).
        "inhibit_rules": [
            {
                "source_matchers": ['severity="critical"'],
                "target_matchers": ['severity="warning"'],
                "equal": ["namespace", "area"],
            }
        ],
        "receivers": [receiver("pager", page=True), receiver("tickets", page=False), deadman, {"name": "null"}],
    }


def render_alertmanager_yaml(alerting: Alerting, secrets: AlertingSecrets) -> str:
    return yaml.safe_dump(alertmanager_config(alerting, secrets), sort_keys=False)


def alerting_secrets(alerting: Alerting) -> AlertingSecrets:
    """The receivers' secrets from the settings (Pulumi config secrets), revealed for rendering."""
    email = alerting.email

    def reveal(value: SecretStr | None) -> str | None:
        return value.get_secret_value() if value is not None else None

    return AlertingSecrets(
        smtp_password=reveal(email.password) if email else None,
        slack_webhook_url=reveal(alerting.slack_webhook_url),
        dead_mans_switch_url=reveal(alerting.dead_mans_switch_url),
    )
