"""The monitoring pieces Debian ships, run for real on 127.0.0.1:

- redis_exporter and node_exporter serve every metric name our catalogue says they serve;
- Prometheus loads the rendered rules, evaluates them without error and sends the Watchdog to an
  Alertmanager running the rendered routing config, which delivers it to the dead man's switch;
- Prometheus and Alertmanager serve the self-health metrics the rules read;
- RabbitMQ's Prometheus plugin serves the broker metrics at the endpoints the ServiceMonitor scrapes.
"""

from __future__ import annotations

import http.server
import json
import re
import subprocess
import threading
from pathlib import Path
from typing import Any, ClassVar

import pytest
import yaml

from components.monitoring.alert_rules import rule_groups
from components.monitoring.alertmanager_config import AlertingSecrets, render_alertmanager_yaml
from components.monitoring.metric_catalogue import ALERTMANAGER, NODE_EXPORTER, PROMETHEUS, RABBITMQ, REDIS_EXPORTER
from components.rabbitmq.manifests import service_monitor
from components.redis.containers import RedisHostArgs, exporter_container, password_secret
from components.redis.redis_config import ACL_USERS, MONITOR_USER, REPLICA_USER
from components.redis.settings import Redis
from stacks.kubernetes_specs import rabbitmq_spec
from stacks.monitored import monitored_platform
from stacks.settings import Alerting, PlatformSettings
from tests.integration.conftest import (
    MEASUREMENTS,
    daemon,
    free_port,
    local_session,
    rabbitmq_env,
    require_binary,
    wait_for,
)

pytestmark = pytest.mark.integration


