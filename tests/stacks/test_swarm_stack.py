"""The swarm stack (Pulumi.swarm.yaml) as `./run synth swarm` renders it under the mock engine:
every service, secret, config, network and placement, and the outputs the other targets give."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from stacks.mock_engine import PROJECT_ROOT
from stacks.synth import SynthResult, summary, synth

PREFIX = "teknofest-swarm"


@pytest.fixture(scope="module")
def swarm(rendered: dict[str, SynthResult]) -> SynthResult:
    return rendered["swarm"]


@pytest.fixture(scope="module")
def services(swarm: SynthResult) -> dict[str, dict[str, Any]]:
    return {s["name"].removeprefix(PREFIX + "-"): s for s in swarm.services.values()}


@pytest.fixture(scope="module")
def plan(swarm: SynthResult) -> list[dict[str, Any]]:
    return list(json.loads((swarm.out / "plan.json").read_text()))


def test_the_platform_is_there_service_by_service_without_findings(
    swarm: SynthResult, services: dict[str, dict[str, Any]]
) -> None:
    assert set(services) == {
        "haproxy",
        "api",
        "celery-ai",
        "celery-data",
        "celery-default",
        "celery-beat",
        "celery-exporter",
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
        "rabbitmq-0",
        "rabbitmq-1",
        "rabbitmq-2",
        "prometheus",
        "alertmanager",
        "grafana",
        "loki",
        "jaeger",
        "otel-collector",
        "log-shipper",
        "elasticsearch",
        "elasticsearch-exporter",
        "elasticsearch-retention",
        "kibana",
    }
    assert swarm.findings == []


def test_the_outputs_have_the_other_targets_keys(rendered: dict[str, SynthResult], swarm: SynthResult) -> None:
    outputs, docker = swarm.outputs, rendered["dev"].outputs
    assert outputs["target"] == "swarm"
    assert set(outputs) == set(docker)
    for key in ("endpoints", "postgres", "redis", "rabbitmq", "haproxyStatsCredentials"):
        assert set(outputs[key]) == set(docker[key]), key
    # Nothing is published on loopback: the UIs are HAProxy's host routes where a host is set.
    assert outputs["endpoints"]["haproxyStats"] is None and outputs["endpoints"]["rabbitmqManagement"] is None
    assert outputs["monitoring"]["grafana"] == {"url": "https://grafana.egitim-eylemci.example.org"}
    assert outputs["monitoring"]["prometheus"] == {"url": None}
    assert outputs["pools"]["api"] == {"containers": 6}
    assert outputs["pools"]["celery-ai"] == {"containers": 2, "gpus": 1}


def test_members_are_placed_by_label_and_never_share_a_node_with_their_group(
    services: dict[str, dict[str, Any]],
) -> None:
    def constraints(name: str) -> list[str]:
        return list(services[name]["placement"].get("constraints", []))

    label = "node.labels.teknofest"
    assert constraints("postgres-primary") == [f"{label}.postgres-primary==true", f"{label}.postgres-replica-1!=true"]
    assert constraints("postgres-replica-1") == [f"{label}.postgres-replica-1==true", f"{label}.postgres-primary!=true"]
    # The backup loop reads the primary's data directory: it lives where the primary does.
    assert constraints("postgres-backup") == constraints("postgres-primary")
    assert constraints("redis-0") == [f"{label}.redis-0==true", f"{label}.redis-1!=true"]
    assert constraints("rabbitmq-1") == [
        f"{label}.rabbitmq-1==true",
        f"{label}.rabbitmq-0!=true",
        f"{label}.rabbitmq-2!=true",
    ]
    for i in range(3):
        others = [f"{label}.redis-sentinel-{j}!=true" for j in range(3) if j != i]
        assert constraints(f"redis-sentinel-{i}") == [f"{label}.redis-sentinel-{i}==true", *others]
    assert constraints("api") == constraints("celery-default") == []
    # The log shipper reads each node's own logs: one task on every node.
    assert services["log-shipper"]["mode"] == "global"


def test_the_ai_pool_runs_on_gpu_nodes_and_reserves_its_gpus(services: dict[str, dict[str, Any]]) -> None:
    ai = services["celery-ai"]
    assert ai["placement"]["constraints"] == ["node.labels.teknofest.gpu==true"]
    assert ai["resources"]["reservation"]["genericResources"] == {"discreteResourcesSpecs": ["NVIDIA-GPU=1"]}
    assert "genericResources" not in services["celery-default"]["resources"]["reservation"]


def test_replicas_spread_and_updates_follow_the_issue(services: dict[str, dict[str, Any]]) -> None:
    assert services["api"]["mode"] == {"replicas": 6}
    assert services["api"]["placement"]["maxReplicas"] == 3
    assert (services["haproxy"]["mode"], services["haproxy"]["placement"]["maxReplicas"]) == ({"replicas": 2}, 1)
    orders = {name: s["updateConfig"]["order"] for name, s in services.items()}
    stop_first = {name for name, order in orders.items() if order == "stop-first"}
    stateful = {name for name, s in services.items() if any(m["type"] == "volume" for m in s["mounts"])}
    # Stateful ones, the host-published HAProxy and the global shipper stop first; the rest start first.
    assert stop_first == stateful | {"haproxy", "log-shipper"}
    for s in services.values():
        assert (s["updateConfig"]["parallelism"], s["updateConfig"]["failureAction"]) == (1, "rollback")
        assert s["rollbackConfig"]["order"] == s["updateConfig"]["order"]
        assert s["restartPolicy"]["condition"] == "any"
        assert s["resources"]["limits"]["memoryBytes"] > 0 and s["resources"]["reservation"]["memoryBytes"] > 0
        assert s["logging"]["options"]["max-size"] == "10m"


def test_only_haproxy_publishes_in_host_mode_and_finds_every_api_task(
    swarm: SynthResult, services: dict[str, dict[str, Any]]
) -> None:
    published = {name: s["endpoint"].get("ports") for name, s in services.items() if s["endpoint"].get("ports")}
    assert published == {
        "haproxy": [
            {"protocol": "tcp", "publishMode": "host", "publishedPort": 80, "targetPort": 8080},
            {"protocol": "tcp", "publishMode": "host", "publishedPort": 443, "targetPort": 8443},
        ]
    }
    assert {s["endpoint"]["mode"] for s in services.values()} == {"dnsrr"}
    assert f"server-template api 12 tasks.{PREFIX}-api:8000" in swarm.configs[f"{PREFIX}-haproxy/haproxy.cfg"]


def test_networks_are_encrypted_overlays_and_files_are_configs_and_secrets(
    plan: list[dict[str, Any]], services: dict[str, dict[str, Any]]
) -> None:
    networks = [e["inputs"] for e in plan if e["type"] == "docker:index/network:Network"]
    assert {(n["name"], n["driver"], n["internal"], n["attachable"], n["options"]["encrypted"]) for n in networks} == {
        (f"{PREFIX}-backend", "overlay", True, False, "true"),
        (f"{PREFIX}-edge", "overlay", False, False, "true"),
    }
    secrets = {e["inputs"]["name"] for e in plan if e["type"] == "docker:index/secret:Secret"}
    configs = {e["inputs"]["name"] for e in plan if e["type"] == "docker:index/serviceConfig:ServiceConfig"}
    for s in services.values():
        assert {ref["secretName"] for ref in s["secrets"]} <= secrets
        assert {ref["configName"] for ref in s["configs"]} <= configs
        assert all(ref["fileMode"] == "0400" for ref in s["secrets"])
        assert not any("/secrets/" in ref["fileName"] for ref in s["configs"])
    assert len(secrets) == len({e["name"] for e in plan if e["type"] == "docker:index/secret:Secret"})


def test_the_summary_lists_the_node_labels_to_set(swarm: SynthResult) -> None:
    text = summary(swarm, "swarm")
    assert "node labels to set" in text
    assert "  teknofest.postgres-primary" in text and "  teknofest.gpu" in text
    assert swarm.node_labels == sorted(swarm.node_labels) and "teknofest.rabbitmq-2" in swarm.node_labels


def test_ingress_mode_by_setting_publishes_through_the_mesh(tmp_path: Path) -> None:
    document = yaml.safe_load((PROJECT_ROOT / "Pulumi.swarm.yaml").read_text())
    document["config"]["teknofest-platform:swarm"]["publishMode"] = "ingress"
    stack_file = tmp_path / "Pulumi.swarm.yaml"
    stack_file.write_text(yaml.safe_dump(document))
    result = synth("swarm", tmp_path / "out", stack_file)
    haproxy = result.services[f"{PREFIX}-haproxy.yaml"]
    assert {p["publishMode"] for p in haproxy["endpoint"]["ports"]} == {"ingress"}
    # The mesh needs a virtual IP; the update can start first (no port held on a node).
    assert (haproxy["endpoint"]["mode"], haproxy["updateConfig"]["order"]) == ("vip", "start-first")
    assert result.findings == []
