"""The docker target applied to a real engine and checked end to end (see conftest.py).

The tests run in file order: the read-only ones first, then the ones that kill containers."""

from __future__ import annotations

import base64
import http.client
import json
import threading
import time
from typing import Any

import pytest

from stacks.mock_engine import unwrap
from tests.engine.clients import SteadyLoad, exec_python, request
from tests.engine.conftest import PORTS, PREFIX, Platform
from tests.engine.measurements import MEASUREMENTS, seconds

# The first test builds the stand-ins (cold: debootstrap and nine builds) and applies the plan.
pytestmark = pytest.mark.timeout(900)
HEALTHY_WITHIN_SECONDS = 180
LOAD_AFTER_KILL_SECONDS = 10
SERVED_AGAIN_WITHIN_SECONDS = 90
DATABASE = "teknofest"  # the dev stack's (postgres.database's default)


def _inspect(platform: Platform, name: str) -> dict[str, Any]:
    return dict(platform.engine.client.api.inspect_container(name))


def test_every_container_is_healthy_in_time_and_publishes_only_on_loopback(platform: Platform) -> None:
    slow = {n: s for n, s in platform.applied.seconds_to_healthy.items() if s > HEALTHY_WITHIN_SECONDS}
    assert not slow, f"containers slower than {HEALTHY_WITHIN_SECONDS} s to healthy: {slow}"
    published = []
    for name in platform.applied.containers:
        info = _inspect(platform, name)
        if name.endswith("-files"):
            # Carries files only: created, never started, no network.
            assert info["State"]["Status"] == "created", name
            assert info["HostConfig"]["NetworkMode"] == "none", name
            continue
        assert info["State"]["Running"], name
        if info["Config"].get("Healthcheck"):
            assert info["State"]["Health"]["Status"] == "healthy", name
        for port, bindings in (info["NetworkSettings"]["Ports"] or {}).items():
            for binding in bindings or []:
                assert binding["HostIp"] == "127.0.0.1", f"{name} publishes {port} on {binding['HostIp']}"
                published.append(f"{name.removeprefix(PREFIX + '-')}:{binding['HostPort']}")
    assert published, "nothing published: the load balancer at least must be"
    MEASUREMENTS.append(f"published, all on 127.0.0.1: {', '.join(sorted(published))}")


def test_a_request_writes_through_the_rw_pooler_runs_on_the_routed_pool_and_reads_from_the_replica(
    platform: Platform,
) -> None:
    status, ready = request(platform.ca, "GET", "/health/ready")
    assert status == 200 and ready["postgres"] == ready["redis"] == "ok", ready
    started = time.monotonic()
    status, item = request(platform.ca, "POST", "/items")
    assert status == 201, item
    assert item["worker"].startswith("ai@"), f"the ai route's task ran on {item['worker']}"
    replica = item["replica"]
    assert replica["in_recovery"], "the read-only pooler answered from a server that is not a replica"
    assert replica["row"] == ["engine", item["api"], item["worker"]], replica
    MEASUREMENTS.append(
        f"POST /items over TLS: written by {item['api']}, task on {item['worker']}, read back from the replica, "
        f"{time.monotonic() - started:.1f} s"
    )


def _stats(platform: Platform, password: str) -> dict[str, str]:
    """The api backend's servers (by address) -> status, from HAProxy's stats page on 127.0.0.1."""
    auth = base64.b64encode(f"admin:{password}".encode()).decode()
    connection = http.client.HTTPConnection("127.0.0.1", PORTS["haproxyStats"], timeout=5)
    connection.request("GET", "/stats;csv", headers={"Authorization": f"Basic {auth}"})
    response = connection.getresponse()
    text = response.read().decode()
    if response.status != 200:
        raise AssertionError(f"HAProxy's stats answered {response.status}: {text[:300]}")
    lines = text.splitlines()
    header = lines[0].lstrip("# ").split(",") if lines else []
    rows = [dict(zip(header, line.split(","), strict=False)) for line in lines[1:] if line]
    # The stats do not show a templated server's address: servers by name (api1, api2, ...).
    return {r["svname"]: r["status"] for r in rows if r.get("pxname") == "api" and r["svname"] != "BACKEND"}


