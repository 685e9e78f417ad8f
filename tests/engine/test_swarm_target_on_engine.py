"""The swarm target applied to a real one-node Swarm and checked end to end (see conftest.py).

The tests run in file order: the read-only ones first, then the update and the kill."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import pytest

from stacks.mock_engine import unwrap
from tests.engine.clients import SteadyLoad, request
from tests.engine.conftest import SWARM_PORTS, SWARM_PREFIX, SwarmPlatform, swarm_render_of
from tests.engine.measurements import MEASUREMENTS, seconds
from tests.engine.swarm_applier import SECRET, SERVICE, service_request

pytestmark = pytest.mark.timeout(900)
CONVERGED_WITHIN_SECONDS = 240
RESCHEDULED_WITHIN_SECONDS = 120
HTTPS = SWARM_PORTS["https"]


def _service(platform: SwarmPlatform, short: str) -> dict[str, Any]:
    api: Any = platform.engine.client.api
    return dict(api.inspect_service(f"{SWARM_PREFIX}-{short}"))


def test_every_service_converges_in_time_and_only_haproxy_publishes(swarm_platform: SwarmPlatform) -> None:
    platform = swarm_platform
    slow = {n: s for n, s in platform.applied.seconds_to_converge.items() if s > CONVERGED_WITHIN_SECONDS}
    assert not slow, f"services slower than {CONVERGED_WITHIN_SECONDS} s to converge: {slow}"
    published = {}
    for name in platform.applied.services:
        assert platform.applier.converged(name), f"{name}: {platform.applier.diagnosis(name)}"
        api: Any = platform.engine.client.api
        ports = api.inspect_service(name)["Spec"]["EndpointSpec"].get("Ports") or []
        if ports:
            published[name] = [(p["PublishedPort"], p["PublishMode"]) for p in ports]
    assert published == {f"{SWARM_PREFIX}-haproxy": [(SWARM_PORTS["http"], "host"), (HTTPS, "host")]}, published
    # Every network is an encrypted overlay no container outside the services may join.
    for network in platform.applied.networks:
        info = platform.engine.client.api.inspect_network(network)
        assert (info["Driver"], info["Options"].get("encrypted"), info["Attachable"]) == ("overlay", "true", False)
    MEASUREMENTS.append(
        f"swarm: {len(platform.applied.services)} services converged; published (host mode): {published}"
    )


def test_a_request_writes_through_the_rw_pooler_runs_on_the_routed_pool_and_reads_from_the_replica(
    swarm_platform: SwarmPlatform,
) -> None:
    platform = swarm_platform
    status, ready = request(platform.ca, "GET", "/health/ready", port=HTTPS)
    assert status == 200 and ready["postgres"] == ready["redis"] == "ok", ready
    started = time.monotonic()
    status, item = request(platform.ca, "POST", "/items", port=HTTPS)
    assert status == 201, item
    assert item["worker"].startswith("ai@"), f"the ai route's task ran on {item['worker']}"
    replica = item["replica"]
    assert replica["in_recovery"], "the read-only pooler answered from a server that is not a replica"
    MEASUREMENTS.append(
        f"swarm: POST /items over TLS: written by {item['api']}, task on {item['worker']}, read back from the "
        f"replica, {time.monotonic() - started:.1f} s"
    )


def test_the_rabbitmq_nodes_form_one_cluster(swarm_platform: SwarmPlatform) -> None:
    node = swarm_platform.tasks("rabbitmq-0")[0]
    result = node.exec_run(["rabbitmq-diagnostics", "-q", "cluster_status", "--formatter", "json"])
    assert result.exit_code == 0, result.output.decode()[-1000:]
    status = json.loads(result.output.decode())
    expected = {f"rabbit@rabbitmq-{i}" for i in range(3)}
    assert set(status["running_nodes"]) == expected, status


def _secret_values(platform: SwarmPlatform) -> dict[str, str]:
    return {
        str(unwrap(r.inputs, mask=False)["name"]): base64.b64decode(unwrap(r.inputs, mask=False)["data"]).decode()
        for r in platform.render.resources
        if r.type == SECRET
    }


def test_secrets_are_readable_only_at_their_mount_paths(swarm_platform: SwarmPlatform) -> None:
    platform = swarm_platform
    values = _secret_values(platform)
    api_task = platform.tasks("api")[0]
    path = "/etc/teknofest/secrets/database-url"
    given = api_task.exec_run(["stat", "-c", "%a %u", path])
    assert given.output.decode().split() == ["400", "10001"], given.output
    readable = api_task.exec_run(["cat", path])
    assert readable.exit_code == 0 and readable.output.decode().startswith("postgresql://"), readable.output[:40]
    other_user = api_task.exec_run(["cat", path], user="65534")
    assert other_user.exit_code != 0, "another user read the secret file"
    # Nowhere else: not in the task's environment, the container's or the service's configuration,
    # nor in a service that is not given it.
    environment = api_task.exec_run(["cat", "/proc/1/environ"]).output.decode(errors="replace")
    inspected = json.dumps(api_task.attrs) + json.dumps(_service(platform, "api")) + environment
    leaked = [name for name, value in values.items() if len(value) > 8 and value in inspected]
    assert not leaked, f"secret values in the configuration or environment: {leaked}"
    redis_task = platform.tasks("redis-0")[0]
    assert redis_task.exec_run(["test", "-e", path]).exit_code != 0, "a service not given the secret has it"
    MEASUREMENTS.append(
        f"swarm: {len(values)} secrets; {path} 0400 uid 10001 in the API task, unreadable to uid 65534, "
        "absent from environment and inspect output"
    )


def _running_env(platform: SwarmPlatform, short: str) -> list[set[str]]:
    return [set(task.attrs["Config"]["Env"]) for task in platform.tasks(short)]


def test_a_rolling_update_of_the_api_under_steady_load_fails_no_request(
    swarm_platform: SwarmPlatform, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The stack re-rendered with a changed API setting (what `pulumi up` sends as an update),
    applied to the service one task at a time, start-first, while requests keep coming."""
    platform = swarm_platform
    name = f"{SWARM_PREFIX}-api"
    changed = swarm_render_of(platform.ca, tmp_path_factory.mktemp("swarm-update"), {"RELEASE": "2"})
    inputs = next(unwrap(r.inputs, mask=False) for r in changed.resources if r.type == SERVICE and r.name == name)
    assert inputs["updateConfig"]["order"] == "start-first" and inputs["updateConfig"]["parallelism"] == 1
    current = _service(platform, "api")
    image = current["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"]
    body = service_request(inputs, image, platform.applied.ids)
    api: Any = platform.engine.client.api
    with SteadyLoad(platform.ca, port=HTTPS) as load:
        time.sleep(3)
        started = time.monotonic()
        response = api._post_json(
            api._url("/services/{0}/update", current["ID"]), data=body, params={"version": current["Version"]["Index"]}
        )
        api._raise_for_status(response)
        deadline = started + 300
        state = None
        while time.monotonic() < deadline:
            state = (_service(platform, "api").get("UpdateStatus") or {}).get("State")
            if state in ("completed", "rollback_completed", "paused", "rollback_paused"):
                break
            time.sleep(1)
        updated_in = time.monotonic() - started
        time.sleep(3)
    assert state == "completed", f"update ended {state}: {_service(platform, 'api').get('UpdateStatus')}"
    assert platform.applier.converged(name)
    envs = _running_env(platform, "api")
    assert len(envs) == 2 and all("RELEASE=2" in env for env in envs), envs
    MEASUREMENTS.append(
        f"swarm: rolling API update (start-first, one at a time) under {load.per_second:.0f} req/s: "
        f"{len(load.failed)} of {len(load.results)} requests failed (slowest {load.slowest:.2f} s), "
        f"update completed in {updated_in:.0f} s"
    )
    assert len(load.results) >= updated_in * load.per_second / 2, len(load.results)
    assert not load.failed, load.failed[:5]


def test_a_killed_task_is_rescheduled(swarm_platform: SwarmPlatform) -> None:
    platform = swarm_platform
    name = f"{SWARM_PREFIX}-redis-sentinel-1"
    victim = platform.tasks("redis-sentinel-1")[0]
    killed_at = time.monotonic()
    victim.kill()
    replaced = None
    while time.monotonic() - killed_at < RESCHEDULED_WITHIN_SECONDS:
        tasks = platform.tasks("redis-sentinel-1")
        if tasks and tasks[0].id != victim.id and platform.applier.converged(name):
            replaced = time.monotonic() - killed_at
            break
        time.sleep(1)
    MEASUREMENTS.append(f"swarm: killed task of redis-sentinel-1 replaced and healthy in {seconds(replaced)}")
    assert replaced is not None, platform.applier.diagnosis(name)
