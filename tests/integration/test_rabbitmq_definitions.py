"""Debian's RabbitMQ 3.10 boots with the rendered broker config and definitions: the application user
exists with no tags and every permission on its own vhost only, the administrator exists, and no
default user or vhost does (RabbitMQ creates none when it imports definitions at boot)."""

from __future__ import annotations

import base64
import os
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from components.rabbitmq.containers import ENABLED_PLUGINS, RabbitmqHostArgs, render_docker_conf
from components.rabbitmq.manifests import (
    ADMIN_USER,
    AMQP_PORT,
    APP_USER,
    DEFINITIONS_DIR,
    MANAGEMENT_PORT,
    PROMETHEUS_PORT,
    VHOST,
    additional_config,
    definitions_json,
)
from components.rabbitmq.settings import Rabbitmq
from stacks.kubernetes_specs import rabbitmq_spec
from stacks.settings import PlatformSettings
from tests.integration.conftest import MEASUREMENTS, daemon, free_port, rabbitmq_env, require_binary, wait_for

pytestmark = pytest.mark.integration

SERVER = Path("/usr/lib/rabbitmq/bin/rabbitmq-server")
# Came with RabbitMQ 3.13 (the images run 4.1); Debian's 3.10 refuses to start with it.
NOT_IN_RABBITMQ_3_10 = ("default_queue_type",)


def test_the_broker_imports_its_users_and_the_application_user_has_only_its_vhost(
    tmp_path: Path, production_settings: PlatformSettings
) -> None:
    if not SERVER.exists():
        require_binary("rabbitmq-server")  # fails in CI, skips elsewhere, naming the package
    amqp, dist, epmd = free_port(), free_port(), free_port()
    definitions = tmp_path / "definitions.json"
    definitions.write_text(definitions_json("admin-test-password", "app-test-password"))
    rendered = additional_config(rabbitmq_spec(production_settings, ())).splitlines()
    kept = [line for line in rendered if not line.startswith(NOT_IN_RABBITMQ_3_10)]
    assert len(rendered) - len(kept) == 1, "only the 3.13+ setting may be left out"
    config = "\n".join(line.replace(DEFINITIONS_DIR, str(tmp_path)) for line in kept)
    (tmp_path / "rabbitmq.conf").write_text(f"{config}\nlisteners.tcp.1 = 127.0.0.1:{amqp}\n")
    (tmp_path / "enabled_plugins").write_text("[].\n")
    node = "rabbit-definitions@localhost"
    env = rabbitmq_env(tmp_path, node, dist, epmd)
    log = tmp_path / "rabbitmq.log"

    def ctl(*args: str) -> subprocess.CompletedProcess[str]:
        # rabbitmqctl reads the cookie of the server's HOME; it runs as root here and looks elsewhere.
        cookie = (tmp_path / ".erlang.cookie").read_text() if (tmp_path / ".erlang.cookie").exists() else ""
        return subprocess.run(
            ["rabbitmqctl", "-q", "--erlang-cookie", cookie, "-n", node, *args],
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            timeout=60,
        )

    try:
        with daemon([str(SERVER)], log, env, stop_timeout=30):
            try:
                took = wait_for(lambda: ctl("await_startup").returncode == 0, 60, "RabbitMQ started", interval=0.5)
            except AssertionError:
                raise AssertionError(log.read_text(errors="replace")[-3000:]) from None
            users = dict(line.split("\t", 1) for line in ctl("list_users").stdout.splitlines()[1:])
            vhosts = ctl("list_vhosts").stdout.splitlines()[1:]
            app = [line.split("\t") for line in ctl("list_user_permissions", APP_USER).stdout.splitlines()[1:]]
            assert ctl("authenticate_user", APP_USER, "app-test-password").returncode == 0
            assert ctl("authenticate_user", APP_USER, "wrong").returncode != 0
            assert ctl("authenticate_user", ADMIN_USER, "admin-test-password").returncode == 0
    finally:
        # epmd outlives the broker: stop the one started on this test's port.
        subprocess.run(["epmd", "-kill"], env=env, capture_output=True, timeout=10)
    assert users == {ADMIN_USER: "[administrator]", APP_USER: "[]"}, "no guest, no default user"
    assert vhosts == [VHOST], "no default vhost '/'"
    assert app == [[VHOST, ".*", ".*", ".*"]]
    MEASUREMENTS.append(
        f"rabbitmq: rendered definitions imported at boot in {took:.1f} s; users {sorted(users)}, "
        f"{APP_USER} has no tags and permissions on {VHOST} only"
    )


def test_the_docker_targets_broker_config_boots_with_management_and_metrics(tmp_path: Path) -> None:
    """The docker target's rabbitmq.conf (the same policy plus its listeners and console logging)
    and its plugins: the management API answers the administrator and refuses the application user
    (no tags), and the Prometheus endpoint serves the broker's metrics."""
    if not SERVER.exists():
        require_binary("rabbitmq-server")
    amqp, management, metrics, dist, epmd = (free_port() for _ in range(5))
    (tmp_path / "definitions.json").write_text(definitions_json("admin-test-password", "app-test-password"))
    rendered = render_docker_conf(RabbitmqHostArgs(Rabbitmq(), "rabbitmq:4.1.4-management", "net", "shop"))
    # Only addresses, ports and paths change; the one 3.13+ key is left out as above.
    loopback = "127.0.0.1"
    local = {
        f"listeners.tcp.default = {AMQP_PORT}": f"listeners.tcp.1 = {loopback}:{amqp}",
        f"management.tcp.port = {MANAGEMENT_PORT}": (
            f"management.tcp.port = {management}\nmanagement.tcp.ip = {loopback}"
        ),
        f"prometheus.tcp.port = {PROMETHEUS_PORT}": f"prometheus.tcp.port = {metrics}\nprometheus.tcp.ip = {loopback}",
    }
    lines = [local.get(line, line) for line in rendered.splitlines() if not line.startswith(NOT_IN_RABBITMQ_3_10)]
    assert set(local.values()) <= set(lines), "the rendered listeners are the docker target's"
    config = "\n".join(line.replace("/etc/teknofest/secrets", str(tmp_path)) for line in lines)
    (tmp_path / "rabbitmq.conf").write_text(config + "\n")
    (tmp_path / "enabled_plugins").write_text(ENABLED_PLUGINS)
    node = "rabbit-docker@localhost"
    env = rabbitmq_env(tmp_path, node, dist, epmd)
    log = tmp_path / "rabbitmq.log"
    api = f"http://127.0.0.1:{management}/api/whoami"
    try:
        with daemon([str(SERVER)], log, env, stop_timeout=30):
            try:
                wait_for(lambda: _status(api, ADMIN_USER, "admin-test-password") == 200, 90, "management API")
            except AssertionError:
                raise AssertionError(log.read_text(errors="replace")[-3000:]) from None
            assert _status(api, APP_USER, "app-test-password") == 401, "the application user has no management tag"
            with urllib.request.urlopen(f"http://127.0.0.1:{metrics}/metrics", timeout=10) as response:
                assert b"rabbitmq_build_info" in response.read()
    finally:
        subprocess.run(["epmd", "-kill"], env=env, capture_output=True, timeout=10)


def _status(url: str, user: str, password: str) -> int:
    request = urllib.request.Request(url)
    request.add_header("Authorization", "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode())
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)
    except OSError:
        return 0