def test_an_api_container_killed_under_steady_load_fails_no_request(platform: Platform) -> None:
    victim = platform.container("api-0")
    password = platform.container("haproxy").exec_run(["cat", "/etc/teknofest/secrets/haproxy-stats-password"])
    stats_password = password.output.decode().strip()
    before = _stats(platform, stats_password)
    assert len(before) >= 2 and all(status.startswith("UP") for status in before.values()), before
    with SteadyLoad(platform.ca) as load:
        time.sleep(3)
        killed_at = time.monotonic()
        victim.kill()
        out_of_rotation = None
        while time.monotonic() - killed_at < 30:
            # One container is killed: the first server not UP is its.
            if not all(status.startswith("UP") for status in _stats(platform, stats_password).values()):
                out_of_rotation = time.monotonic() - killed_at
                break
            time.sleep(0.1)
        # The load goes on for a fixed window after the kill, whenever HAProxy noticed it.
        time.sleep(max(0.0, LOAD_AFTER_KILL_SECONDS - (time.monotonic() - killed_at)))
    victim.start()
    served = len(load.results)
    MEASUREMENTS.append(
        f"API container killed under {load.per_second:.0f} req/s: {len(load.failed)} of {served} requests failed "
        f"(slowest {load.slowest:.2f} s), dead server in rotation {seconds(out_of_rotation)}"
    )
    assert out_of_rotation is not None, "HAProxy never took the killed container out of rotation"
    # At least half the offered rate, or the load proved little.
    assert served >= (3 + LOAD_AFTER_KILL_SECONDS) * load.per_second / 2, served
    assert not load.failed, load.failed[:5]


REDIS_WRITER = """
import json, os, sys, time
import redis
client = redis.Redis.from_url(os.environ["REDIS_URL"], socket_timeout=1, socket_connect_timeout=1)
acked, first_failure, resumed, errors = [], None, None, 0
deadline = time.monotonic() + float(sys.argv[1]) if len(sys.argv) > 1 else time.monotonic() + DURATION
start = time.monotonic()
i = 0
while time.monotonic() < deadline:
    key = f"engine:{i}"
    try:
        client.set(key, i)
        acked.append(key)
        if first_failure is not None and resumed is None:
            resumed = time.monotonic() - start
    except Exception:
        errors += 1
        if first_failure is None:
            first_failure = time.monotonic() - start
        client = redis.Redis.from_url(os.environ["REDIS_URL"], socket_timeout=1, socket_connect_timeout=1)
        time.sleep(0.1)
    i += 1
    time.sleep(0.02)
missing = acked
for attempt in range(50):  # the master's endpoint may still be moving: ask until it answers
    try:
        client = redis.Redis.from_url(os.environ["REDIS_URL"], socket_timeout=2)
        missing = [k for k in acked if client.get(k) is None]
        break
    except Exception:
        time.sleep(0.2)
print(json.dumps({"acked": len(acked), "missing": len(missing), "errors": errors,
                  "first_failure": first_failure, "resumed": resumed}))
"""


def _sentinel_master(platform: Platform) -> str:
    result = platform.container("redis-sentinel-0").exec_run(
        [
            "sh",
            "-c",
            'REDISCLI_AUTH="$(cat /etc/teknofest/secrets/redis-sentinels-password)" '
            "timeout 5 redis-cli -p 26379 sentinel get-master-addr-by-name teknofest",
        ]
    )
    return result.output.decode().split()[0] if result.output else ""


