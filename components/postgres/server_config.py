"""PostgreSQL run by us rather than by an operator (the docker and swarm targets), pure renderers:
postgresql.conf, pg_hba.conf, the start-up script that initialises a primary or clones a streaming
replica, pgBackRest's configuration and backup schedule, and PgBouncer in front (rw and ro).

Every password is read from a file at start (`SECRETS_DIR`), never rendered, never in the
environment of a container. The same text runs in the containers and, with other paths and
ports, in the integration tests on 127.0.0.1.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from components.common.quantities import memory_bytes
from components.postgres.parameters import tuned_parameters
from components.postgres.pgbouncer import pgbouncer_parameters
from components.postgres.settings import Backups, Postgres

REPLICATION_USER = "replicator"
# Reads server statistics only (pg_monitor): the exporter and PgBouncer's SHOW STATS.
MONITOR_USER = "monitor"
STANZA = "teknofest"
RO_SUFFIX = "_ro"

_HEADER = "# Rendered by teknofest-platform (components/postgres/server_config.py); do not edit by hand."


@dataclass(frozen=True)
class ServerInputs:
    """Where things are: container paths by default, temporary folders in the tests."""

    settings: Postgres
    # Host names (as the client's address resolves back) allowed to replicate: the replicas only.
    replica_hosts: tuple[str, ...]
    # Host names allowed to sign in as the application owner: the poolers (and nothing else).
    client_hosts: tuple[str, ...]
    # Host names allowed to sign in as the monitor user: the exporter and the poolers' stats.
    monitor_hosts: tuple[str, ...]
    port: int = 5432
    # Inside its container every address is the container's own (only the internal network
    # reaches it, pg_hba.conf admits named hosts only); 127.0.0.1 in the tests.
    listen_addresses: str = "*"
    data_dir: str = "/var/lib/postgresql/data/pgdata"
    socket_dir: str = "/var/run/postgresql"
    config_dir: str = "/etc/teknofest"
    secrets_dir: str = "/run/secrets"
    backup_config: str = "/etc/teknofest/pgbackrest.conf"
    # One physical replication slot per replica, so the primary keeps the WAL a replica still needs.
    replica_slots: tuple[str, ...] = ("replica_1",)

    @property
    def database(self) -> str:
        return self.settings.database

    @property
    def owner(self) -> str:
        return self.settings.owner


def render_postgresql_conf(cfg: ServerInputs) -> str:
    parameters = {
        "listen_addresses": f"'{cfg.listen_addresses}'",
        "port": str(cfg.port),
        "unix_socket_directories": f"'{cfg.socket_dir}'",
        "hba_file": f"'{cfg.config_dir}/pg_hba.conf'",
        "password_encryption": "scram-sha-256",
        "wal_level": "replica",
        "max_wal_senders": "10",
        "max_replication_slots": "10",
        "hot_standby": "on",
        "hot_standby_feedback": "on",
        # Continuous archiving to pgBackRest's repository: with archive_timeout (5 min, from the
        # tuned parameters) a point in time is at most 5 minutes of WAL away (RPO < 15 min).
        "archive_mode": "on",
        "archive_command": f"'pgbackrest --config={cfg.backup_config} --stanza={STANZA} archive-push %p'",
        "restore_command": f"'pgbackrest --config={cfg.backup_config} --stanza={STANZA} archive-get %f \"%p\"'",
        "wal_keep_size": "1GB",
        # A slot of a replica that is gone keeps WAL forever: bound it to half the WAL volume.
        "max_slot_wal_keep_size": f"'{memory_bytes(cfg.settings.wal_storage_size) // 2 // 2**20}MB'",
        "log_destination": "stderr",
        "logging_collector": "off",
        "log_line_prefix": "'%m [%p] %q%u@%d '",
        "log_connections": "on",
        "shared_preload_libraries": "'pg_stat_statements'",
        **{key: _quoted(value) for key, value in tuned_parameters(cfg.settings).items()},
    }
    return _HEADER + "\n" + "".join(f"{key} = {value}\n" for key, value in parameters.items())


def _quoted(value: str) -> str:
    return value if re.fullmatch(r"[0-9.]+|on|off", value) else f"'{value}'"


def render_pg_hba(cfg: ServerInputs) -> str:
    """First match wins: local maintenance by the postgres OS user, replication from the replicas,
    the application from its poolers, the monitor from its scrapers; everything else refused."""
    lines = [
        _HEADER,
        "# TYPE  DATABASE        USER            ADDRESS                 METHOD",
        "local   all             postgres                                peer",
        "local   replication     postgres                                peer",
    ]
    lines += [f"host    replication     {REPLICATION_USER:<15} {host:<23} scram-sha-256" for host in cfg.replica_hosts]
    lines += [f"host    {cfg.database:<15} {cfg.owner:<15} {host:<23} scram-sha-256" for host in cfg.client_hosts]
    lines += [f"host    all             {MONITOR_USER:<15} {host:<23} scram-sha-256" for host in cfg.monitor_hosts]
    lines += [
        "host    all             all             0.0.0.0/0               reject",
        "host    all             all             ::/0                    reject",
    ]
    return "\n".join(lines) + "\n"


def render_postgres_start(cfg: ServerInputs) -> str:
    """ROLE=primary initialises an empty data directory (roles, database, replication slots);
    ROLE=replica clones the primary with pg_basebackup and follows it. Either way the server then
    runs in the foreground as the container's main process."""
    secrets = cfg.secrets_dir
    slots = " ".join(cfg.replica_slots)
    return f"""#!/bin/sh
{_HEADER}
set -eu
umask 077
PGDATA="${{PGDATA:-{cfg.data_dir}}}"
PORT="${{PGPORT:-{cfg.port}}}"
SOCKETS="${{SOCKET_DIR:-{cfg.socket_dir}}}"
CONFIG="${{CONFIG_DIR:-{cfg.config_dir}}}"
SECRETS="${{SECRETS_DIR:-{secrets}}}"
export PGDATA
mkdir -p "$PGDATA" "$SOCKETS"
chmod 0700 "$PGDATA"

run_postgres() {{
  exec postgres -D "$PGDATA" -c config_file="$CONFIG/postgresql.conf" -c port="$PORT" \\
    -c unix_socket_directories="$SOCKETS" -c hba_file="$CONFIG/pg_hba.conf" "$@"
}}

if [ -s "$PGDATA/PG_VERSION" ]; then
  echo "postgres-start: $ROLE with an existing data directory" >&2
  run_postgres
fi

case "$ROLE" in
primary)
  initdb --username=postgres --pwfile="$SECRETS/postgres-superuser-password" --auth-local=peer \\
    --auth-host=scram-sha-256 --data-checksums --encoding=UTF8 --locale=C.UTF-8
  # Set up over the socket only, before any network listener exists.
  pg_ctl -w -o "-c listen_addresses='' -c port=$PORT -c unix_socket_directories=$SOCKETS -c archive_mode=off" start
  psql -v ON_ERROR_STOP=1 -h "$SOCKETS" -p "$PORT" -U postgres -d postgres \\
    -v owner_password="$(cat "$SECRETS/postgres-app-password")" \\
    -v replication_password="$(cat "$SECRETS/postgres-replication-password")" \\
    -v monitor_password="$(cat "$SECRETS/postgres-monitor-password")" <<'SQL'
CREATE ROLE {cfg.owner} LOGIN PASSWORD :'owner_password';
CREATE DATABASE {cfg.database} OWNER {cfg.owner};
CREATE ROLE {REPLICATION_USER} REPLICATION LOGIN PASSWORD :'replication_password';
CREATE ROLE {MONITOR_USER} LOGIN PASSWORD :'monitor_password' IN ROLE pg_monitor;
REVOKE ALL ON DATABASE {cfg.database} FROM PUBLIC;
GRANT CONNECT ON DATABASE {cfg.database} TO {MONITOR_USER};
SQL
  for slot in {slots}; do
    psql -v ON_ERROR_STOP=1 -h "$SOCKETS" -p "$PORT" -U postgres -d postgres \\
      -c "SELECT pg_create_physical_replication_slot('$slot')" >/dev/null
  done
  psql -v ON_ERROR_STOP=1 -h "$SOCKETS" -p "$PORT" -U postgres -d {cfg.database} \\
    -c "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" >/dev/null
  pg_ctl -w stop -m fast
  echo "postgres-start: primary initialised" >&2
  ;;
replica)
  # The primary may still be initialising: retry until it serves a base backup.
  PGPASSWORD=$(cat "$SECRETS/postgres-replication-password")
  export PGPASSWORD
  clone() {{
    rm -rf "${{PGDATA:?}}"/*
    pg_basebackup --host="$PRIMARY_HOST" --port="${{PRIMARY_PORT:-5432}}" --username={REPLICATION_USER} \\
      --pgdata="$PGDATA" --wal-method=stream --write-recovery-conf --slot="$SLOT" --checkpoint=fast "$@"
  }}
  # The primary made a slot for each replica it was initialised with; a replica added later
  # creates its own (the first attempt fails at once where the slot exists).
  until clone --create-slot || clone; do
    echo "postgres-start: primary $PRIMARY_HOST not ready for a base backup; retrying" >&2
    sleep 2
  done
  unset PGPASSWORD
  echo "postgres-start: replica cloned from $PRIMARY_HOST (slot $SLOT)" >&2
  ;;
*)
  echo "postgres-start: ROLE must be primary or replica, not '$ROLE'" >&2
  exit 64
  ;;
esac
run_postgres
"""


