"""Container specs as Swarm services: the pure placement and update rules (services.py) and the
pulumi-docker resources under mocks (swarm.py), from literal specs."""

from __future__ import annotations

import base64
from typing import Any

import pulumi
import pytest

from components.common.docker.containers import (
    ContainerSpec,
    Healthcheck,
    NetworkAttachment,
    NetworkSpec,
    PortBinding,
    Upload,
    VolumeMount,
    secret_file,
)
from components.common.docker.resources import DockerLogging
from components.common.docker.services import (
    SwarmPolicy,
    member_group,
    node_labels,
    published_ports,
    service_spec,
    service_specs,
)
from components.common.docker.swarm import (
    NODE_LABEL,
    SwarmContext,
    deploy_services,
    object_name,
    overlay_network,
    tmpfs_size_bytes,
)
from stacks.mock_engine import run_under_mocks, unwrap


def spec(name: str, volumes: tuple[VolumeMount, ...] = (), **extra: Any) -> ContainerSpec:
    return ContainerSpec(
        name=f"shop-{name}",
        image="docker.io/library/thing:1",
        command=("/bin/thing",),
        networks=(NetworkAttachment("net", (name,)),),
        memory_mb=64,
        cpus=0.5,
        healthcheck=Healthcheck.shell("true"),
        user="1000:1000",
        volumes=volumes,
        **extra,
    )


DB_PRIMARY = spec("db-primary", (VolumeMount("shop-db-primary-data", "/data"),))
DB_REPLICA = spec("db-replica-1", (VolumeMount("shop-db-replica-1-data", "/data"),))
DB_BACKUP = spec("db-backup", (VolumeMount("shop-db-primary-data", "/data", read_only=True),))
WEB = spec("web", ports=(PortBinding(80, 8080, "0.0.0.0"), PortBinding(8404, 8404, "127.0.0.1")))
WORKER = spec("worker")
SENTINELS = [spec(f"sentinel-{i}") for i in range(3)]
ALL = [DB_PRIMARY, DB_REPLICA, DB_BACKUP, WEB, WORKER, *SENTINELS]
POLICY = SwarmPolicy(
    "shop",
    replicas=(("shop-web", 3), ("shop-worker", 4)),
    max_replicas_per_node=(("shop-web", 1),),
    gpus=(("shop-worker", 1),),
    placed=tuple(s.name for s in SENTINELS),
)


def by_name(policy: SwarmPolicy = POLICY) -> dict[str, Any]:
    return {s.name: s for s in service_specs(ALL, policy)}


def test_members_of_a_group_live_on_their_labelled_node_and_refuse_each_others() -> None:
    services = by_name()
    assert services["shop-db-primary"].constraints == (
        "node.labels.teknofest.db-primary==true",
        "node.labels.teknofest.db-replica-1!=true",
    )
    assert services["shop-db-replica-1"].constraints == (
        "node.labels.teknofest.db-replica-1==true",
        "node.labels.teknofest.db-primary!=true",
    )
    # The sentinels hold no volume but are placed like members: a quorum on one node is none.
    assert services["shop-sentinel-2"].constraints == (
        "node.labels.teknofest.sentinel-2==true",
        "node.labels.teknofest.sentinel-0!=true",
        "node.labels.teknofest.sentinel-1!=true",
    )
    assert [member_group(m) for m in ("db-primary", "db-replica-1", "redis-0", "prometheus")] == [
        "db",
        "db",
        "redis",
        "prometheus",
    ]


def test_a_container_mounting_anothers_volume_follows_it_and_colocation_drops_the_refusals() -> None:
    assert by_name()["shop-db-backup"].constraints == by_name()["shop-db-primary"].constraints
    assert by_name()["shop-db-backup"].member_label == "teknofest.db-primary"
    colocated = by_name(SwarmPolicy("shop", colocate_members=True))
    assert colocated["shop-db-primary"].constraints == ("node.labels.teknofest.db-primary==true",)


def test_stateful_services_stop_first_stateless_start_first_and_every_update_rolls_back() -> None:
    services = by_name()
    assert {n: s.update.order for n, s in services.items()} == {
        "shop-db-primary": "stop-first",
        "shop-db-replica-1": "stop-first",
        "shop-db-backup": "stop-first",
        # A host-mode port is held by the old task on its node.
        "shop-web": "stop-first",
        "shop-worker": "start-first",
        **{f"shop-sentinel-{i}": "start-first" for i in range(3)},
    }
    assert {(s.update.parallelism, s.update.failure_action) for s in services.values()} == {(1, "rollback")}
    ingress = service_spec(WEB, ALL, SwarmPolicy("shop", publish_mode="ingress"))
    assert ingress.update.order == "start-first" and ingress.endpoint_mode == "vip"


def test_replicas_spread_gpus_and_published_ports_come_from_the_policy() -> None:
    services = by_name()
    assert (services["shop-web"].replicas, services["shop-web"].max_replicas_per_node) == (3, 1)
    worker = services["shop-worker"]
    assert worker.generic_resources == ("NVIDIA-GPU=1",)
    assert worker.constraints == ("node.labels.teknofest.gpu==true",)
    # Loopback has no Swarm equivalent: only the public port is published.
    assert [(p.target, p.published, p.mode) for p in services["shop-web"].ports] == [(80, 8080, "host")]
    assert services["shop-web"].endpoint_mode == "dnsrr"
    assert published_ports((PortBinding(1, 2, "::1"),), "host") == ()
    # With publishers named, no other service publishes, whatever address its port names.
    edge_only = service_spec(WEB, ALL, SwarmPolicy("shop", publishers=("shop-api",)))
    assert edge_only.ports == () and edge_only.endpoint_mode == "dnsrr"
    assert node_labels(list(services.values())) == sorted(
        ["teknofest.db-primary", "teknofest.db-replica-1", "teknofest.gpu"]
        + [f"teknofest.sentinel-{i}" for i in range(3)]
    )