def test_the_redis_master_killed_fails_over_and_keeps_acknowledged_writes(platform: Platform) -> None:
    writer_result: dict[str, Any] = {}
    api = platform.container("api-1")

    def write() -> None:
        writer_result.update(exec_python(api, REDIS_WRITER.replace("DURATION", "20"), timeout=60))

    old_master = _sentinel_master(platform)
    assert old_master, "the Sentinels name no master"
    thread = threading.Thread(target=write)
    thread.start()
    time.sleep(4)
    victim = platform.container(old_master if old_master.startswith("redis-") else "redis-0")
    killed_at = time.monotonic()
    victim.kill()
    new_master, failover = old_master, None
    while time.monotonic() - killed_at < 60:
        new_master = _sentinel_master(platform)
        if new_master and new_master != old_master:
            failover = time.monotonic() - killed_at
            break
        time.sleep(0.2)
    thread.join(timeout=90)
    victim.start()
    rejoined = None
    started = time.monotonic()
    while time.monotonic() - started < 60:
        monitor = 'REDISCLI_AUTH="$(cat /etc/teknofest/secrets/redis-monitor-password)" timeout 5 redis-cli'
        info = victim.exec_run(["sh", "-c", f"{monitor} --user monitor info replication"]).output.decode()
        if "role:slave" in info and "master_link_status:up" in info:
            rejoined = time.monotonic() - started
            break
        time.sleep(0.5)
    MEASUREMENTS.append(
        f"Redis master {old_master} killed: {new_master} promoted after {seconds(failover)}; writes through "
        f"redis-master: {writer_result.get('acked')} acknowledged, {writer_result.get('missing')} of them lost, "
        f"{writer_result.get('errors')} refused, resumed {seconds(_resumed_after(writer_result))} after the first "
        f"refusal; the old master a replica again {seconds(rejoined)} after its restart"
    )
    sentinel_log = "\n".join(
        line
        for line in platform.container("redis-sentinel-0").logs(tail=400).decode(errors="replace").splitlines()
        if "Failed to resolve" not in line
    )[-3000:]
    assert failover is not None, f"no failover within 60 s; sentinel-0 said:\n{sentinel_log}"
    assert writer_result.get("resumed") is not None, writer_result
    assert writer_result["missing"] == 0, writer_result
    assert rejoined is not None, f"the restarted old master did not rejoin as a replica:\n{info[-1000:]}"


def _resumed_after(writer: dict[str, Any]) -> float | None:
    if writer.get("resumed") is None or writer.get("first_failure") is None:
        return None
    return float(writer["resumed"]) - float(writer["first_failure"])


def _left_out_hosts(platform: Platform) -> set[str]:
    """The names (container names and aliases) of the containers not run on the engine."""
    hosts: set[str] = set()
    for resource in platform.render.resources:
        if resource.type == "docker:index/container:Container" and resource.name in platform.applied.left_out:
            inputs = unwrap(resource.inputs)
            hosts.add(inputs["name"])
            for network in inputs.get("networksAdvanced") or []:
                hosts.update(network.get("aliases") or [])
    return hosts


def test_prometheus_scrapes_every_target_it_can_reach_and_the_watchdog_reaches_the_switch(
    platform: Platform,
) -> None:
    left_out = _left_out_hosts(platform)
    deadline = time.monotonic() + 150
    down: list[str] = []
    while time.monotonic() < deadline:
        connection = http.client.HTTPConnection("127.0.0.1", PORTS["prometheus"], timeout=5)
        connection.request("GET", "/api/v1/targets?state=active")
        targets = json.loads(connection.getresponse().read())["data"]["activeTargets"]
        reachable = [t for t in targets if t["labels"]["instance"].split(":")[0] not in left_out]
        down = [
            f"{t['labels']['job']} {t['labels']['instance']}: {t['lastError']}"
            for t in reachable
            if t["health"] != "up"
        ]
        if reachable and not down:
            break
        time.sleep(3)
    assert not down, down
    skipped = sorted({t["labels"]["job"] for t in targets if t["labels"]["instance"].split(":")[0] in left_out})
    watchdog_at = None
    while time.monotonic() < deadline + 60:
        if b"Watchdog" in platform.dead_mans_switch.logs():
            watchdog_at = time.monotonic() - platform.started_at
            break
        time.sleep(2)
    MEASUREMENTS.append(
        f"Prometheus: {len(reachable)} targets up; not scraped (containers left out): {', '.join(skipped)}; "
        f"the Watchdog at the dead man's switch {seconds(watchdog_at)} "
        "after the apply ended"
    )
    assert watchdog_at is not None, "no Watchdog at the dead man's switch"


