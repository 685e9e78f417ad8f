"""The docker target's PostgreSQL, run by Debian's PostgreSQL 15, PgBouncer and pgBackRest from
the rendered files: the start-up script initialises a primary and clones a streaming replica, a
row written on the primary is read on the replica, PgBouncer serves rw and ro, and pgBackRest
takes a base backup and restores to a point in time (the row before it there, the row after it
not). Only paths, ports and host names (localhost) are chosen by the test."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest

from components.postgres.server_config import (
    MONITOR_USER,
    RO_SUFFIX,
    BackupInputs,
    PoolerInputs,
    ServerInputs,
    render_backup_loop,
    render_pg_hba,
    render_pgbackrest_conf,
    render_pooler_ini,
    render_pooler_userlist,
    render_postgres_start,
    render_postgresql_conf,
)
from components.postgres.settings import Backups, Postgres
from tests.integration.conftest import daemon, free_port, require_binary, wait_for

pytestmark = pytest.mark.integration

PG_BIN = Path("/usr/lib/postgresql/15/bin")
SECRETS = {
    "postgres-superuser-password": "superuser-test-password",
    "postgres-app-password": "owner-test-password",
    "postgres-replication-password": "replication-test-password",
    "postgres-monitor-password": "monitor-test-password",
}
# Debian's PgBouncer is 1.18; max_prepared_statements came in 1.21 (the image's PGDG build has it).
NOT_IN_PGBOUNCER_1_18 = "max_prepared_statements"


@dataclass
class Cluster:
    work: Path
    settings: Postgres
    primary_port: int
    replica_port: int
    backup_inputs: BackupInputs

    def sql(self, port: int, sql: str, user: str | None = None, database: str | None = None) -> str:
        user = user or self.settings.owner
        password = {
            self.settings.owner: SECRETS["postgres-app-password"],
            MONITOR_USER: SECRETS["postgres-monitor-password"],
        }
        result = subprocess.run(
            [
                str(PG_BIN / "psql"),
                "-h",
                "localhost",
                "-p",
                str(port),
                "-U",
                user,
                "-d",
                database or self.settings.database,
                "-v",
                "ON_ERROR_STOP=1",
                "-Atc",
                sql,
            ],
            env={**os.environ, "PGPASSWORD": password[user], "PGCONNECT_TIMEOUT": "5"},
            capture_output=True,
            text=True,
            timeout=60,
        )
        if result.returncode != 0:
            raise AssertionError(f"psql on {port} as {user}: {result.stderr}")
        return result.stdout.strip()

    def ready(self, port: int) -> bool:
        probe = [str(PG_BIN / "pg_isready"), "-h", "127.0.0.1", "-p", str(port)]
        return subprocess.run(probe, capture_output=True, timeout=10).returncode == 0


def _owned_by_postgres(path: Path, mode: int = 0o700) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, mode)
    shutil.chown(path, "postgres", "postgres")
    return path


def _write(path: Path, text: str, mode: int = 0o444) -> None:
    path.write_text(text)
    os.chmod(path, mode)
    shutil.chown(path, "postgres", "postgres")


def _server_env(node: Path, role: str, port: int, **extra: str) -> dict[str, str]:
    return {
        "PATH": f"{PG_BIN}:/usr/bin:/bin",
        "HOME": str(node),
        "ROLE": role,
        "PGDATA": str(node / "data"),
        "PGPORT": str(port),
        "SOCKET_DIR": str(node / "sockets"),
        "CONFIG_DIR": str(node / "config"),
        "SECRETS_DIR": str(node / "secrets"),
        **extra,
    }


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    for binary in ("initdb", "postgres", "pg_basebackup", "pg_ctl", "psql", "pg_isready"):
        if not (PG_BIN / binary).exists():
            require_binary(f"postgresql-15 ({binary})")
    require_binary("pgbackrest")
    pwd.getpwnam("postgres")
    # The daemons run as "postgres" (initdb refuses root): a folder it owns, outside root's tmp.
    work = Path(tempfile.mkdtemp(prefix="teknofest-pgstream-", dir="/tmp"))
    _owned_by_postgres(work, 0o755)
    settings = Postgres(instances=2, max_connections=100, default_pool_size=10, pooler_instances=2)
    primary_port, replica_port = free_port(), free_port()
    backup_inputs = BackupInputs(
        Backups(retention="7d", schedule="0 0 2 * * *"),
        data_dir=str(work / "primary" / "data"),
        socket_dir=str(work / "primary" / "sockets"),
        port=primary_port,
        local_repository=str(work / "repo"),
        scratch_dir=str(work / "scratch"),
    )
    _owned_by_postgres(work / "repo")
    _owned_by_postgres(work / "scratch")
    _write(work / "pgbackrest.conf", render_pgbackrest_conf(backup_inputs))
    for node in ("primary", "replica"):
        _owned_by_postgres(work / node, 0o755)
        for sub in ("config", "secrets", "sockets"):
            _owned_by_postgres(work / node / sub)
        server = ServerInputs(
            settings,
            replica_hosts=("localhost",),
            client_hosts=("localhost",),
            monitor_hosts=("localhost",),
            port=primary_port if node == "primary" else replica_port,
            listen_addresses="127.0.0.1",
            backup_config=str(work / "pgbackrest.conf"),
        )
        _write(work / node / "config" / "postgresql.conf", render_postgresql_conf(server))
        _write(work / node / "config" / "pg_hba.conf", render_pg_hba(server))
        _write(work / node / "config" / "postgres-start.sh", render_postgres_start(server), 0o555)
        for name, value in SECRETS.items():
            _write(work / node / "secrets" / name, value, 0o400)
    with ExitStack() as stack:
        start = str(work / "primary" / "config" / "postgres-start.sh")
        primary_env = _server_env(work / "primary", "primary", primary_port)
        primary = stack.enter_context(daemon(["sh", start], work / "primary.log", primary_env, 30, work, "postgres"))
        found = Cluster(work, settings, primary_port, replica_port, backup_inputs)
        _wait(found, primary_port, work / "primary.log", 90, primary)
        replica_env = _server_env(
            work / "replica",
            "replica",
            replica_port,
            PRIMARY_HOST="localhost",
            PRIMARY_PORT=str(primary_port),
            SLOT="replica_1",
        )
        start = str(work / "replica" / "config" / "postgres-start.sh")
        replica = stack.enter_context(daemon(["sh", start], work / "replica.log", replica_env, 30, work, "postgres"))
        _wait(found, replica_port, work / "replica.log", 90, replica)
        try:
            yield found
        finally:
            stack.close()
            shutil.rmtree(work, ignore_errors=True)


def _wait(cluster: Cluster, port: int, log: Path, seconds: float, process: subprocess.Popen[bytes]) -> None:
    def ready() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"exited with {process.returncode}: " + log.read_text(errors="replace")[-3000:])
        return cluster.ready(port)

    try:
        wait_for(ready, seconds, f"postgres on {port}")
    except AssertionError:
        raise AssertionError(log.read_text(errors="replace")[-3000:]) from None


def test_a_row_written_on_the_primary_is_read_on_the_replica(cluster: Cluster) -> None:
    primary, replica = cluster.primary_port, cluster.replica_port
    cluster.sql(primary, "CREATE TABLE IF NOT EXISTS lessons (id int PRIMARY KEY, title text)")
    cluster.sql(primary, "INSERT INTO lessons VALUES (1, 'Kesirler') ON CONFLICT DO NOTHING")
    # Until the replica has replayed the CREATE TABLE, the query fails ("relation does not exist").
    query = "SELECT title FROM lessons WHERE id = 1"
    wait_for(lambda: _quiet(lambda: cluster.sql(replica, query)) == "Kesirler", 30, "replication")
    assert cluster.sql(replica, "SELECT pg_is_in_recovery()") == "t"
    # The primary reports the standby streaming through its slot, with its lag.
    state = cluster.sql(
        primary,
        "SELECT state, sync_state, replay_lag IS NOT NULL OR replay_lsn = sent_lsn FROM pg_stat_replication",
        MONITOR_USER,
    )
    assert state == "streaming|async|t"
    slot = cluster.sql(primary, "SELECT slot_name, active FROM pg_replication_slots", MONITOR_USER)
    assert slot == "replica_1|t"
    lag = cluster.sql(
        replica, "SELECT COALESCE(EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()), 0) < 60", MONITOR_USER
    )
    assert lag == "t"
    # The replica refuses writes.
    with pytest.raises(AssertionError, match="read-only transaction"):
        cluster.sql(replica, "INSERT INTO lessons VALUES (2, 'no')")


def test_pg_hba_refuses_what_it_does_not_name(cluster: Cluster) -> None:
    # The monitor reads statistics, never the application's tables.
    with pytest.raises(AssertionError, match="permission denied"):
        cluster.sql(cluster.primary_port, "SELECT * FROM lessons", MONITOR_USER)
    # Replication as the owner is refused (only the replication user, only from the replicas).
    result = subprocess.run(
        [
            str(PG_BIN / "pg_basebackup"),
            "-h",
            "localhost",
            "-p",
            str(cluster.primary_port),
            "-U",
            cluster.settings.owner,
            "-D",
            str(cluster.work / "never"),
            "-X",
            "none",
        ],
        env={**os.environ, "PGPASSWORD": SECRETS["postgres-app-password"]},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0 and "replication" in result.stderr


def test_pgbouncer_serves_the_primary_and_the_replica(cluster: Cluster) -> None:
    require_binary("pgbouncer")
    port = free_port()
    pooler = PoolerInputs(
        cluster.settings,
        primary_host="localhost",
        replica_host="localhost",
        server_port=cluster.primary_port,
        replica_port=cluster.replica_port,
        listen_address="127.0.0.1",
        listen_port=port,
        auth_file=str(cluster.work / "userlist.txt"),
        scratch_dir=str(cluster.work / "scratch"),
    )
    ini = render_pooler_ini(pooler)
    assert f"{NOT_IN_PGBOUNCER_1_18} = " in ini
    _write(
        cluster.work / "pgbouncer.ini",
        "\n".join(line for line in ini.splitlines() if not line.startswith(NOT_IN_PGBOUNCER_1_18)),
    )
    userlist = render_pooler_userlist(cluster.settings.owner)
    for name, value in SECRETS.items():
        userlist = userlist.replace(f"@@{name}@@", value)
    _write(cluster.work / "userlist.txt", userlist, 0o400)
    with daemon(["pgbouncer", str(cluster.work / "pgbouncer.ini")], cluster.work / "pgbouncer.log", user="postgres"):
        db = cluster.settings.database
        wait_for(lambda: _quiet(lambda: cluster.sql(port, "SELECT 1")) == "1", 20, "pgbouncer")
        assert cluster.sql(port, "SELECT pg_is_in_recovery()") == "f"
        assert cluster.sql(port, "SELECT pg_is_in_recovery()", database=f"{db}{RO_SUFFIX}") == "t"
        assert cluster.sql(port, "SELECT title FROM lessons WHERE id = 1", database=f"{db}{RO_SUFFIX}") == "Kesirler"


def _quiet(query: object) -> str:
    try:
        return str(query())  # type: ignore[operator]
    except AssertionError:
        return ""


def test_pgbackrest_restores_to_a_point_in_time(cluster: Cluster) -> None:
    inputs = cluster.backup_inputs
    config = str(cluster.work / "pgbackrest.conf")
    loop = cluster.work / "backup-loop.sh"
    _write(loop, render_backup_loop(inputs, config), 0o555)
    env = {"PATH": f"{PG_BIN}:/usr/bin:/bin", "HOME": str(cluster.work)}
    with daemon(["sh", str(loop)], cluster.work / "backup.log", env, 10, cluster.work, "postgres"):
        try:
            wait_for(lambda: (cluster.work / "scratch" / "ready").exists(), 180, "stanza and first full backup")
        except AssertionError:
            raise AssertionError((cluster.work / "backup.log").read_text(errors="replace")[-3000:]) from None
    primary = cluster.primary_port
    cluster.sql(primary, "CREATE TABLE grades (id int, note text)")
    cluster.sql(primary, "INSERT INTO grades VALUES (1, 'before')")
    time.sleep(1.5)
    target = cluster.sql(
        primary, "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00'"
    )
    time.sleep(1.5)
    cluster.sql(primary, "INSERT INTO grades VALUES (2, 'after')")
    _switch_and_archive(cluster)
    restored = _owned_by_postgres(cluster.work / "restored" / "data")
    command = ["pgbackrest", f"--config={config}", "--stanza=teknofest", f"--pg1-path={restored}"]
    command += ["--type=time", f"--target={target}", "--target-action=promote", "restore"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, user="postgres", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    port = free_port()
    node = cluster.work / "restored"
    sockets = _owned_by_postgres(node / "sockets")
    args = [
        str(PG_BIN / "postgres"),
        "-D",
        str(restored),
        "-c",
        f"config_file={cluster.work}/primary/config/postgresql.conf",
    ]
    args += ["-c", f"hba_file={cluster.work}/primary/config/pg_hba.conf", "-c", f"port={port}"]
    args += ["-c", f"unix_socket_directories={sockets}", "-c", "archive_mode=off"]
    with daemon(args, cluster.work / "restored.log", env, 30, cluster.work, "postgres") as restored_server:
        _wait(cluster, port, cluster.work / "restored.log", 120, restored_server)
        wait_for(lambda: _quiet(lambda: cluster.sql(port, "SELECT pg_is_in_recovery()")) == "f", 120, "recovery to end")
        assert cluster.sql(port, "SELECT note FROM grades ORDER BY id") == "before"
        # The restored server is a new timeline; the live primary still has both rows.
        assert cluster.sql(primary, "SELECT count(*) FROM grades") == "2"


def _switch_and_archive(cluster: Cluster) -> None:
    """Close the WAL segment holding the last insert and wait until pgBackRest has it."""
    before = cluster.sql(cluster.primary_port, "SELECT archived_count FROM pg_stat_archiver", MONITOR_USER)
    subprocess.run(
        [
            str(PG_BIN / "psql"),
            "-h",
            str(cluster.work / "primary" / "sockets"),
            "-p",
            str(cluster.primary_port),
            "-U",
            "postgres",
            "-d",
            "postgres",
            "-Atc",
            "SELECT pg_switch_wal()",
        ],
        check=True,
        capture_output=True,
        timeout=30,
        user="postgres",
    )
    wait_for(
        lambda: (
            int(cluster.sql(cluster.primary_port, "SELECT archived_count FROM pg_stat_archiver", MONITOR_USER))
            > int(before)
        ),
        60,
        "the switched segment to be archived",
    )


def test_a_replica_added_later_creates_its_own_slot(cluster: Cluster) -> None:
    """The primary made slots for the replicas it was initialised with; one added later (a higher
    postgres.instances) creates its slot while cloning and streams through it."""
    node = cluster.work / "replica-2"
    _owned_by_postgres(node, 0o755)
    _owned_by_postgres(node / "sockets")
    port = free_port()
    env = _server_env(
        node, "replica", port, PRIMARY_HOST="localhost", PRIMARY_PORT=str(cluster.primary_port), SLOT="replica_2"
    )
    # The same rendered files as the first replica (the port is the start-up script's argument).
    env["CONFIG_DIR"] = str(cluster.work / "replica" / "config")
    env["SECRETS_DIR"] = str(cluster.work / "replica" / "secrets")
    start = str(cluster.work / "replica" / "config" / "postgres-start.sh")
    with daemon(["sh", start], cluster.work / "replica-2.log", env, 30, cluster.work, "postgres") as process:
        _wait(cluster, port, cluster.work / "replica-2.log", 90, process)
        slots = "SELECT slot_name, active FROM pg_replication_slots ORDER BY 1"
        wait_for(
            lambda: (
                cluster.sql(cluster.primary_port, slots, MONITOR_USER).splitlines() == ["replica_1|t", "replica_2|t"]
            ),
            30,
            "both slots active",
        )
        cluster.sql(cluster.primary_port, "INSERT INTO lessons VALUES (3, 'Geometri') ON CONFLICT DO NOTHING")
        wait_for(lambda: cluster.sql(port, "SELECT title FROM lessons WHERE id = 3") == "Geometri", 30, "replication")