def metric_names(text: str) -> set[str]:
    return set(re.findall(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{| )", text, flags=re.M))


def scrape(url: str, log: Path) -> str:
    client = local_session()

    def ready() -> bool:
        return client.get(url, timeout=2).status_code == 200

    try:
        wait_for(ready, 20, url)
    except AssertionError:
        raise AssertionError(log.read_text(errors="replace")[-2000:]) from None
    return client.get(url, timeout=5).text


def test_redis_exporter_serves_the_catalogued_metrics(tmp_path: Path) -> None:
    """As the rendered monitor ACL user (server state only), on a master and a replica that run the
    rendered users: every catalogued metric is still served."""
    redis_server = require_binary("redis-server")
    exporter = require_binary("prometheus-redis-exporter")
    master, replica, web = free_port(), free_port(), free_port()
    passwords = {user.name: f"{user.name}-test-password" for user in ACL_USERS}
    acl = tmp_path / "users.acl"
    acl.write_text(
        "user default off\n" + "".join(f"user {u.name} on >{passwords[u.name]} {u.rules}\n" for u in ACL_USERS)
    )
    common = ["--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--maxmemory", "64mb", "--aclfile", str(acl)]
    follow = ["--replicaof", "127.0.0.1", str(master), "--masteruser", REPLICA_USER.name]
    monitor = ["-redis.user", MONITOR_USER.name, "-redis.password", passwords[MONITOR_USER.name]]
    with (
        daemon([redis_server, "--port", str(master), *common], tmp_path / "master.log"),
        daemon(
            [redis_server, "--port", str(replica), *follow, "--masterauth", passwords[REPLICA_USER.name], *common],
            tmp_path / "r.log",
        ),
        daemon(
            [exporter, "-web.listen-address", f"127.0.0.1:{web}", "-redis.addr", "", *monitor],
            tmp_path / "exporter.log",
        ),
    ):
        names: set[str] = set()
        for port in (master, replica):
            text = scrape(f"http://127.0.0.1:{web}/scrape?target=redis://127.0.0.1:{port}", tmp_path / "exporter.log")
            assert re.search(r"^redis_up 1$", text, flags=re.M), text[:500]
            names |= metric_names(text)
    assert names >= REDIS_EXPORTER, sorted(REDIS_EXPORTER - names)


def test_node_exporter_serves_the_catalogued_metrics(tmp_path: Path) -> None:
    exporter = require_binary("prometheus-node-exporter")
    web = free_port()
    with daemon([exporter, f"--web.listen-address=127.0.0.1:{web}"], tmp_path / "node.log"):
        names = metric_names(scrape(f"http://127.0.0.1:{web}/metrics", tmp_path / "node.log"))
    assert names >= NODE_EXPORTER, sorted(NODE_EXPORTER - names)


class DeadMansSwitch(http.server.BaseHTTPRequestHandler):
    received: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        DeadMansSwitch.received.append(json.loads(body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_prometheus_evaluates_the_rules_and_the_watchdog_reaches_the_dead_mans_switch(
    tmp_path: Path, production_settings: PlatformSettings
) -> None:
    prometheus = require_binary("prometheus")
    alertmanager = require_binary("prometheus-alertmanager")
    switch = http.server.ThreadingHTTPServer(("127.0.0.1", 0), DeadMansSwitch)
    threading.Thread(target=switch.serve_forever, daemon=True).start()
    DeadMansSwitch.received = []
    switch_url = f"http://127.0.0.1:{switch.server_address[1]}/ping"
    am_port, prom_port = free_port(), free_port()
    alerting = Alerting.model_validate({"deadMansSwitchUrl": switch_url})
    (tmp_path / "alertmanager.yml").write_text(
        render_alertmanager_yaml(alerting, AlertingSecrets(dead_mans_switch_url=switch_url))
    )
    (tmp_path / "rules.yml").write_text(
        yaml.safe_dump({"groups": rule_groups(monitored_platform(production_settings))})
    )
    (tmp_path / "prometheus.yml").write_text(
        yaml.safe_dump(
            {
                "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                "rule_files": [str(tmp_path / "rules.yml")],
                "alerting": {"alertmanagers": [{"static_configs": [{"targets": [f"127.0.0.1:{am_port}"]}]}]},
                "scrape_configs": [
                    {"job_name": "prometheus", "static_configs": [{"targets": [f"127.0.0.1:{prom_port}"]}]},
                    {"job_name": "alertmanager", "static_configs": [{"targets": [f"127.0.0.1:{am_port}"]}]},
                ],
            }
        )
    )
    am_args = [
        alertmanager,
        f"--config.file={tmp_path / 'alertmanager.yml'}",
        f"--storage.path={tmp_path / 'am-data'}",
        f"--web.listen-address=127.0.0.1:{am_port}",
        "--cluster.listen-address=",
    ]
    prom_args = [
        prometheus,
        f"--config.file={tmp_path / 'prometheus.yml'}",
        f"--storage.tsdb.path={tmp_path / 'prom-data'}",
        f"--web.listen-address=127.0.0.1:{prom_port}",
        # The first send can precede Alertmanager's discovery (then dropped); resend soon, not after 1 min.
        "--rules.alert.resend-delay=2s",
    ]
    client = local_session()
    try:
        with daemon(am_args, tmp_path / "am.log"), daemon(prom_args, tmp_path / "prom.log"):
            scrape(f"http://127.0.0.1:{am_port}/-/ready", tmp_path / "am.log")
            scrape(f"http://127.0.0.1:{prom_port}/-/ready", tmp_path / "prom.log")
            took = wait_for(lambda: DeadMansSwitch.received, 30, "the Watchdog at the dead man's switch", 0.1)
            payload = DeadMansSwitch.received[0]
            assert payload["receiver"] == "dead-mans-switch"
            assert [a["labels"]["alertname"] for a in payload["alerts"]] == ["Watchdog"]

            def all_rules_evaluated() -> bool:
                groups = client.get(f"http://127.0.0.1:{prom_port}/api/v1/rules", timeout=5).json()["data"]["groups"]
                rules = [r for g in groups for r in g["rules"]]
                return len(rules) > 0 and all(r.get("lastEvaluation", "").startswith("20") for r in rules)

            wait_for(all_rules_evaluated, 30, "every rule evaluated once")
            groups = client.get(f"http://127.0.0.1:{prom_port}/api/v1/rules", timeout=5).json()["data"]["groups"]
            rules = [r for g in groups for r in g["rules"]]
            expected = sum(len(g["rules"]) for g in rule_groups(monitored_platform(production_settings)))
            assert len(rules) == expected
            assert [(r["name"], r.get("lastError")) for r in rules if r["health"] != "ok"] == []
            wait_for(
                lambda: client.get(
                    f"http://127.0.0.1:{prom_port}/api/v1/query", params={"query": "up"}, timeout=5
                ).json()["data"]["result"],
                20,
                "the up series",
            )
            exported = metric_names(client.get(f"http://127.0.0.1:{prom_port}/metrics", timeout=5).text)
            exported |= metric_names(client.get(f"http://127.0.0.1:{am_port}/metrics", timeout=5).text)
            assert (PROMETHEUS - {"up"}) | ALERTMANAGER <= exported, sorted((PROMETHEUS | ALERTMANAGER) - exported)
    finally:
        switch.shutdown()
    MEASUREMENTS.append(
        f"Watchdog rule -> Prometheus -> Alertmanager (rendered routing) -> dead man's switch in {took:.1f} s; "
        f"{expected} rendered rules evaluated by Prometheus without error"
    )


def test_rabbitmq_prometheus_serves_the_catalogued_metrics_at_the_scraped_endpoints(
    tmp_path: Path, production_settings: PlatformSettings
) -> None:
    """Debian's RabbitMQ 3.10 with rabbitmq_prometheus, scraped at exactly the paths and families the
    rendered ServiceMonitor asks for. A family with no queue yet still announces its metrics (# TYPE)."""
    server = Path("/usr/lib/rabbitmq/bin/rabbitmq-server")
    if not server.exists():
        require_binary("rabbitmq-server")  # fails in CI, skips elsewhere, naming the package
    amqp, metrics, dist, epmd = free_port(), free_port(), free_port(), free_port()
    (tmp_path / "rabbitmq.conf").write_text(
        f"listeners.tcp.1 = 127.0.0.1:{amqp}\nprometheus.tcp.ip = 127.0.0.1\nprometheus.tcp.port = {metrics}\n"
    )
    (tmp_path / "enabled_plugins").write_text("[rabbitmq_prometheus].\n")
    env = rabbitmq_env(tmp_path, "rabbit-catalogue@localhost", dist, epmd)
    endpoints = service_monitor(rabbitmq_spec(production_settings, ()))["spec"]["endpoints"]
    names: set[str] = set()
    log = tmp_path / "rabbitmq.log"
    try:
        with daemon([str(server)], log, env, stop_timeout=30):
            for endpoint in endpoints:
                query = "&".join(f"family={f}" for f in endpoint.get("params", {}).get("family", []))
                text = scrape(f"http://127.0.0.1:{metrics}{endpoint['path']}?{query}", log)
                names |= metric_names(text) | set(re.findall(r"^# TYPE (\S+) ", text, flags=re.M))
    finally:
        # epmd outlives the broker: stop the one started on this test's port.
        subprocess.run(["epmd", "-kill"], env=env, capture_output=True, timeout=10)
    assert names >= RABBITMQ, sorted(RABBITMQ - names)


def test_the_docker_targets_redis_exporter_reads_its_passwords_from_its_file(tmp_path: Path) -> None:
    """The docker target's exporter has no shell to export a password: its rendered password file
    (one entry per Redis address, as the monitor user) signs it in to the master and the replica."""
    redis_server = require_binary("redis-server")
    exporter = require_binary("prometheus-redis-exporter")
    master, replica, web = free_port(), free_port(), free_port()
    passwords = {user.name: f"{user.name}-test-password" for user in ACL_USERS}
    acl = tmp_path / "users.acl"
    acl.write_text(
        "user default off\n" + "".join(f"user {u.name} on >{passwords[u.name]} {u.rules}\n" for u in ACL_USERS)
    )
    spec = exporter_container(RedisHostArgs(Redis(replicas=1), "redis:7.4.11", "haproxy:2.6.22", "net", "shop", "x"))
    (upload,) = spec.uploads
    # The containers' addresses become this host's ports; the password is the monitor user's.
    text = upload.filled({password_secret(MONITOR_USER): passwords[MONITOR_USER.name]})
    text = text.replace("redis-0:6379", f"127.0.0.1:{master}").replace("redis-1:6379", f"127.0.0.1:{replica}")
    (tmp_path / "passwords.json").write_text(text)
    flags = {arg.split("=", 1)[0] for arg in spec.command[1:]}
    assert {"--redis.user", "--redis.password-file"} <= flags
    common = ["--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--maxmemory", "64mb", "--aclfile", str(acl)]
    follow = ["--replicaof", "127.0.0.1", str(master), "--masteruser", REPLICA_USER.name]
    with (
        daemon([redis_server, "--port", str(master), *common], tmp_path / "master.log"),
        daemon(
            [redis_server, "--port", str(replica), *follow, "--masterauth", passwords[REPLICA_USER.name], *common],
            tmp_path / "r.log",
        ),
        daemon(
            [
                exporter,
                "-web.listen-address",
                f"127.0.0.1:{web}",
                "-redis.addr",
                "",
                "-redis.user",
                MONITOR_USER.name,
                "-redis.password-file",
                str(tmp_path / "passwords.json"),
            ],
            tmp_path / "exporter.log",
        ),
    ):
        for port in (master, replica):
            scraped = scrape(
                f"http://127.0.0.1:{web}/scrape?target=redis://127.0.0.1:{port}", tmp_path / "exporter.log"
            )
            assert re.search(r"^redis_up 1$", scraped, flags=re.M), scraped[:500]