def retention_days(retention: str) -> int:
    """Backups.retention ("30d", "4w", "3m") in days, as pgBackRest's time-based retention counts."""
    number, unit = int(retention[:-1]), retention[-1]
    return number * {"d": 1, "w": 7, "m": 30}[unit]


@dataclass(frozen=True)
class BackupInputs:
    backups: Backups
    data_dir: str = "/var/lib/postgresql/data/pgdata"
    socket_dir: str = "/var/run/postgresql"
    port: int = 5432
    # The repository when no object store is set: a volume of the host.
    local_repository: str = "/var/lib/pgbackrest"
    # Writable scratch space (the root filesystem is read-only).
    scratch_dir: str = "/tmp/pgbackrest"
    secrets_dir: str = "/run/secrets"


def _s3(destination: str) -> tuple[str, str]:
    bucket, _, path = destination.removeprefix("s3://").partition("/")
    return bucket, "/" + path.strip("/")


def render_pgbackrest_conf(cfg: BackupInputs) -> str:
    """pgBackRest's repository: the object store of backups.destinationPath (S3 or compatible),
    or the local volume; time-based retention of full backups from backups.retention."""
    b = cfg.backups
    lines = [_HEADER, "[global]"]
    if b.destination_path and b.destination_path.startswith("s3://"):
        bucket, path = _s3(b.destination_path)
        endpoint = (b.endpoint_url or "https://s3.amazonaws.com").removeprefix("https://").removeprefix("http://")
        lines += [
            "repo1-type=s3",
            f"repo1-s3-bucket={bucket}",
            f"repo1-path={path}",
            f"repo1-s3-endpoint={endpoint}",
            "repo1-s3-region=us-east-1",
        ]
        # The keys of backups.credentials (the file is then a secret), or the host's own identity.
        lines += (
            [
                "repo1-s3-key-type=shared",
                "repo1-s3-key=@@backup-s3-key@@",
                "repo1-s3-key-secret=@@backup-s3-key-secret@@",
            ]
            if b.credentials
            else ["repo1-s3-key-type=auto"]
        )
    elif b.destination_path:
        raise ValueError(
            f"backups.destinationPath {b.destination_path}: the docker target's pgBackRest writes to "
            "'s3://bucket/path' (S3 or an S3-compatible store) or, when unset, to a local volume"
        )
    else:
        lines.append(f"repo1-path={cfg.local_repository}")
    lines += [
        "repo1-retention-full-type=time",
        f"repo1-retention-full={retention_days(b.retention)}",
        "compress-type=gz",
        "start-fast=y",
        "archive-timeout=120",
        f"lock-path={cfg.scratch_dir}/lock",
        f"spool-path={cfg.scratch_dir}/spool",
        "log-level-console=info",
        "log-level-file=off",
        "",
        f"[{STANZA}]",
        f"pg1-path={cfg.data_dir}",
        f"pg1-socket-path={cfg.socket_dir}",
        f"pg1-port={cfg.port}",
        "",
    ]
    return "\n".join(lines)


