"""PostgreSQL 15 started with the rendered, tuned parameters of the production Cluster, and PgBouncer
with the production Pooler's settings in front of it: 300 pgbench clients through 20 server
connections. Only addresses, ports and paths are chosen by the test."""

from __future__ import annotations

import os
import pwd
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from components.postgres.parameters import tuned_parameters
from components.postgres.pgbouncer import pgbouncer_parameters, render_pgbouncer_ini
from stacks.settings import PlatformSettings
from tests.integration.conftest import MEASUREMENTS, free_port, require_binary, wait_for

pytestmark = pytest.mark.integration

PG_BIN = Path("/usr/lib/postgresql/15/bin")
PASSWORD = "pgbouncer-test-password"
# Debian's PgBouncer is 1.18; max_prepared_statements came in 1.21 (CloudNativePG's image has it).
NOT_IN_PGBOUNCER_1_18 = {"max_prepared_statements"}


@dataclass
class Server:
    port: int
    socket_dir: str
    database: str
    owner: str

    def ready(self) -> bool:
        probe = [str(PG_BIN / "pg_isready"), "-h", self.socket_dir, "-p", str(self.port)]
        return subprocess.run(probe, capture_output=True, timeout=10, user="postgres").returncode == 0

    def psql(self, sql: str, database: str | None = None) -> str:
        result = subprocess.run(
            [
                str(PG_BIN / "psql"),
                "-h",
                self.socket_dir,
                "-p",
                str(self.port),
                "-d",
                database or self.database,
                "-Atc",
                sql,
            ],
            capture_output=True,
            text=True,
            timeout=30,
            user="postgres",
        )
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()


@pytest.fixture(scope="module")
def server(production_settings: PlatformSettings) -> Iterator[Server]:
    for binary in ("initdb", "postgres", "pg_isready", "pgbench", "psql"):
        if not (PG_BIN / binary).exists():
            require_binary(f"postgresql-15 ({binary})")
    require_binary("pgbouncer")
    postgres_user = pwd.getpwnam("postgres")
    # The daemons run as "postgres" (initdb refuses root): a folder it owns, outside root's tmp.
    work = Path(tempfile.mkdtemp(prefix="teknofest-pg-", dir="/tmp"))
    os.chmod(work, 0o755)
    shutil.chown(work, postgres_user.pw_uid, postgres_user.pw_gid)
    data = work / "data"
    pg = production_settings.postgres
    subprocess.run(
        [str(PG_BIN / "initdb"), "-D", str(data), "-U", "postgres", "--auth-local=trust", "--auth-host=scram-sha-256"],
        check=True,
        capture_output=True,
        user="postgres",
        timeout=120,
    )
    port = free_port()
    args = [
        str(PG_BIN / "postgres"),
        "-D",
        str(data),
        "-p",
        str(port),
        "-c",
        "listen_addresses=127.0.0.1",
        "-c",
        f"unix_socket_directories={work}",
    ]
    for name, value in tuned_parameters(pg).items():
        args += ["-c", f"{name}={value}"]
    # Logs go to files: a pipe nobody reads would fill up and stall the daemon.
    log = work / "postgres.log"
    process = subprocess.Popen(args, user="postgres", stdout=subprocess.DEVNULL, stderr=log.open("w"))
    srv = Server(port, str(work), pg.database, pg.owner)
    try:
        try:
            wait_for(srv.ready, 30, "postgres to accept connections")
        except AssertionError:
            process.send_signal(signal.SIGINT)
            process.wait(timeout=30)
            raise AssertionError(f"postgres refused the parameters: {log.read_text()}") from None
        srv.psql(f"create role {pg.owner} login password '{PASSWORD}'", "postgres")
        srv.psql(f"create database {pg.database} owner {pg.owner}", "postgres")
        yield srv
    finally:
        process.send_signal(signal.SIGINT)  # fast shutdown: no waiting for clients
        process.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)


def test_the_tuned_parameters_are_accepted_and_in_effect(server: Server, production_settings: PlatformSettings) -> None:
    expected = tuned_parameters(production_settings.postgres)
    units = {"MB": 1024, "kB": 1}

    def in_kb(value: str) -> int | None:
        match = re.fullmatch(r"(\d+)(MB|kB|GB)", value)
        if not match:
            return None
        return int(match.group(1)) * {"GB": 1024 * 1024, **units}[match.group(2)]

    for name, value in expected.items():
        shown = server.psql(f"show {name}")
        if in_kb(value) is not None:
            assert in_kb(shown) == in_kb(value), (name, shown, value)
        else:
            assert shown == value, (name, shown, value)
    # For 4Gi: a quarter in shared buffers, three quarters assumed cached, 200 connections.
    assert server.psql("show shared_buffers") == "1GB"
    assert server.psql("show effective_cache_size") == "3GB"
    assert server.psql("show max_connections") == "200"


