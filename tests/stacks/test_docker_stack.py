"""The dev stack on the docker target, as `./run synth dev` renders it under the mock engine:
every container, network alias, healthcheck, upload, volume and port binding."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import yaml

from stacks.ordering import effective_dependencies
from stacks.synth import SynthResult, synth

PREFIX = "teknofest-dev"


@pytest.fixture(scope="module")
def dev(rendered: dict[str, SynthResult]) -> SynthResult:
    return rendered["dev"]


@pytest.fixture(scope="module")
def containers(dev: SynthResult) -> dict[str, dict[str, Any]]:
    return {c["name"].removeprefix(PREFIX + "-"): c for c in dev.containers.values()}


@pytest.fixture(scope="module")
def plan(dev: SynthResult) -> list[dict[str, Any]]:
    return list(json.loads((dev.out / "plan.json").read_text()))


def test_the_platform_is_there_container_by_container(containers: dict[str, dict[str, Any]]) -> None:
    assert set(containers) == {
        "haproxy",
        "api-0",
        "api-1",
        "celery-ai",
        "celery-data",
        "celery-default",
        "celery-beat",
        "flower",
        "postgres-primary",
        "postgres-replica-1",
        "postgres-pooler",
        "postgres-backup",
        "postgres-exporter",
        "redis-0",
        "redis-1",
        "redis-sentinel-0",
        "redis-sentinel-1",
        "redis-sentinel-2",
        "redis-master",
        "redis-exporter",
        "rabbitmq",
        "prometheus",
        "alertmanager",
        "grafana",
        "loki",
        "jaeger",
        "otel-collector",
        "celery-exporter",
        "log-shipper",
    }


def test_only_the_load_balancer_and_the_uis_publish_and_only_on_loopback(
    containers: dict[str, dict[str, Any]],
) -> None:
    published = {name: c["ports"] for name, c in containers.items() if c["ports"]}
    assert set(published) == {"haproxy", "flower", "rabbitmq", "prometheus", "alertmanager", "grafana", "jaeger"}
    assert {port["ip"] for ports in published.values() for port in ports} == {"127.0.0.1"}
    assert sorted((p["internal"], p["external"]) for p in published["haproxy"]) == [(8080, 80), (8404, 8404)]


def test_backends_live_on_the_internal_network(
    plan: list[dict[str, Any]], containers: dict[str, dict[str, Any]]
) -> None:
    networks = {e["inputs"]["name"]: e["inputs"] for e in plan if e["type"] == "docker:index/network:Network"}
    assert networks[f"{PREFIX}-backend"]["internal"] is True and networks[f"{PREFIX}-edge"]["internal"] is False
    for name in ("postgres-primary", "postgres-replica-1", "redis-0", "redis-sentinel-0", "api-0", "celery-ai"):
        assert [n["name"] for n in containers[name]["networks"]] == [f"{PREFIX}-backend"], name
    assert [n["name"] for n in containers["haproxy"]["networks"]] == [f"{PREFIX}-backend", f"{PREFIX}-edge"]
    # The API containers share one alias: HAProxy and Prometheus find every one of them through it.
    assert {tuple(containers[f"api-{i}"]["networks"][0]["aliases"]) for i in (0, 1)} == {("api",)}


def test_every_container_is_confined(containers: dict[str, dict[str, Any]]) -> None:
    for name, c in containers.items():
        # The log shipper alone runs as uid 0 (Docker's log files are root's), saying so on itself.
        assert c["user"].split(":")[0] not in ("0", "root") or name == "log-shipper", name
        assert c["readOnlyRootFilesystem"] is True, name
        assert c["capabilities"] == {"drops": ["ALL"]}, name
        assert c["securityOpts"] == ["no-new-privileges:true"], name
        assert c["memoryMB"] > 0 and float(c["cpus"]) > 0, name
        assert c["restart"] == "unless-stopped", name
        if name != "log-shipper":
            # Rotated, and each line names its service (the shipper's label for Loki).
            assert c["logging"] == {
                "driver": "json-file",
                "options": {"labels": "org.teknofest.service", "max-file": "3", "max-size": "10m"},
            }, name
            assert c["labels"]["org.teknofest.service"] == c["name"], name


def test_every_container_is_health_checked_but_the_shell_less_two(containers: dict[str, dict[str, Any]]) -> None:
    unchecked = {name for name, c in containers.items() if not c["healthcheck"]}
    assert unchecked == {"redis-exporter", "otel-collector", "log-shipper"}
    for name in unchecked:
        assert containers[name]["labels"]["org.teknofest.unchecked-because"], name
    assert "root-owned" in containers["log-shipper"]["labels"]["org.teknofest.root-because"]
    assert containers["postgres-primary"]["healthcheck"]["tests"] == ["CMD-SHELL", "pg_isready -q -h 127.0.0.1 -p 5432"]
    assert "inspect ping" in containers["celery-ai"]["healthcheck"]["tests"][1]


def test_checks_that_need_the_secrets_run_through_the_wrapper(containers: dict[str, dict[str, Any]]) -> None:
    """A probe's environment is the container's, without what the wrapper exports: HAProxy's
    config names the secrets' variables and the Celery ping loads the app (the broker's URL)."""
    needing = ["haproxy", "redis-master", "celery-ai", "celery-data", "celery-default"]
    for name in needing:
        test = containers[name]["healthcheck"]["tests"]
        assert test[0] == "CMD-SHELL" and test[1].startswith("/bin/sh /etc/teknofest/secret-env.sh "), name


def test_no_secret_in_an_environment_only_in_owner_only_files(
    containers: dict[str, dict[str, Any]], dev: SynthResult
) -> None:
    for name, c in containers.items():
        for variable in c["env"]:
            assert "mock-" not in variable and "[secret]" not in variable, (name, variable)
        for upload in c["files"]:
            if "/secrets/" in upload["file"]:
                assert upload["secret"] and upload["permissions"] == "0400", (name, upload)
                assert upload["owner"] == c["user"].split(":")[0], (name, upload)
    # The app reads its URLs through the wrapper, which exports them from the files at start.
    wrapper = dev.configs[f"{PREFIX}-api-0/secret-env.sh"]
    assert "DATABASE_URL=$(cat /etc/teknofest/secrets/database-url); export DATABASE_URL" in wrapper
    assert dev.configs[f"{PREFIX}-api-0/secrets/database-url"] == "[secret]"
    # Nothing generated leaks into any written file in plain text.
    for path in dev.out.rglob("*"):
        if path.is_file():
            assert not re.search(r"mock-[a-z0-9-]*password", path.read_text(errors="replace")), path


def test_stateful_services_keep_their_data_in_named_volumes(
    containers: dict[str, dict[str, Any]], plan: list[dict[str, Any]]
) -> None:
    volumes = {e["inputs"]["name"] for e in plan if e["type"] == "docker:index/volume:Volume"}
    for name, path in (
        ("postgres-primary", "/var/lib/postgresql/data"),
        ("postgres-replica-1", "/var/lib/postgresql/data"),
        ("redis-0", "/data"),
        ("rabbitmq", "/var/lib/rabbitmq"),
        ("prometheus", "/prometheus"),
        ("grafana", "/var/lib/grafana"),
        ("loki", "/loki"),
        ("jaeger", "/tmp"),
    ):
        mounted = {v["containerPath"]: v["volumeName"] for v in containers[name]["volumes"]}
        assert mounted[path] in volumes, name
    # pgBackRest's local repository (dev has no object store), shared by the primary and the backup.
    assert {v["volumeName"] for v in containers["postgres-backup"]["volumes"]} >= {
        f"{PREFIX}-postgres-backups",
        f"{PREFIX}-postgres-primary-data",
    }


def test_replication_is_wired_by_name(containers: dict[str, dict[str, Any]], dev: SynthResult) -> None:
    replica = dict(e.split("=", 1) for e in containers["postgres-replica-1"]["env"])
    assert replica == {
        "PGDATA": "/var/lib/postgresql/data/pgdata",
        "ROLE": "replica",
        "PRIMARY_HOST": "postgres-primary",
        "SLOT": "replica_1",
    }
    hba = dev.configs[f"{PREFIX}-postgres-primary/pg_hba.conf"]
    # Replication only from the replica, as Docker's DNS names its address back.
    assert re.search(rf"host\s+replication\s+replicator\s+{PREFIX}-postgres-replica-1\.{PREFIX}-backend\s", hba)
    assert re.search(rf"host\s+teknofest\s+teknofest\s+{PREFIX}-postgres-pooler\.{PREFIX}-backend\s", hba)
    ini = dev.configs[f"{PREFIX}-postgres-pooler/pgbouncer.ini"]
    assert "teknofest = host=postgres-primary" in ini and "teknofest_ro = host=postgres-replica" in ini
    assert "archive_command = 'pgbackrest" in dev.configs[f"{PREFIX}-postgres-primary/postgresql.conf"]
    # Redis and Sentinel announce their aliases; the master endpoint checks every Redis.
    sentinel = dict(e.split("=", 1) for e in containers["redis-sentinel-1"]["env"])
    assert sentinel["ANNOUNCE_HOST"] == "redis-sentinel-1" and sentinel["BOOTSTRAP_MASTER"] == "redis-0:6379"
    master_cfg = dev.configs[f"{PREFIX}-redis-master/redis-master.cfg"]
    assert "server redis-0 redis-0:6379" in master_cfg and "server redis-1 redis-1:6379" in master_cfg


def test_the_load_balancer_finds_the_api_through_dockers_dns(dev: SynthResult) -> None:
    cfg = dev.configs[f"{PREFIX}-haproxy/haproxy.cfg"]
    assert "nameserver ns1 127.0.0.11:53" in cfg
    assert re.search(r"server-template api 2 api:8000", cfg)


def test_containers_wait_for_what_they_need_and_are_replaced_by_delete_first(plan: list[dict[str, Any]]) -> None:
    containers = {e["name"]: e for e in plan if e["type"] == "docker:index/container:Container"}
    assert all(e.get("deleteBeforeReplace") for e in containers.values())
    # What `pulumi up` waits for: a resource's own dependencies and its ancestors' (the SDK sends a
    # child's registration once its parent is registered, which waited for the parent's).
    waits = effective_dependencies(plan)
    replica = waits[f"docker:index/container:Container::{PREFIX}-postgres-replica-1"]
    assert f"docker:index/container:Container::{PREFIX}-postgres-primary" in replica
    # The application starts once what it connects to is healthy (each container is awaited; a
    # dependency on a component is one on every resource in it).
    api = waits[f"docker:index/container:Container::{PREFIX}-api-0"]
    for backing in ("postgres-pooler", "redis-master", "rabbitmq"):
        assert f"docker:index/container:Container::{PREFIX}-{backing}" in api, backing


def test_no_image_entrypoint_runs_our_command_is_run_as_written(containers: dict[str, dict[str, Any]]) -> None:
    """An image's ENTRYPOINT would be handed our command line as arguments (prom/prometheus would
    run `/bin/prometheus /bin/prometheus ...`): every container names its own, and the program to
    run comes first, never an option."""
    for name, c in containers.items():
        argv = [*c["entrypoint"], *c["command"]]
        assert c["entrypoint"], name
        if c["entrypoint"] == ["/bin/sh", "/etc/teknofest/secret-env.sh"]:
            argv = c["command"]
        assert argv and not argv[0].startswith("-"), (name, argv)
    assert containers["prometheus"]["entrypoint"] == ["/bin/prometheus"]
    assert containers["loki"]["entrypoint"] == ["/usr/bin/loki"]
    assert containers["celery-exporter"]["command"][:2] == ["python", "/app/cli.py"]
    assert containers["grafana"]["command"][:2] == ["/usr/share/grafana/bin/grafana", "server"]


def test_outputs_share_the_kubernetes_keys_and_keep_secrets(dev: SynthResult) -> None:
    outputs = dev.outputs
    assert outputs["target"] == "docker"
    assert outputs["endpoints"]["loadBalancer"] == "http://api.teknofest.localhost"
    assert outputs["endpoints"]["haproxyStats"] == "http://127.0.0.1:8404/stats"
    assert outputs["postgres"]["url"] == "[secret]" and outputs["redis"]["url"] == "[secret]"
    assert outputs["monitoringCredentials"]["grafana"]["password"] == "[secret]"
    assert outputs["pools"]["celery-ai"] == {"containers": 1, "gpus": 0}


def test_container_logs_reach_loki(containers: dict[str, dict[str, Any]], dev: SynthResult) -> None:
    shipper = containers["log-shipper"]
    # Its own output is in Docker's "local" format, never among the json-file logs it reads.
    assert shipper["logging"]["driver"] == "local"
    assert {
        "containerPath": "/var/lib/docker/containers",
        "hostPath": "/var/lib/docker/containers",
        "readOnly": True,
    } in shipper["volumes"]
    config = dev.configs[f"{PREFIX}-log-shipper/config.yaml"]
    assert "/var/lib/docker/containers/*/*-json.log" in config
    assert "http://loki:3100/otlp" in config


def test_two_renders_are_byte_identical(dev: SynthResult, tmp_path_factory: pytest.TempPathFactory) -> None:
    """`./run diff` shows only what changed: nothing, when nothing did."""
    again = synth("dev", tmp_path_factory.mktemp("dev-again") / "out")
    for sub in ("containers", "configs"):
        first = {p.relative_to(dev.out): p.read_bytes() for p in (dev.out / sub).rglob("*") if p.is_file()}
        second = {p.relative_to(again.out): p.read_bytes() for p in (again.out / sub).rglob("*") if p.is_file()}
        assert first == second, sub


def test_every_image_a_container_runs_is_pulled_or_built(
    plan: list[dict[str, Any]], containers: dict[str, dict[str, Any]]
) -> None:
    """A container whose image is not on the host fails to be created: each is a RemoteImage (its
    pinned reference stands for the pulled ID here) or an Image built on the host."""
    available = {e["inputs"]["name"] for e in plan if e["type"] == "docker:index/remoteImage:RemoteImage"}
    available |= {e["inputs"]["imageName"] for e in plan if e["type"] == "docker:index/image:Image"}
    missing = {name: c["image"] for name, c in containers.items() if c["image"] not in available}
    assert missing == {}


ELASTIC_STACK = """
config:
  teknofest-platform:environment: dev
  teknofest-platform:namespace: teknofest-dev
  teknofest-platform:target: docker
  teknofest-platform:monitoring:
    access:
      kibana: {host: kibana.teknofest.localhost}
    elasticsearch:
      enabled: true
      nodes: 1
    tracing: {storage: elasticsearch}
