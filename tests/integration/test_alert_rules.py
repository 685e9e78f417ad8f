"""The rendered alert rules, checked and unit-tested by Debian's promtool."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.monitoring.alert_rules import FAST_BURN, rule_groups
from components.monitoring.dashboards import platform_dashboards
from stacks.monitored import monitored_platform
from stacks.settings import PlatformSettings
from tests.conftest import STACKS, stack_settings
from tests.integration.conftest import require_binary

pytestmark = pytest.mark.integration
NS = "teknofest-production"


def promtool() -> str:
    require_binary("promtool")
    return shutil.which("promtool") or "/usr/bin/promtool"


def write_rules(settings: PlatformSettings, path: Path) -> dict[str, dict[str, Any]]:
    groups = rule_groups(monitored_platform(settings))
    path.write_text(yaml.safe_dump({"groups": groups}, sort_keys=False))
    return {rule["alert"]: rule for group in groups for rule in group["rules"] if "alert" in rule}


@pytest.mark.parametrize("stack", STACKS)
def test_rules_pass_promtool_check(tmp_path: Path, stack: str) -> None:
    path = tmp_path / "rules.yaml"
    alerts = write_rules(stack_settings(stack), path)
    result = subprocess.run([promtool(), "check", "rules", str(path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    for alert in alerts.values():
        assert alert["labels"]["severity"] in ("critical", "warning", "none")
        assert set(alert["annotations"]) == {"summary", "description", "runbook_url"}


def expected(rule: dict[str, Any], **labels: str) -> dict[str, Any]:
    """The alert as promtool reports it: annotation templates rendered with the series' labels."""
    annotations = {}
    for key, text in rule["annotations"].items():
        for name, value in labels.items():
            text = text.replace(f"{{{{ $labels.{name} }}}}", value)
        annotations[key] = text
    return {"exp_labels": {**rule["labels"], **labels}, "exp_annotations": annotations}