def test_bad_policy_and_a_replicated_volume_are_refused() -> None:
    with pytest.raises(ValueError, match="publish mode 'mesh': one of host, ingress"):
        SwarmPolicy("shop", publish_mode="mesh")
    with pytest.raises(ValueError, match="holds a volume, so it runs one task"):
        service_spec(DB_PRIMARY, ALL, SwarmPolicy("shop", replicas=(("shop-db-primary", 2),)))


def test_object_names_keep_the_whole_digest_within_swarms_limit() -> None:
    name = object_name(
        "teknofest-production-postgres-replica-1", "/etc/teknofest/secrets/pgbouncer-userlist.txt", "ab" * 32
    )
    assert len(name) <= 64 and name.endswith("-" + "ab" * 6) and name.startswith("teknofest-production-postgres")
    assert tmpfs_size_bytes("rw,noexec,size=16m") == 16 * 2**20 and tmpfs_size_bytes("rw") is None


def render(config: str = "port: 80\n") -> dict[str, dict[str, Any]]:
    web = ContainerSpec(
        name="shop-web",
        image="docker.io/library/web:1",
        command=("/bin/web",),
        networks=(NetworkAttachment("net", ("web",)),),
        memory_mb=64,
        cpus=0.5,
        healthcheck=Healthcheck.shell("true"),
        user="1000:1000",
        secret_env=(("TOKEN", "/etc/teknofest/secrets/token"),),
        uploads=(Upload("/etc/teknofest/web.yaml", config), secret_file("token")),
        volumes=(VolumeMount("shop-web-data", "/data"),),
        tmpfs=(("/tmp", "rw,noexec,nosuid,size=16m"),),
    )

    def program() -> None:
        net = overlay_network(NetworkSpec("net", internal=True), pulumi.ResourceOptions())
        ctx = SwarmContext({"net": net}, SwarmPolicy("shop"), {"token": pulumi.Output.secret("t0k3n")}, DockerLogging())
        deploy_services("shop", [web], ctx, pulumi.ResourceOptions())

    result = run_under_mocks(program)
    return {r.name: {**unwrap(r.inputs, mask=False), "_type": r.type} for r in result.resources}


def test_a_service_is_a_swarm_service_with_its_files_as_configs_and_secrets() -> None:
    resources = render()
    net = resources["net"]
    assert (net["driver"], net["options"], net["attachable"], net["internal"]) == (
        "overlay",
        {"encrypted": "true"},
        False,
        True,
    )
    service = resources["shop-web"]
    container = service["taskSpec"]["containerSpec"]
    assert container["commands"] == ["/bin/sh", "/etc/teknofest/secret-env.sh"]
    assert (container["readOnly"], container["capDrops"], container["user"]) == (True, ["ALL"], "1000:1000")
    [secret_ref] = container["secrets"]
    assert (secret_ref["fileName"], secret_ref["fileMode"], secret_ref["fileUid"]) == (
        "/etc/teknofest/secrets/token",
        0o400,
        "1000",
    )
    secret = resources["shop-web-secrets-token"]
    assert base64.b64decode(secret["data"]).decode() == "t0k3n"
    assert "t0k3n" not in secret["name"] and secret["name"] == secret_ref["secretName"]
    configs = {ref["fileName"]: ref for ref in container["configs"]}
    assert set(configs) == {"/etc/teknofest/secret-env.sh", "/etc/teknofest/web.yaml"}
    assert configs["/etc/teknofest/secret-env.sh"]["fileMode"] == 0o555
    web_config = resources["shop-web-web.yaml"]
    assert base64.b64decode(web_config["data"]).decode() == "port: 80\n"
    mounts = {m["type"]: m for m in container["mounts"]}
    assert mounts["volume"]["source"] == "shop-web-data"
    assert mounts["tmpfs"]["tmpfsOptions"] == {"sizeBytes": 16 * 2**20, "mode": 0o1777}
    assert service["taskSpec"]["placement"]["constraints"] == ["node.labels.teknofest.web==true"]
    assert {label["label"]: label["value"] for label in service["labels"]}[NODE_LABEL] == "teknofest.web"
    assert service["updateConfig"]["order"] == "stop-first"
    assert service["rollbackConfig"]["failureAction"] == "pause"
    assert service["taskSpec"]["restartPolicy"]["condition"] == "any"
    assert service["convergeConfig"]["timeout"] == "10m"
    assert service["taskSpec"]["networksAdvanceds"] == [{"id": "net-id", "aliases": ["web"]}]


def test_a_changed_file_is_a_new_object_name_so_the_service_rolls() -> None:
    before, after = render(), render("port: 81\n")
    assert before["shop-web-web.yaml"]["name"] != after["shop-web-web.yaml"]["name"]
    # The unchanged secret keeps its name.
    assert before["shop-web-secrets-token"]["name"] == after["shop-web-secrets-token"]["name"]


def test_a_secret_without_a_value_is_refused() -> None:
    web = ContainerSpec(
        name="shop-web",
        image="web:1",
        command=("/bin/web",),
        networks=(),
        memory_mb=64,
        cpus=0.5,
        healthcheck=None,
        unchecked_because="test",
        user="1000:1000",
        uploads=(secret_file("token"),),
    )

    def program() -> None:
        deploy_services("shop", [web], SwarmContext({}, SwarmPolicy("shop")), pulumi.ResourceOptions())

    with pytest.raises(Exception, match=r"no value for secrets \['token'\]"):
        run_under_mocks(program)
