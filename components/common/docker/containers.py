"""Target-neutral description of a container (pure): what the docker components render, what the
synth writes into containers/, and what `resources.py` turns into pulumi-docker resources.

Secrets never appear in a spec: a file that carries one names it (`Upload.secrets`) and holds a
placeholder `@@<name>@@` per value; the component fills them in from generated passwords, as a
Pulumi secret, into a file of mode 0400 owned by the container's user. Environment variables carry
no secret: the start-up wrapper (`secret_env_script`) reads them from those files at start.

Uploads land under CONFIG_DIR, which is the container's own "files" volume: Docker refuses to
copy into a read-only root filesystem, but not into a volume mounted on it, so every container
keeps a read-only root.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from typing import Any

from components.common.quantities import cpu_millicores, memory_bytes
from components.common.values import Resources

CONFIG_DIR = "/etc/teknofest"
SECRETS_DIR = f"{CONFIG_DIR}/secrets"
ENTRYPOINT = f"{CONFIG_DIR}/secret-env.sh"
_PLACEHOLDER = re.compile(r"@@([a-z0-9-]+)@@")


@dataclass(frozen=True)
class Upload:
    """A file written into the container before it starts."""

    path: str
    content: str
    mode: int = 0o444
    # Names of the secrets whose placeholders the content holds; any makes the file a secret.
    secrets: tuple[str, ...] = ()
    # Where the synth writes it: configs/<capability>/<file name>.
    capability: str = ""

    def __post_init__(self) -> None:
        if not self.path.startswith(CONFIG_DIR + "/"):
            raise ValueError(f"upload {self.path}: uploads go under {CONFIG_DIR} (the container's files volume)")
        used = tuple(sorted(set(_PLACEHOLDER.findall(self.content))))
        if used != tuple(sorted(set(self.secrets))):
            raise ValueError(f"upload {self.path}: placeholders {used} but secrets {self.secrets}")
        if self.secrets and self.mode & 0o077:
            raise ValueError(f"upload {self.path} holds secrets: mode must be 0400 or 0600, not {oct(self.mode)}")

    @property
    def is_secret(self) -> bool:
        return bool(self.secrets)

    def filled(self, values: dict[str, str]) -> str:
        return _PLACEHOLDER.sub(lambda m: values[m.group(1)], self.content)


def sized(resources: Resources) -> dict[str, Any]:
    """A container's size from its settings: the limits it may not exceed, and the requests a
    Swarm reserves for it on its node (as Kubernetes schedules by them)."""
    return {
        "memory_mb": memory_bytes(resources.limits.memory) // 2**20,
        "cpus": cpu_millicores(resources.limits.cpu) / 1000,
        "memory_reservation_mb": memory_bytes(resources.requests.memory) // 2**20,
        "cpu_reservation": cpu_millicores(resources.requests.cpu) / 1000,
    }


def placeholder(secret: str) -> str:
    return f"@@{secret}@@"


def secret_file(secret: str, capability: str = "secrets") -> Upload:
    """One secret alone in a file (`/run/secrets/<name>`), e.g. a password a process reads."""
    return Upload(f"{SECRETS_DIR}/{secret}", placeholder(secret), 0o400, (secret,), capability)


@dataclass(frozen=True)
class Healthcheck:
    """Docker's HEALTHCHECK: `test` runs in the container (CMD form)."""

    test: tuple[str, ...]
    interval_seconds: int = 10
    timeout_seconds: int = 5
    retries: int = 3
    start_period_seconds: int = 30

    @classmethod
    def shell(cls, command: str, **timing: int) -> Healthcheck:
        return cls(("CMD-SHELL", command), **timing)


HAPROXY_PIDFILE = "/tmp/haproxy.pid"


def with_secret_env(command: str) -> str:
    """A shell command line run through the secrets wrapper, as the container's own process is."""
    return f"/bin/sh {ENTRYPOINT} {command}"


def haproxy_healthcheck(config: str) -> Healthcheck:
    """HAProxy's image has a shell but no HTTP client: its config still parses and its master
    process (`-W -p`) lives. The traffic it passes is checked by its own backends' checks. The
    check runs through the secrets wrapper: the config names the secrets' variables, which a
    probe's environment does not have (the check failed for good on the engine tier)."""
    return Healthcheck.shell(
        f'{with_secret_env("haproxy")} -c -q -f {config} && kill -0 "$(cat {HAPROXY_PIDFILE})"',
        interval_seconds=10,
        start_period_seconds=10,
    )


def haproxy_open_files(max_connections: int) -> int:
    """Descriptors HAProxy needs for `maxconn`: two per proxied connection, plus its listeners,
    checks and resolvers. It refuses to start below that (seen on the engine tier, where the
    engine's own limit was 20000); the container asks for it rather than take the host's default."""
    return 2 * max_connections + 1024


@dataclass(frozen=True)
class PortBinding:
    internal: int
    external: int
    # Loopback unless the settings publish on another address.
    ip: str = "127.0.0.1"
    protocol: str = "tcp"


@dataclass(frozen=True)
class NetworkAttachment:
    network: str
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class VolumeMount:
    volume: str
    path: str
    read_only: bool = False


