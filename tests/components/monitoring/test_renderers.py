"""The monitoring renderers from literal inputs: PromQL names, dashboard JSON, Loki's config."""

from __future__ import annotations

import json

import pytest

from components.monitoring.dashboards import Dashboard, Panel, Query, dashboard_json
from components.monitoring.loki import loki_config
from components.monitoring.promql import metric_names
from components.monitoring.settings import Monitoring
from tests.components.monitoring.test_kubernetes import platform


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        (
            'sum by (queue) (rabbitmq_detailed_queue_consumers{namespace="x"}) == 0',
            {"rabbitmq_detailed_queue_consumers"},
        ),
        (
            "histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))",
            {"http_request_duration_seconds_bucket"},
        ),
        ("teknofest:api_error_ratio:rate1h > 14.4 * 0.001", {"teknofest:api_error_ratio:rate1h"}),
        ('1e3 * up{a="b{c}"} / on(instance) group_left(pod) kube_pod_info offset 5m', {"up", "kube_pod_info"}),
        (
            'absent(kube_node_status_allocatable{resource="nvidia_com_gpu"}) or vector(1)',
            {"kube_node_status_allocatable"},
        ),
    ],
)
def test_metric_names_reads_series_not_functions_labels_or_keywords(expr: str, names: set[str]) -> None:
    assert metric_names(expr) == names


def test_dashboard_json_is_a_grafana_dashboard_with_a_non_overlapping_grid() -> None:
    board = Dashboard("uid-1", "T", tuple(Panel(f"p{i}", (Query("up", "x"), Query("up", "y"))) for i in range(5)))
    rendered = dashboard_json(board)
    assert rendered["uid"] == "uid-1" and rendered["schemaVersion"] >= 36 and rendered["editable"] is False
    ids = [p["id"] for p in rendered["panels"]]
    assert len(set(ids)) == len(ids) == 5
    cells = {(p["gridPos"]["x"], p["gridPos"]["y"]) for p in rendered["panels"]}
    assert len(cells) == 5 and all(p["gridPos"]["w"] + p["gridPos"]["x"] <= 24 for p in rendered["panels"])
    assert [t["refId"] for t in rendered["panels"][0]["targets"]] == ["A", "B"]
    assert rendered["panels"][0]["datasource"] == {"type": "prometheus", "uid": "prometheus"}
    json.dumps(rendered)


def test_loki_keeps_logs_for_the_retention_and_listens_on_the_pod_address() -> None:
    config = loki_config(platform(Monitoring.model_validate({"loki": {"retention": "7d"}})))
    assert config["limits_config"]["retention_period"] == "7d"
    assert config["compactor"]["retention_enabled"] is True
    assert config["server"]["http_listen_address"] == "${POD_IP}"
    assert config["auth_enabled"] is False and config["common"]["replication_factor"] == 1
    assert config["schema_config"]["configs"][0]["schema"] == "v13"