"""


@pytest.fixture(scope="module")
def with_elasticsearch(tmp_path_factory: pytest.TempPathFactory) -> SynthResult:
    """dev with Elasticsearch and Kibana on (off in dev itself), Kibana on a host of the edge."""
    folder = tmp_path_factory.mktemp("dev-elasticsearch")
    (folder / "Pulumi.dev.yaml").write_text(ELASTIC_STACK)
    return synth("dev", folder / "out", folder / "Pulumi.dev.yaml")


def test_with_elasticsearch_every_container_rule_still_holds(with_elasticsearch: SynthResult) -> None:
    containers = {c["name"].removeprefix(PREFIX + "-"): c for c in with_elasticsearch.containers.values()}
    plan = list(json.loads((with_elasticsearch.out / "plan.json").read_text()))
    assert {"elasticsearch", "kibana", "elasticsearch-exporter", "elasticsearch-retention"} <= set(containers)
    test_every_container_is_confined(containers)
    test_no_secret_in_an_environment_only_in_owner_only_files(containers, with_elasticsearch)
    test_every_image_a_container_runs_is_pulled_or_built(plan, containers)
    assert all(containers[name]["healthcheck"] for name in ("elasticsearch", "kibana", "elasticsearch-retention"))
    assert [(p["ip"], p["external"]) for p in containers["kibana"]["ports"]] == [("127.0.0.1", 5601)]
    assert containers["elasticsearch"]["ports"] == []


def test_with_elasticsearch_kibana_is_served_on_its_host_and_its_login_is_an_output(
    with_elasticsearch: SynthResult,
) -> None:
    haproxy = with_elasticsearch.configs[f"{PREFIX}-haproxy/haproxy.cfg"]
    backend = haproxy[haproxy.index("\nbackend ui_kibana") :].split("\n\n")[0]
    assert "kibana:5601" in backend and "ssl verify none" in backend
    assert "kibana.teknofest.localhost" in haproxy
    outputs = with_elasticsearch.outputs
    assert outputs["monitoring"]["kibana"] == {"url": "https://127.0.0.1:5601"}
    assert outputs["monitoringCredentials"]["kibana"] == {"username": "platform-admin", "password": "[secret]"}
    assert outputs["images"]["kibana"] == "docker.elastic.co/kibana/kibana:8.19.3"


def test_every_scrape_target_is_a_name_prometheus_resolves(
    containers: dict[str, dict[str, Any]], dev: SynthResult
) -> None:
    """Each static target's host is an alias of a container on a network Prometheus is on (the
    load balancer had none: its scrape never resolved, found on the engine tier)."""
    config = yaml.safe_load(dev.configs[f"{PREFIX}-prometheus/prometheus.yml"])
    prometheus_networks = {n["name"] for n in containers["prometheus"]["networks"]}
    resolvable = {
        alias
        for c in containers.values()
        for n in c["networks"]
        if n["name"] in prometheus_networks
        for alias in n.get("aliases") or []
    }
    hosts = {
        target.rsplit(":", 1)[0]
        for job in config["scrape_configs"]
        for static in job.get("static_configs", [])
        for target in static["targets"]
    }
    assert hosts - {"127.0.0.1"} <= resolvable, sorted(hosts - {"127.0.0.1"} - resolvable)