@dataclass(frozen=True)
class ContainerSpec:
    name: str
    image: str
    # Our own command line; the image is relied on for its binaries, paths and user only.
    command: tuple[str, ...]
    networks: tuple[NetworkAttachment, ...]
    memory_mb: int
    cpus: float
    # None only with `unchecked_because`: an image without a shell or a probe of its own.
    healthcheck: Healthcheck | None
    # "uid:gid": never root, unless the image's own start drops privileges (none here do).
    user: str
    # Plain settings only; `Upload`s carry secrets.
    env: tuple[tuple[str, str], ...] = ()
    # Environment variables the wrapper reads from secret files before exec'ing the command.
    secret_env: tuple[tuple[str, str], ...] = ()
    uploads: tuple[Upload, ...] = ()
    volumes: tuple[VolumeMount, ...] = ()
    # Writable scratch space of a read-only container: path -> mount options.
    tmpfs: tuple[tuple[str, str], ...] = ()
    ports: tuple[PortBinding, ...] = ()
    read_only: bool = True
    capabilities_add: tuple[str, ...] = ()
    gpus: int = 0
    labels: tuple[tuple[str, str], ...] = ()
    # Containers (by name) that must be healthy first: `pulumi up` waits for them.
    after: tuple[str, ...] = ()
    stop_grace_seconds: int = 30
    restart: str = "unless-stopped"
    # What the synth files the uploads under.
    capability: str = field(default="", compare=False)
    unchecked_because: str = ""
    # Host paths mounted read-only (host path -> container path): the log shipper's only.
    host_mounts: tuple[tuple[str, str], ...] = ()
    # The log driver of this container; the shipper's own must not be a file it ships.
    log_driver: str = "json-file"
    # uid 0 only with a reason (still without capabilities, read-only, no new privileges).
    root_because: str = ""
    # The open-files limit (soft and hard) where the program needs more than the host's default.
    open_files: int | None = None
    # What a Swarm reserves for a task on its node (None: swarm.py decides from the limits).
    memory_reservation_mb: int | None = None
    cpu_reservation: float | None = None
    # The container's own host name, where a program must resolve its own name at start (a
    # Swarm's DNS answers for a task only once it is healthy); None: Docker's default.
    hostname: str | None = None

    def __post_init__(self) -> None:
        if not self.command or self.command[0].startswith("-"):
            raise ValueError(
                f"container {self.name}: its command starts with the program to run, not {self.command[:1]}"
            )
        if self.healthcheck is None and not self.unchecked_because:
            raise ValueError(f"container {self.name}: a healthcheck, or unchecked_because saying why none")
        if self.user.split(":", 1)[0] in ("0", "root") and not self.root_because:
            raise ValueError(f"container {self.name}: runs as root (root_because says why, if it must)")
        for name, _ in self.env:
            # A *_FILE variable names the file a program reads its secret from: a path, not a secret.
            looks_secret = any(word in name for word in ("PASSWORD", "PASS", "SECRET", "TOKEN", "_URL"))
            if looks_secret and not name.endswith("_FILE") and name not in _PLAIN_ENV:
                raise ValueError(f"container {self.name}: {name} looks like a secret; give it as secret_env")
        if self.secret_env:
            files = {upload.path for upload in self.uploads}
            missing = [path for _, path in self.secret_env if path not in files]
            if missing:
                raise ValueError(f"container {self.name}: secret_env reads files it is not given: {missing}")

    @property
    def files_volume(self) -> str:
        """The volume its uploads are copied into (mounted at CONFIG_DIR)."""
        return f"{self.name}-files"

    @property
    def all_volumes(self) -> tuple[VolumeMount, ...]:
        if not self.all_uploads:
            return self.volumes
        return (VolumeMount(self.files_volume, CONFIG_DIR), *self.volumes)

    @property
    def entrypoint(self) -> tuple[str, ...]:
        """Always set, so the image's own ENTRYPOINT never runs (it would be handed our command
        line as its arguments): the wrapper when secrets go into the environment, else our binary."""
        return ("/bin/sh", ENTRYPOINT) if self.secret_env else self.command[:1]

    @property
    def arguments(self) -> tuple[str, ...]:
        """Docker's CMD beside `entrypoint`: together they are `command`, run as it is written."""
        return self.command if self.secret_env else self.command[1:]

    @property
    def all_uploads(self) -> tuple[Upload, ...]:
        if not self.secret_env:
            return self.uploads
        wrapper = Upload(ENTRYPOINT, secret_env_script(self.secret_env), 0o555, (), "docker")
        return (wrapper, *self.uploads)


# Variables with URL or TOKEN in their name that carry no credential.
_PLAIN_ENV = frozenset(
    {
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "GF_SERVER_ROOT_URL",
        "PROMETHEUS_URL",
        "REDIS_EXPORTER_WEB_LISTEN_ADDRESS",
        # Elasticsearch's address for the retention job; its credentials are files.
        "ES_URL",
    }
)


def secret_env_script(secret_env: tuple[tuple[str, str], ...]) -> str:
    """Export each variable from its file, then exec the command: the values live in the process
    environment only, never in the container's configuration (`docker inspect`)."""
    lines = [
        "#!/bin/sh",
        "# Rendered by teknofest-platform (components/common/docker/containers.py); do not edit by hand.",
        "set -eu",
    ]
    for name, path in secret_env:
        lines.append(f"{name}=$(cat {shlex.quote(path)}); export {name}")
    lines.append('exec "$@"')
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class LocalImage:
    """An image built on the host from a Dockerfile of this repository (no registry needed)."""

    name: str
    context: str
    dockerfile: str
    args: tuple[tuple[str, str], ...] = ()
    # Pushed to its registry (name) after the build: a Swarm's other nodes pull it from there.
    push: bool = False


@dataclass(frozen=True)
class NetworkSpec:
    name: str
    # No route out of the host: the backends' network.
    internal: bool


@dataclass(frozen=True)
class VolumeSpec:
    name: str
    # What it holds, for `docker volume ls` and the operators.
    purpose: str