WRITER = """
import json, os, time
import psycopg2
results = []
deadline = time.monotonic() + DURATION
while time.monotonic() < deadline:
    at = time.monotonic()
    try:
        with psycopg2.connect(os.environ["DATABASE_URL"], connect_timeout=2) as c, c.cursor() as cur:
            cur.execute("CREATE TABLE IF NOT EXISTS failover (id bigserial PRIMARY KEY, at double precision)")
            cur.execute("INSERT INTO failover (at) VALUES (%s)", (at,))
        results.append((at, True))
    except Exception:
        results.append((at, False))
    time.sleep(0.2)
print(json.dumps(results))
"""


def test_the_documented_postgres_failover_promotes_the_replica_and_writes_resume(platform: Platform) -> None:
    """docs/docker-target.md, "Fail over to the replica by hand", command for command."""
    client = platform.engine.client
    api = (
        platform.container("api-0") if platform.container("api-0").status == "running" else platform.container("api-1")
    )
    primary, replica = platform.container("postgres-primary"), platform.container("postgres-replica-1")
    writes: list[Any] = []
    thread = threading.Thread(target=lambda: writes.extend(exec_python(api, WRITER.replace("DURATION", "25"), 60)))
    thread.start()
    time.sleep(5)
    lost_at = time.monotonic()
    primary.kill()  # the primary is lost
    # Containers read the host's monotonic clock: the writer's stamps compare with this one.
    dead_at = time.monotonic()
    promote = replica.exec_run(["pg_ctl", "promote", "-D", "/var/lib/postgresql/data/pgdata"])
    assert promote.exit_code == 0, promote.output.decode()
    network = f"{PREFIX}-backend"
    client.networks.get(network).disconnect(replica)
    client.networks.get(network).connect(replica, aliases=["postgres-primary", "postgres-replica"])
    platform.container("postgres-pooler").restart(timeout=5)
    procedure_seconds = time.monotonic() - lost_at
    thread.join(timeout=120)
    after = [ok for at, ok in writes if at > 0]
    assert after, "the writer recorded nothing"

    def on_promoted(sql: str) -> str:
        command = ["psql", "-h", "/var/run/postgresql", "-U", "postgres", "-d", DATABASE, "-Atc", sql]
        return str(replica.exec_run(command).output.decode().strip())

    recovery = on_promoted("SELECT pg_is_in_recovery()")
    # Every write acknowledged after the primary died is on the promoted server.
    acknowledged_after = sum(1 for at, ok in writes if ok and at > dead_at)
    stored_after = on_promoted(f"SELECT count(*) FROM failover WHERE at > {dead_at}")
    last_failure = max((i for i, (_, ok) in enumerate(writes) if not ok), default=None)
    tail_ok = writes[last_failure + 1 :] if last_failure is not None else writes
    MEASUREMENTS.append(
        f"PostgreSQL failover by the runbook: commands took {procedure_seconds:.1f} s; "
        f"{sum(1 for _, ok in writes if not ok)} of {len(writes)} writes failed, "
        f"{len(tail_ok)} succeeded in a row at the end; promoted server in recovery: {recovery}; "
        f"{stored_after} of the {acknowledged_after} writes acknowledged after the kill stored on it"
    )
    assert recovery == "f"
    assert stored_after == str(acknowledged_after)
    # Both pools serve again: a request writes through the rw pool and reads back through the ro one
    # (HAProxy has the API servers back once their readiness, which asks PostgreSQL, passes again).
    served_again = None
    while time.monotonic() - dead_at < SERVED_AGAIN_WITHIN_SECONDS:
        try:
            status, item = request(platform.ca, "POST", "/items", timeout=30)
        except OSError as exc:
            status, item = 0, {"error": repr(exc)}
        if status == 201 and item.get("replica", {}).get("row"):
            served_again = time.monotonic() - dead_at
            break
        time.sleep(1)
    MEASUREMENTS.append(f"PostgreSQL failover: POST /items served again {seconds(served_again)} after the kill")
    assert served_again is not None, item
    assert len(tail_ok) >= 25, "writes did not resume through the rw pooler after the failover"