def daily_time(schedule: str) -> tuple[int, int]:
    """(hour, minute) of a daily six-field cron expression ("0 0 2 * * *" is 02:00)."""
    fields = schedule.split()
    if len(fields) != 6 or fields[3:] != ["*", "*", "*"] or not all(f.isdigit() for f in fields[:3]):
        raise ValueError(
            f"backups.schedule {schedule!r}: the docker target takes a daily time, 'S M H * * *' (e.g. '0 0 2 * * *')"
        )
    return int(fields[2]), int(fields[1])


def render_backup_loop(cfg: BackupInputs, config_path: str) -> str:
    """The backup container's main process: once the primary answers, create the stanza (idempotent)
    and take a full backup if there is none (point-in-time recovery works from the first day);
    then every day at the scheduled time a differential, a full one on Sundays."""
    hour, minute = daily_time(cfg.backups.schedule)
    return f"""#!/bin/sh
{_HEADER}
set -eu
conf="--config={config_path} --stanza={STANZA}"
mkdir -p {cfg.scratch_dir}/lock {cfg.scratch_dir}/spool
until pg_isready -q -h {cfg.socket_dir} -p {cfg.port}; do sleep 2; done
pgbackrest $conf stanza-create
pgbackrest $conf check
if ! pgbackrest $conf info --output=json | grep -q '"type":"full"'; then
  pgbackrest $conf --type=full backup
fi
touch {cfg.scratch_dir}/ready
while true; do
  now=$(date -u +%s)
  next=$(date -u -d "$(date -u +%Y-%m-%d) {hour:02d}:{minute:02d}:00" +%s)
  [ "$next" -gt "$now" ] || next=$((next + 86400))
  sleep $((next - now))
  if [ "$(date -u +%u)" = 7 ]; then kind=full; else kind=diff; fi
  pgbackrest $conf --type=$kind backup || echo "backup: $kind backup failed" >&2
done
"""