def test_important_alerts_fire_and_stay_silent(tmp_path: Path, production_settings: PlatformSettings) -> None:
    rules_path = tmp_path / "rules.yaml"
    alerts = write_rules(production_settings, rules_path)
    requests = f'haproxy_backend_http_requests_total{{namespace="{NS}",proxy="api"}}'
    errors = f'haproxy_backend_http_responses_total{{namespace="{NS}",proxy="api",code="5xx"}}'
    budget = 1 - production_settings.monitoring.availability_slo
    tests = [
        {
            # 100 requests/s with 5 % errors: far above 14.4 x the 0.1 % budget.
            "interval": "1m",
            "input_series": [
                {"series": requests, "values": "0+6000x30"},
                {"series": errors, "values": "0+300x30"},
            ],
            "alert_rule_test": [
                {"eval_time": "1m", "alertname": "ApiErrorBudgetFastBurn", "exp_alerts": []},
                {
                    "eval_time": "10m",
                    "alertname": "ApiErrorBudgetFastBurn",
                    "exp_alerts": [expected(alerts["ApiErrorBudgetFastBurn"])],
                },
            ],
        },
        {
            # Errors just under the fast-burn threshold: no page.
            "interval": "1m",
            "input_series": [
                {"series": requests, "values": "0+6000x30"},
                {"series": errors, "values": f"0+{6000 * FAST_BURN * budget * 0.9:.3f}x30"},
            ],
            "alert_rule_test": [{"eval_time": "20m", "alertname": "ApiErrorBudgetFastBurn", "exp_alerts": []}],
        },
        {
            # Sentinel promoted nobody: only replicas report.
            "interval": "1m",
            "input_series": [
                {"series": f'redis_instance_info{{namespace="{NS}",pod="redis-1",role="slave"}}', "values": "1x10"},
            ],
            "alert_rule_test": [
                {
                    "eval_time": "5m",
                    "alertname": "RedisNoMaster",
                    "exp_alerts": [expected(alerts["RedisNoMaster"], namespace=NS, role="master")],
                },
            ],
        },
        {
            "interval": "1m",
            "input_series": [
                {"series": f'redis_instance_info{{namespace="{NS}",pod="redis-0",role="master"}}', "values": "1x10"},
                {"series": f'redis_instance_info{{namespace="{NS}",pod="redis-1",role="slave"}}', "values": "1x10"},
            ],
            "alert_rule_test": [
                {"eval_time": "5m", "alertname": "RedisNoMaster", "exp_alerts": []},
                {"eval_time": "5m", "alertname": "RedisMultipleMasters", "exp_alerts": []},
            ],
        },
        {
            "interval": "1m",
            "input_series": [
                {
                    "series": f'haproxy_backend_active_servers{{namespace="{NS}",proxy="api",pod="haproxy-0"}}',
                    "values": "3 3 0 0 0 0",
                },
            ],
            "alert_rule_test": [
                {"eval_time": "2m", "alertname": "ApiNoHealthyBackend", "exp_alerts": []},
                {
                    "eval_time": "4m",
                    "alertname": "ApiNoHealthyBackend",
                    "exp_alerts": [expected(alerts["ApiNoHealthyBackend"], namespace=NS)],
                },
            ],
        },
        {
            # Messages wait on a queue no worker consumes: the original deployment's lost tasks.
            "interval": "1m",
            "input_series": [
                {
                    "series": f'rabbitmq_detailed_queue_consumers{{namespace="{NS}",queue="ai"}}',
                    "values": "2 2 0 0 0 0 0 0 0",
                },
                {"series": f'rabbitmq_detailed_queue_messages_ready{{namespace="{NS}",queue="ai"}}', "values": "5x8"},
            ],
            "alert_rule_test": [
                {"eval_time": "3m", "alertname": "CeleryQueueWithoutConsumer", "exp_alerts": []},
                {
                    "eval_time": "8m",
                    "alertname": "CeleryQueueWithoutConsumer",
                    "exp_alerts": [expected(alerts["CeleryQueueWithoutConsumer"], queue="ai")],
                },
            ],
        },
        {
            # From minute 10 one task fails 10 % of its runs (6 of 60 a minute), another never: only the
            # first alerts, once the 10-minute ratio has stayed above 5 % for 10 minutes.
            "interval": "1m",
            "input_series": [
                {"series": f'celery_task_succeeded_total{{namespace="{NS}",name="ai.infer"}}', "values": "0+54x40"},
                {"series": f'celery_task_failed_total{{namespace="{NS}",name="ai.infer"}}', "values": "0x10 6+6x30"},
                {"series": f'celery_task_succeeded_total{{namespace="{NS}",name="data.etl"}}', "values": "0+60x40"},
                {"series": f'celery_task_failed_total{{namespace="{NS}",name="data.etl"}}', "values": "0x40"},
            ],
            "alert_rule_test": [
                {"eval_time": "12m", "alertname": "CeleryTaskFailureRateHigh", "exp_alerts": []},
                {
                    "eval_time": "30m",
                    "alertname": "CeleryTaskFailureRateHigh",
                    "exp_alerts": [expected(alerts["CeleryTaskFailureRateHigh"], name="ai.infer")],
                },
            ],
        },
        {
            # 2 % failures: under the 5 % line, silent.
            "interval": "1m",
            "input_series": [
                {"series": f'celery_task_succeeded_total{{namespace="{NS}",name="ai.infer"}}', "values": "0+98x40"},
                {"series": f'celery_task_failed_total{{namespace="{NS}",name="ai.infer"}}', "values": "0+2x40"},
            ],
            "alert_rule_test": [{"eval_time": "30m", "alertname": "CeleryTaskFailureRateHigh", "exp_alerts": []}],
        },
        {
            # Loki's target goes down, then its series vanish altogether: both page.
            "interval": "1m",
            "input_series": [
                {"series": 'up{namespace="monitoring",job="loki",pod="loki-0"}', "values": "1 1 0 0 0 0 0 0 0 0"},
            ],
            "alert_rule_test": [
                {"eval_time": "3m", "alertname": "LokiDown", "exp_alerts": []},
                {
                    "eval_time": "9m",
                    "alertname": "LokiDown",
                    "exp_alerts": [expected(alerts["LokiDown"], namespace="monitoring", job="loki", pod="loki-0")],
                },
            ],
        },
        {
            "interval": "1m",
            "input_series": [],
            "alert_rule_test": [
                {
                    "eval_time": "6m",
                    "alertname": "LokiDown",
                    "exp_alerts": [expected(alerts["LokiDown"], namespace="monitoring", job="loki")],
                }
            ],
        },
    ]
    test_file = tmp_path / "rules_test.yaml"
    test_file.write_text(
        yaml.safe_dump({"rule_files": [str(rules_path)], "evaluation_interval": "1m", "tests": tests}, sort_keys=False)
    )
    result = subprocess.run([promtool(), "test", "rules", str(test_file)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


@pytest.mark.parametrize("stack", STACKS)
def test_every_dashboard_query_is_valid_promql(tmp_path: Path, stack: str) -> None:
    """promtool parses each panel's query (written as a recording rule): Grafana would show a parse
    error on the panel otherwise."""
    settings = stack_settings(stack)
    rules = [
        {"record": f"dashboard:{d.uid.replace('-', '_')}:{p}_{q}", "expr": query.expr}
        for d in platform_dashboards(monitored_platform(settings))
        for p, panel in enumerate(d.panels)
        for q, query in enumerate(panel.queries)
    ]
    path = tmp_path / "panels.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "panels", "rules": rules}]}))
    result = subprocess.run([promtool(), "check", "rules", str(path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{len(rules)} rules found" in result.stdout


def test_a_broken_panel_query_fails_the_promtool_check(tmp_path: Path) -> None:
    path = tmp_path / "panels.yaml"
    rule = {"record": "dashboard:broken", "expr": "sum(rate(haproxy_backend_http_requests_total[5m])"}
    path.write_text(yaml.safe_dump({"groups": [{"name": "panels", "rules": [rule]}]}))
    result = subprocess.run([promtool(), "check", "rules", str(path)], capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