def test_300_clients_share_20_server_connections_without_error(
    server: Server, production_settings: PlatformSettings
) -> None:
    pg = production_settings.postgres
    work = Path(server.socket_dir)
    bouncer_port = free_port()
    (work / "userlist.txt").write_text(f'"{pg.owner}" "{PASSWORD}"\n')
    ini = render_pgbouncer_ini(
        pg,
        pg.database,
        "127.0.0.1",
        server.port,
        "127.0.0.1",
        bouncer_port,
        str(work / "userlist.txt"),
        str(work / "pgbouncer.pid"),
    )
    dropped = [line for line in ini.splitlines() if line.split(" = ")[0] in NOT_IN_PGBOUNCER_1_18]
    assert dropped == ["max_prepared_statements = 200"], "only the 1.21+ setting may be left out"
    ini = "\n".join(line for line in ini.splitlines() if line not in dropped) + "\n"
    (work / "pgbouncer.ini").write_text(ini)
    for path in ("userlist.txt", "pgbouncer.ini"):
        shutil.chown(work / path, "postgres", "postgres")
    assert f"default_pool_size = {pg.default_pool_size}" in ini and "pool_mode = transaction" in ini
    bouncer = subprocess.Popen(
        ["pgbouncer", str(work / "pgbouncer.ini")],
        user="postgres",
        stdout=subprocess.DEVNULL,
        stderr=(work / "pgbouncer.log").open("w"),
    )
    env = {**os.environ, "PGPASSWORD": PASSWORD}
    try:
        wait_for(
            lambda: (
                subprocess.run(
                    [
                        str(PG_BIN / "psql"),
                        "-h",
                        "127.0.0.1",
                        "-p",
                        str(bouncer_port),
                        "-U",
                        pg.owner,
                        "-d",
                        pg.database,
                        "-Atc",
                        "select 1",
                    ],
                    env=env,
                    capture_output=True,
                    text=True,
                    timeout=10,
                ).stdout.strip()
                == "1"
            ),
            20,
            "pgbouncer to serve",
        )
        subprocess.run(
            [
                str(PG_BIN / "pgbench"),
                "-i",
                "-s",
                "2",
                "-q",
                "-h",
                "127.0.0.1",
                "-p",
                str(server.port),
                "-U",
                pg.owner,
                pg.database,
            ],
            env=env,
            check=True,
            capture_output=True,
            timeout=120,
        )

        peak = 0
        stop = threading.Event()

        def watch() -> None:
            nonlocal peak
            while not stop.is_set():
                count = int(
                    server.psql(
                        f"select count(*) from pg_stat_activity where datname = '{pg.database}' "
                        "and backend_type = 'client backend'",
                        "postgres",
                    )
                )
                peak = max(peak, count)
                time.sleep(0.1)

        watcher = threading.Thread(target=watch)
        watcher.start()
        started = time.monotonic()
        try:
            run = subprocess.run(
                [
                    str(PG_BIN / "pgbench"),
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(bouncer_port),
                    "-U",
                    pg.owner,
                    "-c",
                    "300",
                    "-j",
                    "4",
                    "-t",
                    "20",
                    "-n",
                    pg.database,
                ],
                env=env,
                capture_output=True,
                text=True,
                timeout=300,
            )
        finally:
            stop.set()
            watcher.join(timeout=10)
        elapsed = time.monotonic() - started
    finally:
        bouncer.send_signal(signal.SIGINT)  # immediate shutdown (SIGTERM waits for clients in 1.18)
        bouncer.wait(timeout=10)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "number of transactions actually processed: 6000/6000" in run.stdout
    assert re.search(r"number of failed transactions: 0 \(0\.000%\)", run.stdout), run.stdout
    assert 0 < peak <= pg.default_pool_size
    tps = re.search(r"tps = ([\d.]+)", run.stdout)
    MEASUREMENTS.append(
        f"pgbouncer: 300 clients x 20 transactions in {elapsed:.1f} s through at most {peak} server "
        f"connections (pool {pg.default_pool_size}), {tps.group(1) if tps else '?'} tps, 0 failed"
    )
    assert pgbouncer_parameters(pg)["max_client_conn"] == "1000"
