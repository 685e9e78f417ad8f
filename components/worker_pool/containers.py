"""The application's pools on one Docker host as container specs (pure): N containers of one
command (Gunicorn, a Celery worker, beat, Flower), each reading its credentials from files."""

from __future__ import annotations

from dataclasses import dataclass

from components.common.docker.containers import (
    SECRETS_DIR,
    ContainerSpec,
    Healthcheck,
    NetworkAttachment,
    PortBinding,
    secret_file,
    sized,
)
from components.common.values import Resources
from components.worker_pool.manifests import APP_USER


def secret_name(variable: str) -> str:
    """The file (and secret) an environment variable is read from: DATABASE_URL -> database-url."""
    return variable.lower().replace("_", "-")


def http_healthcheck(port: int, path: str) -> Healthcheck:
    """The application image has Python, not curl: ask the pool's own readiness endpoint."""
    probe = (
        "import sys, urllib.request; "
        f"sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:{port}{path}', timeout=3).status < 400 else 1)"
    )
    return Healthcheck(("CMD", "python", "-c", probe), interval_seconds=10, timeout_seconds=5, start_period_seconds=60)


@dataclass(frozen=True)
class PoolContainersArgs:
    """One pool: `count` identical containers sharing the pool's network alias."""

    name: str
    image: str
    command: tuple[str, ...]
    count: int
    network: str
    prefix: str
    resources: Resources
    healthcheck: Healthcheck
    env: tuple[tuple[str, str], ...] = ()
    # Variables read from secrets (the component is given their values).
    secret_env: tuple[str, ...] = ()
    # The name other containers reach the pool by (Docker's DNS answers every container's address).
    alias: str | None = None
    # Networks beyond the internal one: the UIs' edge network, or the way out for external APIs.
    extra_networks: tuple[str, ...] = ()
    ports: tuple[PortBinding, ...] = ()
    gpus: int = 0
    stop_grace_seconds: int = 30

    def container(self, index: int) -> str:
        return f"{self.prefix}-{self.name}-{index}" if self.count > 1 else f"{self.prefix}-{self.name}"

    @property
    def secrets(self) -> tuple[str, ...]:
        return tuple(secret_name(variable) for variable in self.secret_env)


def pool_containers(args: PoolContainersArgs) -> list[ContainerSpec]:
    user = f"{APP_USER}:{APP_USER}"
    return [
        ContainerSpec(
            name=args.container(i),
            image=args.image,
            command=args.command,
            networks=(
                NetworkAttachment(args.network, (args.alias or args.name,)),
                *(NetworkAttachment(n) for n in args.extra_networks),
            ),
            **sized(args.resources),
            healthcheck=args.healthcheck,
            user=user,
            env=args.env,
            secret_env=tuple((v, f"{SECRETS_DIR}/{secret_name(v)}") for v in args.secret_env),
            uploads=tuple(secret_file(secret_name(v), args.name) for v in args.secret_env),
            tmpfs=(("/tmp", "rw,noexec,nosuid,size=256m"),),
            # Only one container may publish a host port.
            ports=args.ports if i == 0 else (),
            gpus=args.gpus,
            stop_grace_seconds=args.stop_grace_seconds,
            capability=args.name,
        )
        for i in range(args.count)
    ]
