"""Redis master + two replicas + three Sentinels on 127.0.0.1, started by the rendered start-up
scripts from the rendered configs (only the bind address, ports and paths differ from production),
with the rendered "redis-master" HAProxy endpoint in front. The master is killed by its PID."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import pytest
import redis

from components.load_balancer.haproxy_config import RedisMasterInputs, render_redis_master_cfg
from components.redis.manifests import redis_inputs
from components.redis.redis_config import ACL_USERS, APP_USER, MASTER_NAME, MONITOR_USER
from stacks.settings import PlatformSettings
from tests.integration.conftest import MEASUREMENTS, free_port, require_binary, wait_for

pytestmark = pytest.mark.integration

# One password per ACL user, as the pods get them from the redis-auth Secret.
PASSWORDS = {user.name: f"{user.name}-test-password" for user in ACL_USERS}
SENTINEL_PASSWORD = "sentinel-test-password"


def command(client: redis.Redis, *args: Any) -> Any:
    """redis-py's command methods are loosely typed; its raw command call is used throughout."""
    return cast(Any, client).execute_command(*args)


@dataclass
class Cluster:
    work: Path
    redis_ports: list[int]
    sentinel_ports: list[int]
    proxy_port: int
    processes: dict[str, subprocess.Popen[bytes]]
    env: dict[str, str]

    def start_redis(self, index: int) -> None:
        port = self.redis_ports[index]
        runtime = self.work / f"redis-{index}"
        runtime.mkdir(exist_ok=True)
        log = (runtime / "start.log").open("ab")
        self.processes[f"redis-{index}"] = subprocess.Popen(
            ["sh", str(self.work / "config" / "redis-start.sh")],
            env={**self.env, "REDIS_PORT": str(port), "RUNTIME_DIR": str(runtime)},
            cwd=runtime,
            stdout=log,
            stderr=log,
        )
        wait_for(lambda: self.monitor(port).ping(), 10, f"redis-{index} answering")

    def start_sentinel(self, index: int) -> None:
        runtime = self.work / f"sentinel-{index}"
        runtime.mkdir(exist_ok=True)
        log = (runtime / "start.log").open("ab")
        port = self.sentinel_ports[index]
        self.processes[f"sentinel-{index}"] = subprocess.Popen(
            ["sh", str(self.work / "config" / "sentinel-start.sh")],
            env={**self.env, "SENTINEL_PORT": str(port), "RUNTIME_DIR": str(runtime)},
            cwd=runtime,
            stdout=log,
            stderr=log,
        )
        wait_for(lambda: self.sentinel(index).ping(), 10, f"sentinel-{index} answering")

    def client(self, port: int) -> redis.Redis:
        """As the application: the app user."""
        return redis.Redis(
            host="127.0.0.1", port=port, username=APP_USER.name, password=PASSWORDS[APP_USER.name], socket_timeout=2
        )

    def monitor(self, port: int) -> redis.Redis:
        """As the probes and the exporter: server state only."""
        return redis.Redis(
            host="127.0.0.1",
            port=port,
            username=MONITOR_USER.name,
            password=PASSWORDS[MONITOR_USER.name],
            socket_timeout=2,
        )

    def sentinel(self, index: int) -> redis.Redis:
        return redis.Redis(
            host="127.0.0.1", port=self.sentinel_ports[index], password=SENTINEL_PASSWORD, socket_timeout=2
        )

    def master_port(self) -> int:
        _, port = command(self.sentinel(1), "SENTINEL", "GET-MASTER-ADDR-BY-NAME", MASTER_NAME)
        return int(port)

    def role(self, port: int) -> str:
        return str(command(self.monitor(port), "ROLE")[0].decode())


