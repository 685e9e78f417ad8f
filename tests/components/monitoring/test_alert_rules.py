"""The alert rules from literal monitoring settings."""

from __future__ import annotations

import pytest

from components.monitoring.alert_rules import rule_groups
from components.monitoring.settings import Monitoring
from tests.components.monitoring.test_kubernetes import platform


def alerts(monitoring: Monitoring) -> set[str]:
    return {rule["alert"] for group in rule_groups(platform(monitoring)) for rule in group["rules"] if "alert" in rule}


@pytest.mark.parametrize(("nodes", "yellow"), [(1, False), (3, True)])
def test_yellow_is_an_alert_only_where_a_replica_has_a_node_to_go_to(nodes: int, yellow: bool) -> None:
    found = alerts(Monitoring.model_validate({"elasticsearch": {"nodes": nodes}}))
    assert {"ElasticsearchClusterRed", "ElasticsearchDiskAlmostFull"} <= found
    assert ("ElasticsearchClusterYellow" in found) is yellow
