"""The docker target's prometheus.yml and rule file as the dev stack renders them, run by Debian's
Prometheus: promtool accepts both, and the server loads every rule and scrapes every job with the
target-neutral labels (namespace: the platform's, or the monitoring stack's for its own servers),
the API through DNS discovery of its network alias."""

from __future__ import annotations

import json
import re
import subprocess
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.common.docker.containers import CONFIG_DIR
from components.monitoring.containers import prometheus_container
from stacks.docker_platform import monitoring_host_args
from tests.conftest import stack_settings
from tests.integration.conftest import daemon, free_port, require_binary, wait_for

pytestmark = pytest.mark.integration


def _prometheus_files() -> dict[str, str]:
    """The files the dev stack uploads into its Prometheus container (plain text, no secret)."""
    spec = prometheus_container(monitoring_host_args(stack_settings("dev")))
    return {u.path.removeprefix(CONFIG_DIR + "/"): u.content for u in spec.all_uploads}


def test_promtool_accepts_the_rendered_config_and_rules(tmp_path: Path) -> None:
    promtool = require_binary("promtool")
    files = _prometheus_files()
    (tmp_path / "rules.yml").write_text(files["rules.yml"])
    config = files["prometheus.yml"].replace(f"{CONFIG_DIR}/rules.yml", str(tmp_path / "rules.yml"))
    (tmp_path / "prometheus.yml").write_text(config)
    result = subprocess.run(
        [promtool, "check", "config", str(tmp_path / "prometheus.yml")], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout + result.stderr
    # No rule on kube-state-metrics: the docker target has none to read.
    assert "kube_" not in files["rules.yml"]


def test_prometheus_loads_the_rules_and_labels_every_target(tmp_path: Path) -> None:
    prometheus = require_binary("prometheus")
    files = _prometheus_files()
    (tmp_path / "rules.yml").write_text(files["rules.yml"])
    config = yaml.safe_load(files["prometheus.yml"].replace(f"{CONFIG_DIR}/rules.yml", str(tmp_path / "rules.yml")))
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    args = [
        prometheus,
        f"--config.file={tmp_path / 'prometheus.yml'}",
        f"--storage.tsdb.path={tmp_path / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
    ]
    base = f"http://127.0.0.1:{port}"
    with daemon(args, tmp_path / "prometheus.log"):
        wait_for(lambda: _get(f"{base}/-/ready") is not None, 60, "prometheus ready")
        groups = _get(f"{base}/api/v1/rules")["data"]["groups"]
        loaded = sum(len(g["rules"]) for g in groups)
        expected = sum(len(g["rules"]) for g in yaml.safe_load(files["rules.yml"])["groups"])
        assert loaded == expected > 20
        # Discovery runs after start-up: wait until the static targets are listed.
        wait_for(lambda: len(_get(f"{base}/api/v1/targets")["data"]["activeTargets"]) >= 6, 30, "targets")
        targets = _get(f"{base}/api/v1/targets")["data"]["activeTargets"]
        jobs = {t["labels"]["job"] for t in targets}
        # The API's alias does not resolve here: DNS discovery finds no target, so it is absent.
        assert {"haproxy-stats", "redis-metrics", "postgres", "rabbitmq", "celery-exporter", "prometheus"} <= jobs
        # The platform's jobs carry its namespace, the monitoring stack's own the monitoring one.
        namespaces = {t["labels"]["job"]: t["labels"]["namespace"] for t in targets}
        assert namespaces["rabbitmq"] == namespaces["celery-exporter"] == "teknofest-dev"
        assert namespaces["loki"] == namespaces["log-shipper"] == namespaces["prometheus"] == "monitoring"
        # Every job a rule selects by namespace has a series in the running server, so no
        # `absent(up{...})` rule fires for a target that is there.
        for namespace, job in _rule_selectors(files["rules.yml"]):
            query = urllib.parse.quote(f'count(up{{namespace="{namespace}",job="{job}"}})')
            # `up` exists from a target's first scrape on (one interval after start).
            wait_for(
                lambda q=query: bool(_get(f"{base}/api/v1/query?query={q}")["data"]["result"]),
                45,
                f"up of {namespace}/{job}",
            )
        # The API is found through its alias (A records); nothing resolves it here.
        (api,) = [c for c in config["scrape_configs"] if c["job_name"] == "api"]
        assert api["dns_sd_configs"][0]["names"] == ["api"] and api["dns_sd_configs"][0]["port"] == 8000


def _rule_selectors(rules: str) -> set[tuple[str, str]]:
    """(namespace, job) of every rule selector that names both."""
    found = set()
    for group in yaml.safe_load(rules)["groups"]:
        for rule in group["rules"]:
            for selector in re.findall(r"\{([^}]*)\}", rule["expr"]):
                labels = dict(re.findall(r'(\w+)="([^"]*)"', selector))
                if "namespace" in labels and "job" in labels:
                    found.add((labels["namespace"], labels["job"]))
    assert len(found) >= 3, found
    return found


def _get(url: str) -> Any:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            body = response.read()
    except OSError:
        return None
    return json.loads(body) if body.startswith(b"{") else {}
