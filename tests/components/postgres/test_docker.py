"""PostgresServers (the docker target) under Pulumi's mock engine, from literal args."""

from __future__ import annotations

import pulumi_docker as docker

from components.postgres.containers import PostgresHostArgs, postgres_containers
from components.postgres.docker import PostgresServers, PostgresServersArgs
from components.postgres.settings import Backups, Postgres, S3Credentials
from stacks.mock_engine import SECRET_SIG, SIG_KEY, run_under_mocks, unwrap
from tests.components.conftest import object_names

BASE = "docker.io/library/postgres:16.10-bookworm@sha256:" + "3" * 64


def host(name: str = "postgres", backups: Backups | None = None) -> PostgresHostArgs:
    return PostgresHostArgs(Postgres(instances=2), backups or Backups(), BASE, "shop-backend", "shop", None, name)


def program(*hosts: PostgresHostArgs) -> None:
    net = docker.Network("shop-backend", name="shop-backend", internal=True)
    for args in hosts:
        PostgresServers(args.name, PostgresServersArgs(args, {"shop-backend": net}))


def test_servers_build_their_image_and_keep_passwords_secret() -> None:
    render = run_under_mocks(lambda: program(host()))
    image = next(unwrap(r.inputs) for r in render.resources if r.type == "docker:index/image:Image")
    assert image["imageName"] == "teknofest-platform/postgres:16.10-bookworm-tools"
    assert image["build"]["args"] == {"BASE": BASE} and image["skipPush"] is True
    containers = {r.name: r for r in render.resources if r.type == "docker:index/container:Container"}
    running = {"shop-postgres-primary", "shop-postgres-replica-1", "shop-postgres-pooler", "shop-postgres-backup"}
    # Each running container's files come in a container that carries them (never started).
    assert set(containers) == running | {f"{name}-files" for name in running}
    assert all("uploads" not in containers[name].inputs for name in running)
    # Any upload holding a password makes the list a Pulumi secret: encrypted in state, hidden in diffs.
    assert containers["shop-postgres-primary-files"].inputs["uploads"].get(SIG_KEY) == SECRET_SIG
    passwords = [r.name for r in render.resources if r.type.endswith("RandomPassword")]
    assert len(passwords) == 5  # four roles, and the key of the files digests


def test_two_instances_coexist_on_one_host() -> None:
    render = run_under_mocks(lambda: program(host("orders"), host("reports")))
    names = object_names(render)
    assert len(names) == len(set(names))
    volumes = {unwrap(r.inputs)["name"] for r in render.resources if r.type == "docker:index/volume:Volume"}
    assert {"shop-orders-primary-data", "shop-reports-primary-data", "shop-reports-backups"} <= volumes


def test_an_object_store_with_keys_makes_the_backup_config_a_secret() -> None:
    keys = S3Credentials(access_key_id="AKIAEXAMPLE", secret_access_key="very-secret")
    backups = Backups(destination_path="s3://backups/shop", credentials=keys)
    (primary, *_) = postgres_containers(host(backups=backups))
    conf = next(u for u in primary.uploads if u.path.endswith("pgbackrest.conf"))
    assert conf.is_secret and conf.mode == 0o400
    assert "repo1-type=s3" in conf.content and "repo1-s3-bucket=backups" in conf.content
    assert "very-secret" not in conf.content
    # No repository volume with an object store.
    assert not any(v.volume.endswith("-backups") for v in primary.volumes)


def test_servers_say_where_their_data_is_and_own_their_socket_directory() -> None:
    # The official image's PGDATA is the volume's root; pgBackRest and the runbooks expect pgdata/.
    servers = {spec.name: spec for spec in postgres_containers(host())}
    for name in ("shop-postgres-primary", "shop-postgres-replica-1"):
        assert dict(servers[name].env)["PGDATA"] == "/var/lib/postgresql/data/pgdata"
    # A tmpfs is root's unless told: the replica's server could not create its lock file.
    replica_tmpfs = dict(servers["shop-postgres-replica-1"].tmpfs)
    assert "uid=999,gid=999" in replica_tmpfs["/var/run/postgresql"]
