"""RedisServers (the docker target) under Pulumi's mock engine, from literal args."""

from __future__ import annotations

import pulumi_docker as docker

from components.redis.containers import RedisHostArgs, redis_containers
from components.redis.docker import RedisServers, RedisServersArgs
from components.redis.settings import Redis
from stacks.mock_engine import run_under_mocks, unwrap
from tests.components.conftest import object_names


def host(name: str = "redis") -> RedisHostArgs:
    return RedisHostArgs(
        Redis(replicas=1),
        "docker.io/library/redis:7.4.11",
        "docker.io/library/haproxy:2.6.22",
        "net",
        "shop",
        None,
        name,
    )


def test_sentinels_announce_their_aliases_and_read_passwords_from_files() -> None:
    specs = {s.name: s for s in redis_containers(host())}
    assert set(specs) == {
        "shop-redis-0",
        "shop-redis-1",
        "shop-redis-sentinel-0",
        "shop-redis-sentinel-1",
        "shop-redis-sentinel-2",
        "shop-redis-master",
    }
    sentinel = specs["shop-redis-sentinel-2"]
    env = dict(sentinel.env)
    assert env["ANNOUNCE_HOST"] == "redis-sentinel-2"
    assert env["SENTINEL_ADDRESSES"] == "redis-sentinel-0:26379 redis-sentinel-1:26379 redis-sentinel-2:26379"
    assert dict(sentinel.secret_env)["SENTINEL_PASSWORD"] == "/etc/teknofest/secrets/redis-sentinels-password"
    assert all(u.mode == 0o400 for u in sentinel.uploads if u.is_secret)


def test_two_instances_coexist_and_the_url_is_secret() -> None:
    def program() -> None:
        net = docker.Network("net", name="net")
        for name in ("cache", "sessions"):
            RedisServers(name, RedisServersArgs(host(name), {"net": net}))

    render = run_under_mocks(program)
    names = object_names(render)
    assert len(names) == len(set(names))
    containers = {unwrap(r.inputs)["name"] for r in render.resources if r.type == "docker:index/container:Container"}
    assert {"shop-cache-master", "shop-sessions-master", "shop-sessions-sentinel-0"} <= containers