@dataclass(frozen=True)
class PoolerInputs:
    settings: Postgres
    primary_host: str
    replica_host: str
    server_port: int = 5432
    # The replica's port where it differs from the primary's (the tests run both on one host).
    replica_port: int | None = None
    listen_address: str = "0.0.0.0"
    listen_port: int = 6432
    auth_file: str = "/run/secrets/pgbouncer-userlist"
    scratch_dir: str = "/tmp"


def render_pooler_ini(cfg: PoolerInputs) -> str:
    """One PgBouncer, transaction pooling like the Kubernetes Poolers: `<db>` reaches the primary,
    `<db>_ro` the replica. A manual failover repoints `<db>` (runbook) and RELOADs."""
    db = cfg.settings.database
    lines = [
        _HEADER.replace("# ", "; ", 1),
        "[databases]",
        f"{db} = host={cfg.primary_host} port={cfg.server_port} dbname={db}",
        f"{db}{RO_SUFFIX} = host={cfg.replica_host} port={cfg.replica_port or cfg.server_port} dbname={db}",
        "",
        "[pgbouncer]",
        f"listen_addr = {cfg.listen_address}",
        f"listen_port = {cfg.listen_port}",
        "unix_socket_dir =",
        "pool_mode = transaction",
        "auth_type = scram-sha-256",
        f"auth_file = {cfg.auth_file}",
        f"pidfile = {cfg.scratch_dir}/pgbouncer.pid",
        f"stats_users = {MONITOR_USER}",
        "ignore_startup_parameters = extra_float_digits",
        *[f"{key} = {value}" for key, value in pgbouncer_parameters(cfg.settings).items()],
        "",
    ]
    return "\n".join(lines)


def render_pooler_userlist(owner: str) -> str:
    """PgBouncer's users: plain passwords, so it can sign in to the server with SCRAM in turn."""
    return f'"{owner}" "@@postgres-app-password@@"\n"{MONITOR_USER}" "@@postgres-monitor-password@@"\n'
