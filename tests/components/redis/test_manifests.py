"""Redis renderers and manifests from literal specs, read as text and data (tests/integration runs
them for real)."""

from __future__ import annotations

import dataclasses
from typing import Any

from components.common.kubernetes.capacity import requested_totals
from components.redis.manifests import RedisSpec, config_files, master_proxy_config, redis_manifests
from components.redis.settings import Redis

API = ("api", {"app.kubernetes.io/name": "api", "app.kubernetes.io/part-of": "teknofest-platform"})
# A production-like instance: two replicas, three Sentinels, hard anti-affinity.
PRODUCTION = RedisSpec(
    settings=Redis(replicas=2, sentinels=3, quorum=2),
    namespace="teknofest-production",
    environment="production",
    image="docker.io/library/redis:7.4.11",
    exporter_image="docker.io/oliver006/redis_exporter:v1.62.0",
    proxy_image="docker.io/library/haproxy:2.6.22",
    clients=(API,),
    monitoring_namespace="monitoring",
)
STAGING = dataclasses.replace(PRODUCTION, settings=Redis(replicas=1), environment="staging")


def by_name(redis: RedisSpec = PRODUCTION) -> dict[tuple[str, str], dict[str, Any]]:
    return {(m["kind"], m["metadata"]["name"]): m for m in redis_manifests(redis)}


def test_redis_conf_bounds_loss_and_carries_no_password() -> None:
    conf = config_files(PRODUCTION)["redis.conf"].splitlines()
    for line in (
        "appendonly yes",
        "appendfsync everysec",
        "min-replicas-to-write 1",
        "min-replicas-max-lag 10",
        "maxmemory 1073741824",
        "maxmemory-policy allkeys-lru",
        "include /run/redis/runtime.conf",
    ):
        assert line in conf
    assert conf[-1] == "include /run/redis/runtime.conf", "the runtime file must come last to win"
    assert not any("requirepass" in line or "masterauth" in line for line in conf)


def test_sentinel_conf_uses_settings_and_stable_names() -> None:
    conf = config_files(PRODUCTION)["sentinel.conf"].splitlines()
    assert "sentinel monitor teknofest @MASTER_HOST@ @MASTER_PORT@ 2" in conf
    assert "sentinel down-after-milliseconds teknofest 5000" in conf
    assert "sentinel failover-timeout teknofest 60000" in conf
    assert "sentinel parallel-syncs teknofest 1" in conf
    assert "sentinel resolve-hostnames yes" in conf and "sentinel announce-hostnames yes" in conf


def test_start_scripts_ask_the_sentinels_first() -> None:
    files = config_files(PRODUCTION)
    for script in (files["redis-start.sh"], files["sentinel-start.sh"]):
        assert script.startswith("#!/bin/sh\n")
        assert "sentinel get-master-addr-by-name teknofest" in script
        assert "umask 077" in script  # the runtime file holds passwords
    assert 'echo "replicaof $master"' in files["redis-start.sh"]


def test_three_sentinels_and_a_master_with_two_replicas_on_separate_nodes() -> None:
    objects = by_name()
    redis = objects[("StatefulSet", "redis")]["spec"]
    sentinel = objects[("StatefulSet", "redis-sentinel")]["spec"]
    assert redis["replicas"] == 3 and sentinel["replicas"] == 3
    for sts in (redis, sentinel):
        anti = sts["template"]["spec"]["affinity"]["podAntiAffinity"]
        assert "requiredDuringSchedulingIgnoredDuringExecution" in anti
    assert redis["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"] == "10Gi"
    containers = {c["name"]: c for c in redis["template"]["spec"]["containers"]}
    assert set(containers) == {"redis", "exporter"}
    env = {e["name"]: e for e in containers["redis"]["env"]}
    assert env["REDIS_PASSWORD"]["valueFrom"]["secretKeyRef"] == {"name": "redis-auth", "key": "redis-password"}
    assert env["ANNOUNCE_HOST"]["value"] == "$(POD_NAME).redis-headless.teknofest-production.svc.cluster.local"
    assert env["BOOTSTRAP_MASTER"]["value"] == "redis-0.redis-headless.teknofest-production.svc.cluster.local:6379"
    assert len(env["SENTINEL_ADDRESSES"]["value"].split()) == 3
    # Guaranteed QoS in production: requests equal limits.
    assert containers["redis"]["resources"]["requests"] == containers["redis"]["resources"]["limits"]


def test_staging_keeps_one_replica_and_prefers_spreading() -> None:
    objects = by_name(STAGING)
    redis = objects[("StatefulSet", "redis")]["spec"]
    assert redis["replicas"] == 2
    assert "preferredDuringSchedulingIgnoredDuringExecution" in redis["template"]["spec"]["affinity"]["podAntiAffinity"]


def test_redis_master_endpoint_checks_every_pod_for_the_master_role() -> None:
    cfg = master_proxy_config(PRODUCTION).splitlines()
    servers = [line.strip() for line in cfg if line.strip().startswith("server ")]
    assert servers == [
        f"server redis-{i} redis-{i}.redis-headless.teknofest-production.svc.cluster.local:6379" for i in range(3)
    ]
    assert "    tcp-check expect string role:master" in cfg
    assert any("on-marked-down shutdown-sessions" in line for line in cfg)
    # As the monitor ACL user: it may ping and read INFO, nothing else.
    assert '    tcp-check send "AUTH monitor ${REDIS_MONITOR_PASSWORD}\\r\\n"' in cfg


def test_only_clients_sentinels_and_replicas_reach_redis() -> None:
    objects = by_name()
    proxy_from = objects[("NetworkPolicy", "redis-master")]["spec"]["ingress"][0]["from"]
    assert proxy_from == [{"podSelector": {"matchLabels": API[1]}}]
    redis_from = objects[("NetworkPolicy", "redis")]["spec"]["ingress"][0]["from"]
    assert {p["podSelector"]["matchLabels"]["app.kubernetes.io/name"] for p in redis_from} == {
        "redis",
        "redis-sentinel",
        "redis-master",
    }
    api_egress = objects[("NetworkPolicy", "api-to-redis")]["spec"]
    assert api_egress["podSelector"] == {"matchLabels": API[1]}
    assert [rule["ports"][0]["port"] for rule in api_egress["egress"]] == [6379, 26379]


def test_requested_totals_count_every_container_and_gpus() -> None:
    def workload(name: str, replicas: int | None, cpu: str, memory: str, gpus: int = 0) -> dict[str, Any]:
        limits = {"nvidia.com/gpu": gpus} if gpus else {}
        container = {"name": name, "resources": {"requests": {"cpu": cpu, "memory": memory}, "limits": limits}}
        spec: dict[str, Any] = {"template": {"spec": {"containers": [container, container]}}}
        if replicas is not None:
            spec["replicas"] = replicas
        return {"kind": "Deployment", "metadata": {"name": name}, "spec": spec}

    manifests = [
        workload("a", 2, "250m", "512Mi"),
        workload("b", None, "1", "1Gi", gpus=1),
        {"kind": "Service", "metadata": {"name": "s"}, "spec": {}},
    ]
    assert requested_totals(manifests, {"b": 3}) == {"cpuCores": 7.0, "memoryGiB": 8.0, "gpus": 6}
