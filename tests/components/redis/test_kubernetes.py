"""RedisCluster under Pulumi's mock engine, from literal args."""

from __future__ import annotations

import re

import pulumi
import pytest

from components.redis.kubernetes import RedisCluster, RedisClusterArgs
from components.redis.manifests import RedisSpec
from components.redis.settings import Redis
from stacks.mock_engine import SECRET_SIG, SIG_KEY, run_under_mocks, unwrap
from tests.components.conftest import API_CLIENT, NAMESPACE, children_of, kinds, object_names


def redis_spec(name: str = "redis", monitoring: str | None = "monitoring") -> RedisSpec:
    return RedisSpec(
        settings=Redis(replicas=1, sentinels=3, quorum=2),
        namespace=NAMESPACE,
        environment="staging",
        image="docker.io/library/redis:7.4.11",
        exporter_image="docker.io/oliver006/redis_exporter:v1.62.0",
        proxy_image="docker.io/library/haproxy:2.6.22",
        clients=(API_CLIENT,),
        monitoring_namespace=monitoring,
        name=name,
    )


def test_redis_cluster_generates_passwords_and_a_client_secret() -> None:
    render = run_under_mocks(lambda: RedisCluster("redis", RedisClusterArgs(redis_spec())))
    children = children_of(render, "teknofest:platform:RedisCluster")
    counts: dict[str, int] = {}
    for kind in kinds(children):
        counts[kind] = counts.get(kind, 0) + 1
    assert counts == {
        "ConfigMap": 2,
        "Deployment": 1,
        "NetworkPolicy": 4,
        "PodDisruptionBudget": 3,
        # The four ACL users' (app, replica, sentinel, monitor) and the Sentinels' own.
        "RandomPassword": 5,
        "Secret": 2,
        "Service": 5,
        "ServiceAccount": 1,
        "ServiceMonitor": 1,
        "StatefulSet": 2,
    }
    assert len(render.resources) == len(children) + 1, "nothing escapes the component"
    secrets = {unwrap(r.inputs)["metadata"]["name"]: r for r in children if r.type.endswith(":Secret")}
    assert set(secrets) == {"redis-auth", "redis-client"}
    for secret in secrets.values():
        assert secret.inputs["stringData"].get(SIG_KEY) == SECRET_SIG
    assert set(unwrap(secrets["redis-client"].inputs)["stringData"]) == {
        "url",
        "celery-result-backend",
        "username",
        "password",
        "sentinel-password",
    }
    # Each ACL user's own, and the Sentinels' (which clients get) apart from Redis's sentinel user's.
    assert set(unwrap(secrets["redis-auth"].inputs)["stringData"]) == {
        "redis-password",
        "redis-replica-password",
        "redis-sentinel-password",
        "redis-monitor-password",
        "sentinel-password",
    }
    url = unwrap(secrets["redis-client"].inputs, mask=False)["stringData"]["url"]
    assert url == "redis://app:mock-redis-password@redis-master.shop.svc:6379/0"


def test_without_monitoring_there_is_no_service_monitor() -> None:
    render = run_under_mocks(lambda: RedisCluster("redis", RedisClusterArgs(redis_spec(monitoring=None))))
    assert not any(r.type.endswith(":ServiceMonitor") for r in render.resources)


def test_two_instances_coexist_in_one_namespace() -> None:
    def program() -> None:
        RedisCluster("sessions", RedisClusterArgs(redis_spec("sessions")))
        RedisCluster("cache", RedisClusterArgs(redis_spec("cache")))

    render = run_under_mocks(program)
    names = object_names(render)
    assert len(names) == len(set(names)), "no two resources share a type and name"
    cache = {
        unwrap(r.inputs)["metadata"]["name"]
        for r in children_of(render, "teknofest:platform:RedisCluster", "cache")
        if "metadata" in r.inputs
    }
    assert {"cache", "cache-sentinel", "cache-master", "cache-auth", "cache-client", "cache-config"} <= cache
    assert not any(name.startswith("sessions") for name in cache)
    # The Sentinels and the master endpoint of one instance point at that instance's pods only.
    sentinel = next(
        unwrap(r.inputs)
        for r in render.resources
        if r.type.endswith(":StatefulSet") and r.name == "shop/cache-sentinel"
    )
    env = {e["name"]: e.get("value") for e in sentinel["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["BOOTSTRAP_MASTER"] == "cache-0.cache-headless.shop.svc.cluster.local:6379"


def test_a_spec_named_for_another_instance_is_refused() -> None:
    with pytest.raises(ValueError, match=re.escape("args.spec.name is 'redis'; build the spec with name='cache'")):
        # The component checks before registering anything.
        RedisCluster("cache", RedisClusterArgs(redis_spec("redis")), pulumi.ResourceOptions())