# The processes announce an address, or a host name as the pods' DNS names and the docker
# target's network aliases are (Sentinel's resolve-hostnames and announce-hostnames).
@pytest.fixture(scope="module", params=["127.0.0.1", "localhost"], ids=["address", "hostname"])
def cluster(
    request: pytest.FixtureRequest,
    production_settings: PlatformSettings,
    tmp_path_factory: pytest.TempPathFactory,
    haproxy_binary: str,
) -> Iterator[Cluster]:
    host: str = request.param
    for binary in ("redis-server", "redis-sentinel", "redis-cli"):
        require_binary(binary)
    work = tmp_path_factory.mktemp("redis")
    from components.redis.redis_config import (
        render_redis_conf,
        render_redis_start,
        render_sentinel_conf,
        render_sentinel_start,
    )

    # Each process runs in its own folder: "." is its data and runtime directory.
    inputs = dataclasses.replace(
        redis_inputs(production_settings.redis), bind="127.0.0.1", data_dir=".", runtime_dir="."
    )
    config = work / "config"
    config.mkdir()
    (config / "redis.conf").write_text(render_redis_conf(inputs))
    (config / "sentinel.conf").write_text(render_sentinel_conf(inputs))
    (config / "redis-start.sh").write_text(render_redis_start(inputs))
    (config / "sentinel-start.sh").write_text(render_sentinel_start(inputs))
    redis_ports = [free_port() for _ in range(3)]
    sentinel_ports = [free_port() for _ in range(3)]
    env = {
        **os.environ,
        "ANNOUNCE_HOST": host,
        "SENTINEL_ADDRESSES": " ".join(f"{host}:{p}" for p in sentinel_ports),
        "BOOTSTRAP_MASTER": f"{host}:{redis_ports[0]}",
        **{user.password_env: PASSWORDS[user.name] for user in ACL_USERS},
        "SENTINEL_PASSWORD": SENTINEL_PASSWORD,
        "CONFIG_DIR": str(config),
    }
    proxy_port = free_port()
    c = Cluster(work, redis_ports, sentinel_ports, proxy_port, {}, env)
    try:
        for i in range(3):
            c.start_redis(i)
        # "Good" replicas (synced, acknowledging within min-replicas-max-lag) are what writes need.
        wait_for(
            lambda: command(c.monitor(redis_ports[0]), "INFO", "replication").get("min_slaves_good_slaves") == 2,
            30,
            "2 good replicas",
        )
        for i in range(3):
            c.start_sentinel(i)
        wait_for(
            lambda: len(command(c.sentinel(0), "SENTINEL", "SENTINELS", MASTER_NAME)) == 2,
            20,
            "sentinels to know each other",
        )
        proxy_cfg = work / "redis-master.cfg"
        proxy_cfg.write_text(
            render_redis_master_cfg(
                RedisMasterInputs(
                    servers=tuple((f"redis-{i}", host, p) for i, p in enumerate(redis_ports)),
                    bind_address="127.0.0.1",
                    port=proxy_port,
                    stats_port=free_port(),
                    nameservers=(),
                    max_connections=1000,
                    check_user=MONITOR_USER.name,
                    password_env=MONITOR_USER.password_env,
                )
            )
        )
        c.processes["proxy"] = subprocess.Popen(
            [haproxy_binary, "-db", "-f", str(proxy_cfg)],
            env={**os.environ, MONITOR_USER.password_env: PASSWORDS[MONITOR_USER.name]},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(lambda: c.client(proxy_port).ping(), 10, "the redis-master endpoint")
        yield c
    finally:
        for process in c.processes.values():
            process.kill()
            process.wait(timeout=10)


def test_master_failover_keeps_acknowledged_writes_and_the_old_master_rejoins(
    cluster: Cluster, production_settings: PlatformSettings
) -> None:
    old_master = cluster.redis_ports[0]
    assert cluster.master_port() == old_master
    proxy = cluster.client(cluster.proxy_port)
    assert command(cluster.monitor(cluster.proxy_port), "ROLE")[0] == b"master"
    # Writes acknowledged by a replica (WAIT on the same connection) before the kill.
    acknowledged = {}
    for i in range(200):
        proxy.set(f"key:{i}", f"value:{i}")
        acknowledged[f"key:{i}"] = f"value:{i}"
    assert command(proxy, "WAIT", 1, 1000) >= 1

    killed_at = time.monotonic()
    cluster.processes["redis-0"].send_signal(signal.SIGKILL)
    cluster.processes["redis-0"].wait(timeout=5)
    promoted = wait_for(lambda: cluster.master_port() != old_master, 30, "a new master", interval=0.1)
    new_master = cluster.master_port()

    def proxy_writes() -> bool:
        client = cluster.client(cluster.proxy_port)
        client.set("after-failover", "yes")
        return bool(command(cluster.monitor(cluster.proxy_port), "ROLE")[0] == b"master")

    wait_for(proxy_writes, 30, "writes through redis-master", interval=0.2)
    total = time.monotonic() - killed_at
    down_after = production_settings.redis.down_after_milliseconds / 1000
    MEASUREMENTS.append(
        f"redis: master killed; new master after {promoted:.2f} s (down-after {down_after:.0f} s), "
        f"writes through redis-master after {total:.2f} s"
    )
    assert promoted <= down_after + 5
    new = cluster.client(new_master)
    assert command(cluster.monitor(new_master), "ROLE")[0] == b"master"
    values = command(new, "MGET", *acknowledged)
    assert {k: v.decode() for k, v in zip(acknowledged, values, strict=True)} == acknowledged
    assert new.get("after-failover") == b"yes"

    # The old master restarts through its start-up script and rejoins as a replica.
    cluster.start_redis(0)
    role = command(cluster.monitor(old_master), "ROLE")
    assert role[0] == b"slave" and int(role[2]) == new_master
    wait_for(lambda: cluster.client(old_master).get("after-failover") == b"yes", 15, "the old master to resync")
    assert cluster.master_port() == new_master
    start_log = (cluster.work / "redis-0" / "start.log").read_text()
    assert f"master known to the Sentinels: {cluster.env['ANNOUNCE_HOST']} {new_master}" in start_log


def test_each_acl_user_can_do_its_job_and_nothing_more(cluster: Cluster) -> None:
    """The rendered ACL users on a live Redis: no default user; the application cannot administer;
    the probes' and the replicas' users read no key."""
    port = cluster.master_port()

    def refused(client: redis.Redis, *args: Any) -> bool:
        try:
            command(client, *args)
        except (
            redis.exceptions.NoPermissionError,
            redis.exceptions.AuthenticationError,
            redis.exceptions.ResponseError,
        ):
            return True
        return False

    app, monitor = cluster.client(port), cluster.monitor(port)
    assert command(app, "SET", "acl:probe", "1") and command(app, "GET", "acl:probe") == b"1"
    for args in (("CONFIG", "SET", "maxmemory", "1"), ("CONFIG", "GET", "masterauth"), ("ACL", "LIST"), ("SHUTDOWN",)):
        assert refused(app, *args), args
    assert command(monitor, "INFO", "replication")["role"] == "master"
    assert refused(monitor, "GET", "acl:probe") and refused(monitor, "CONFIG", "GET", "masterauth")
    replica = redis.Redis(
        host="127.0.0.1", port=port, username="replica", password=PASSWORDS["replica"], socket_timeout=2
    )
    assert refused(replica, "GET", "acl:probe")
    assert refused(redis.Redis(host="127.0.0.1", port=port, socket_timeout=2), "PING"), "the default user is off"
