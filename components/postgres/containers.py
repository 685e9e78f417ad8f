"""The docker target's PostgreSQL as container specs (pure): a primary and its streaming replicas
from the rendered start-up script, PgBouncer (rw and ro), pgBackRest's backup loop and the
exporter. Every name derives from the instance name."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from components.common.docker.containers import (
    CONFIG_DIR,
    SECRETS_DIR,
    ContainerSpec,
    Healthcheck,
    LocalImage,
    NetworkAttachment,
    Upload,
    VolumeMount,
    VolumeSpec,
    secret_file,
    sized,
)
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

IMAGE_CONTEXT = Path(__file__).parent / "image"
# The official image's "postgres" user.
POSTGRES_UID = "999:999"
NOBODY = "65534:65534"
DATA = "/var/lib/postgresql/data"
SOCKETS = "/var/run/postgresql"
REPOSITORY = "/var/lib/pgbackrest"
POOLER_PORT = 6432
EXPORTER_PORT = 9187
PASSWORDS = (
    "postgres-superuser-password",
    "postgres-app-password",
    "postgres-replication-password",
    "postgres-monitor-password",
)
S3_KEYS = ("backup-s3-key", "backup-s3-key-secret")


@dataclass(frozen=True)
class PostgresHostArgs:
    """One PostgreSQL primary with streaming replicas, PgBouncer and pgBackRest on one Docker host."""

    # This capability's own settings: instances (primary + replicas), sizes, pooling; and backups.
    settings: Postgres
    backups: Backups
    # The official image the local build extends (pinned by digest).
    base_image: str
    # The internal network every container joins (its Docker name).
    network: str
    # Containers and volumes are named "<prefix>-<name>-...": one host may run several platforms.
    prefix: str
    # The postgres-exporter image; None: no exporter (no monitoring).
    exporter_image: str | None = None
    name: str = "postgres"
    # On a Swarm: tasks have no name a server can check (below).
    swarm: bool = False

    def container(self, role: str) -> str:
        return f"{self.prefix}-{self.name}-{role}"

    def fqdn(self, role: str) -> str:
        """How Docker's DNS names a container's address, forward and back: pg_hba.conf matches it.
        A Swarm task's address has a name only once its healthcheck passes, and then one with its
        task ID: a replica cloning the primary has none. There pg_hba.conf admits the server's own
        network (`samenet`: the internal, encrypted, non-attachable backend), per user."""
        return "samenet" if self.swarm else f"{self.container(role)}.{self.network}"

    @property
    def replicas(self) -> tuple[str, ...]:
        return tuple(f"replica-{i}" for i in range(1, self.settings.instances))

    @property
    def primary_host(self) -> str:
        return f"{self.name}-primary"

    @property
    def replica_host(self) -> str:
        """The alias every replica answers to: the ro pool reaches one of them."""
        return f"{self.name}-replica"

    @property
    def pooler_host(self) -> str:
        """Where clients connect: `<database>` is the primary, `<database>_ro` a replica."""
        return f"{self.name}-pooler"

    @property
    def image(self) -> LocalImage:
        tag = self.base_image.split("@", 1)[0].rsplit(":", 1)[-1]
        return LocalImage(
            f"teknofest-platform/{self.name}:{tag}-tools",
            str(IMAGE_CONTEXT),
            str(IMAGE_CONTEXT / "Dockerfile"),
            (("BASE", self.base_image),),
        )

    @property
    def local_repository(self) -> bool:
        return self.backups.destination_path is None

    @property
    def s3_keys(self) -> bool:
        return self.backups.credentials is not None

    @property
    def secrets(self) -> tuple[str, ...]:
        return PASSWORDS + (S3_KEYS if self.s3_keys else ())

    def url(self, password: str, read_only: bool = False) -> str:
        db = self.settings.database + (RO_SUFFIX if read_only else "")
        return f"postgresql://{self.settings.owner}:{password}@{self.pooler_host}:{POOLER_PORT}/{db}"


def volumes(args: PostgresHostArgs) -> list[VolumeSpec]:
    found = [VolumeSpec(f"{args.container('primary')}-data", "postgres data (primary)")]
    found += [VolumeSpec(f"{args.container(r)}-data", f"postgres data ({r})") for r in args.replicas]
    found.append(VolumeSpec(f"{args.container('primary')}-sockets", "postgres sockets (primary, backup)"))
    if args.local_repository:
        found.append(VolumeSpec(f"{args.prefix}-{args.name}-backups", "pgBackRest repository"))
    return found


def _server_inputs(args: PostgresHostArgs) -> ServerInputs:
    return ServerInputs(
        args.settings,
        replica_hosts=tuple(args.fqdn(r) for r in args.replicas),
        client_hosts=(args.fqdn("pooler"),),
        monitor_hosts=(args.fqdn("exporter"),) if args.exporter_image else (),
        data_dir=f"{DATA}/pgdata",
        socket_dir=SOCKETS,
        config_dir=CONFIG_DIR,
        secrets_dir=SECRETS_DIR,
        backup_config=f"{CONFIG_DIR}/pgbackrest.conf",
        replica_slots=tuple(r.replace("-", "_") for r in args.replicas),
    )


def _backup_inputs(args: PostgresHostArgs) -> BackupInputs:
    return BackupInputs(args.backups, data_dir=f"{DATA}/pgdata", socket_dir=SOCKETS, local_repository=REPOSITORY)


def _backup_uploads(args: PostgresHostArgs) -> tuple[Upload, ...]:
    # With the object store's keys in it, the file is a secret of the postgres user.
    keys = S3_KEYS if args.s3_keys else ()
    text = render_pgbackrest_conf(_backup_inputs(args))
    return (Upload(f"{CONFIG_DIR}/pgbackrest.conf", text, 0o400 if keys else 0o444, keys, "postgres"),)


def _repository_mount(args: PostgresHostArgs) -> tuple[VolumeMount, ...]:
    return (VolumeMount(f"{args.prefix}-{args.name}-backups", REPOSITORY),) if args.local_repository else ()


def _ready(port: int = 5432) -> Healthcheck:
    return Healthcheck.shell(f"pg_isready -q -h 127.0.0.1 -p {port}", interval_seconds=10, start_period_seconds=120)


def _server(
    args: PostgresHostArgs,
    role: str,
    alias: str,
    env: tuple[tuple[str, str], ...],
    volumes: tuple[VolumeMount, ...],
    after: tuple[str, ...] = (),
    tmpfs: tuple[tuple[str, str], ...] = (),
) -> ContainerSpec:
    server = _server_inputs(args)
    return ContainerSpec(
        name=args.container(role),
        image=args.image.name,
        command=("sh", f"{CONFIG_DIR}/postgres-start.sh"),
        networks=(NetworkAttachment(args.network, (alias,)),),
        **sized(args.settings.resources),
        healthcheck=_ready(),
        user=POSTGRES_UID,
        # The official image sets PGDATA to the volume's root, which the start-up script would take
        # over its own default: say where pgBackRest and the runbooks expect the data (seen on the
        # engine tier, where the backup found no cluster).
        env=(("PGDATA", f"{DATA}/pgdata"), *env),
        uploads=(
            Upload(f"{CONFIG_DIR}/postgresql.conf", render_postgresql_conf(server), capability="postgres"),
            Upload(f"{CONFIG_DIR}/pg_hba.conf", render_pg_hba(server), capability="postgres"),
            Upload(f"{CONFIG_DIR}/postgres-start.sh", render_postgres_start(server), 0o555, capability="postgres"),
            *_backup_uploads(args),
            *(secret_file(name, "postgres") for name in PASSWORDS),
        ),
        volumes=volumes,
        tmpfs=(("/tmp", "rw,noexec,nosuid,size=64m"), *tmpfs),
        after=after,
        # A fast shutdown checkpoints first: give it time before Docker kills the server.
        stop_grace_seconds=120,
        capability="postgres",
    )


def _owner(user: str) -> str:
    """tmpfs mount options that give it to "uid:gid"."""
    uid, gid = user.split(":")
    return f"uid={uid},gid={gid}"


def server_containers(args: PostgresHostArgs) -> list[ContainerSpec]:
    """The primary and its replicas: one start-up script, ROLE tells it which to be."""
    primary = _server(
        args,
        "primary",
        args.primary_host,
        (("ROLE", "primary"),),
        (
            VolumeMount(f"{args.container('primary')}-data", DATA),
            # Shared with the backup container: pgBackRest signs in over the socket as postgres.
            VolumeMount(f"{args.container('primary')}-sockets", SOCKETS),
            *_repository_mount(args),
        ),
    )
    replicas = [
        _server(
            args,
            replica,
            args.replica_host,
            (("ROLE", "replica"), ("PRIMARY_HOST", args.primary_host), ("SLOT", replica.replace("-", "_"))),
            (VolumeMount(f"{args.container(replica)}-data", DATA), *_repository_mount(args)),
            after=(primary.name,),
            # Owned by postgres: a tmpfs is root's, with the image directory's mode (0750 here),
            # and the server could not create its lock file (seen on the engine tier).
            tmpfs=((SOCKETS, f"rw,noexec,nosuid,size=1m,{_owner(POSTGRES_UID)},mode=0750"),),
        )
        for replica in args.replicas
    ]
    return [primary, *replicas]


def pooler_container(args: PostgresHostArgs) -> ContainerSpec:
    pooler = PoolerInputs(
        args.settings,
        primary_host=args.primary_host,
        replica_host=args.replica_host if args.replicas else args.primary_host,
        listen_port=POOLER_PORT,
        auth_file=f"{SECRETS_DIR}/pgbouncer-userlist",
        scratch_dir="/tmp",
    )
    return ContainerSpec(
        name=args.container("pooler"),
        image=args.image.name,
        command=("pgbouncer", f"{CONFIG_DIR}/pgbouncer.ini"),
        networks=(NetworkAttachment(args.network, (args.pooler_host,)),),
        memory_mb=256,
        cpus=1.0,
        healthcheck=Healthcheck.shell(f"pg_isready -q -h 127.0.0.1 -p {POOLER_PORT}", start_period_seconds=30),
        user=POSTGRES_UID,
        uploads=(
            Upload(f"{CONFIG_DIR}/pgbouncer.ini", render_pooler_ini(pooler), capability="postgres"),
            Upload(
                f"{SECRETS_DIR}/pgbouncer-userlist",
                render_pooler_userlist(args.settings.owner),
                0o400,
                ("postgres-app-password", "postgres-monitor-password"),
                "postgres",
            ),
        ),
        tmpfs=(("/tmp", "rw,noexec,nosuid,size=8m"),),
        after=tuple(args.container(role) for role in ("primary", *args.replicas)),
        capability="postgres",
    )


def backup_container(args: PostgresHostArgs) -> ContainerSpec:
    """pgBackRest beside the primary: its data (read-only) and socket, the repository volume."""
    inputs = _backup_inputs(args)
    return ContainerSpec(
        name=args.container("backup"),
        image=args.image.name,
        command=("sh", f"{CONFIG_DIR}/backup-loop.sh"),
        networks=(NetworkAttachment(args.network),),
        memory_mb=512,
        cpus=1.0,
        # Ready once the stanza exists and the first full backup is taken.
        healthcheck=Healthcheck.shell(
            f"test -f {inputs.scratch_dir}/ready", interval_seconds=15, start_period_seconds=600
        ),
        user=POSTGRES_UID,
        uploads=(
            *_backup_uploads(args),
            Upload(
                f"{CONFIG_DIR}/backup-loop.sh",
                render_backup_loop(inputs, f"{CONFIG_DIR}/pgbackrest.conf"),
                0o555,
                capability="postgres",
            ),
        ),
        volumes=(
            VolumeMount(f"{args.container('primary')}-data", DATA, read_only=True),
            VolumeMount(f"{args.container('primary')}-sockets", SOCKETS),
            *_repository_mount(args),
        ),
        tmpfs=(("/tmp", "rw,noexec,nosuid,size=256m"),),
        after=(args.container("primary"),),
        capability="postgres",
    )


def exporter_container(args: PostgresHostArgs) -> ContainerSpec | None:
    if args.exporter_image is None:
        return None
    return ContainerSpec(
        name=args.container("exporter"),
        image=args.exporter_image,
        command=("/bin/postgres_exporter", f"--web.listen-address=:{EXPORTER_PORT}"),
        networks=(NetworkAttachment(args.network, (f"{args.name}-exporter",)),),
        memory_mb=128,
        cpus=0.2,
        healthcheck=Healthcheck.shell(f"wget -q -O /dev/null http://127.0.0.1:{EXPORTER_PORT}/metrics"),
        user=NOBODY,
        env=(
            ("DATA_SOURCE_URI", f"{args.primary_host}:5432/{args.settings.database}?sslmode=disable"),
            ("DATA_SOURCE_USER", MONITOR_USER),
            # The exporter reads its password from this file itself.
            ("DATA_SOURCE_PASS_FILE", f"{SECRETS_DIR}/postgres-monitor-password"),
        ),
        uploads=(secret_file("postgres-monitor-password", "postgres"),),
        after=(args.container("primary"),),
        capability="postgres",
    )


def postgres_containers(args: PostgresHostArgs) -> list[ContainerSpec]:
    exporter = exporter_container(args)
    return [
        *server_containers(args),
        pooler_container(args),
        backup_container(args),
        *([exporter] if exporter else []),
    ]
