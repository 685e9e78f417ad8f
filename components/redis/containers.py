"""The docker target's Redis as container specs (pure): master and replicas, three Sentinels and
the "redis-master" endpoint, from the same renderers and start-up scripts as on Kubernetes. The
containers announce their network aliases, which Docker's DNS resolves on the internal network."""

from __future__ import annotations

import json
from dataclasses import dataclass

from components.common.docker.containers import (
    CONFIG_DIR,
    HAPROXY_PIDFILE,
    SECRETS_DIR,
    ContainerSpec,
    Healthcheck,
    NetworkAttachment,
    Upload,
    VolumeMount,
    VolumeSpec,
    haproxy_healthcheck,
    haproxy_open_files,
    placeholder,
    secret_file,
    sized,
)
from components.load_balancer.haproxy_config import RedisMasterInputs, render_redis_master_cfg
from components.redis.manifests import redis_inputs
from components.redis.redis_config import (
    ACL_USERS,
    MONITOR_USER,
    SENTINEL_USER,
    AclUser,
    render_redis_conf,
    render_redis_start,
    render_sentinel_conf,
    render_sentinel_start,
)
from components.redis.settings import Redis

# The official image's "redis" user; HAProxy's "haproxy" user; redis_exporter's own user.
REDIS_UID = "999:999"
HAPROXY_UID = "99:99"
EXPORTER_UID = "59000:59000"
RUNTIME = "/run/redis"
EXPORTER_PORT = 9121


def password_secret(user: AclUser) -> str:
    """The secret (file) of an ACL user's password."""
    return f"redis-{user.name}-password"


SENTINEL_SECRET = "redis-sentinels-password"


@dataclass(frozen=True)
class RedisHostArgs:
    """One Redis master with replicas, its Sentinels and the master endpoint on one Docker host."""

    settings: Redis
    image: str
    proxy_image: str
    network: str
    prefix: str
    # The redis_exporter image; None: no exporter.
    exporter_image: str | None = None
    name: str = "redis"

    def alias(self, role: str) -> str:
        return f"{self.name}-{role}"

    def container(self, role: str) -> str:
        return f"{self.prefix}-{self.name}-{role}"

    @property
    def instances(self) -> tuple[str, ...]:
        return tuple(str(i) for i in range(1 + self.settings.replicas))

    @property
    def sentinels(self) -> tuple[str, ...]:
        return tuple(f"sentinel-{i}" for i in range(self.settings.sentinels))

    @property
    def master_endpoint(self) -> str:
        return f"{self.alias('master')}:6379"

    @property
    def sentinel_endpoints(self) -> tuple[str, ...]:
        return tuple(f"{self.alias(s)}:26379" for s in self.sentinels)

    @property
    def secrets(self) -> tuple[str, ...]:
        return (*(password_secret(user) for user in ACL_USERS), SENTINEL_SECRET)


def _script_env(args: RedisHostArgs, role: str) -> tuple[tuple[str, str], ...]:
    return (
        ("ANNOUNCE_HOST", args.alias(role)),
        ("SENTINEL_ADDRESSES", " ".join(args.sentinel_endpoints)),
        ("BOOTSTRAP_MASTER", f"{args.alias('0')}:6379"),
        ("CONFIG_DIR", CONFIG_DIR),
        ("RUNTIME_DIR", RUNTIME),
    )


def _secret_env(users: tuple[AclUser, ...]) -> tuple[tuple[str, str], ...]:
    return (
        *((user.password_env, f"{SECRETS_DIR}/{password_secret(user)}") for user in users),
        ("SENTINEL_PASSWORD", f"{SECRETS_DIR}/{SENTINEL_SECRET}"),
    )


def _secret_files(users: tuple[AclUser, ...]) -> tuple[Upload, ...]:
    return (*(secret_file(password_secret(user), "redis") for user in users), secret_file(SENTINEL_SECRET, "redis"))


def _config(args: RedisHostArgs) -> tuple[Upload, ...]:
    inputs = redis_inputs(args.settings)
    files = {
        "redis.conf": render_redis_conf(inputs),
        "sentinel.conf": render_sentinel_conf(inputs),
        "redis-start.sh": render_redis_start(inputs),
        "sentinel-start.sh": render_sentinel_start(inputs),
    }
    return tuple(Upload(f"{CONFIG_DIR}/{name}", text, 0o444, (), "redis") for name, text in files.items())


def volumes(args: RedisHostArgs) -> list[VolumeSpec]:
    return [VolumeSpec(f"{args.container(i)}-data", f"redis data ({i})") for i in args.instances]


def _ping(user: AclUser, port: int, password_file: str) -> Healthcheck:
    login = f"--user {user.name} " if user is MONITOR_USER else ""
    return Healthcheck.shell(
        f'REDISCLI_AUTH="$(cat {password_file})" redis-cli {login}-p {port} ping | grep -q PONG',
        interval_seconds=5,
        start_period_seconds=30,
    )


def redis_containers(args: RedisHostArgs) -> list[ContainerSpec]:
    servers = [
        ContainerSpec(
            name=args.container(i),
            image=args.image,
            command=("sh", f"{CONFIG_DIR}/redis-start.sh"),
            networks=(NetworkAttachment(args.network, (args.alias(i),)),),
            **sized(args.settings.resources),
            healthcheck=_ping(MONITOR_USER, 6379, f"{SECRETS_DIR}/{password_secret(MONITOR_USER)}"),
            user=REDIS_UID,
            env=_script_env(args, i),
            secret_env=_secret_env(ACL_USERS),
            uploads=(*_config(args), *_secret_files(ACL_USERS)),
            volumes=(VolumeMount(f"{args.container(i)}-data", "/data"),),
            tmpfs=((RUNTIME, "rw,noexec,nosuid,size=16m,uid=999,gid=999"),),
            capability="redis",
        )
        for i in args.instances
    ]
    sentinels = [
        ContainerSpec(
            name=args.container(s),
            image=args.image,
            command=("sh", f"{CONFIG_DIR}/sentinel-start.sh"),
            networks=(NetworkAttachment(args.network, (args.alias(s),)),),
            memory_mb=128,
            cpus=0.2,
            healthcheck=_ping(SENTINEL_USER, 26379, f"{SECRETS_DIR}/{SENTINEL_SECRET}"),
            user=REDIS_UID,
            env=_script_env(args, s),
            secret_env=_secret_env((SENTINEL_USER,)),
            uploads=(*_config(args), *_secret_files((SENTINEL_USER,))),
            tmpfs=((RUNTIME, "rw,noexec,nosuid,size=16m,uid=999,gid=999"),),
            after=(servers[0].name,),
            capability="redis",
        )
        for s in args.sentinels
    ]
    proxy_inputs = RedisMasterInputs(
        servers=tuple((f"{args.name}-{i}", args.alias(i), 6379) for i in args.instances),
        check_user=MONITOR_USER.name,
        password_env=MONITOR_USER.password_env,
    )
    proxy_config = render_redis_master_cfg(proxy_inputs)
    proxy = ContainerSpec(
        name=args.container("master"),
        image=args.proxy_image,
        command=("haproxy", "-W", "-db", "-p", HAPROXY_PIDFILE, "-f", f"{CONFIG_DIR}/redis-master.cfg"),
        networks=(NetworkAttachment(args.network, (args.alias("master"),)),),
        memory_mb=128,
        cpus=0.5,
        healthcheck=haproxy_healthcheck(f"{CONFIG_DIR}/redis-master.cfg"),
        user=HAPROXY_UID,
        secret_env=((MONITOR_USER.password_env, f"{SECRETS_DIR}/{password_secret(MONITOR_USER)}"),),
        uploads=(
            Upload(f"{CONFIG_DIR}/redis-master.cfg", proxy_config, 0o444, (), "redis_master"),
            secret_file(password_secret(MONITOR_USER), "redis"),
        ),
        tmpfs=(("/tmp", "rw,noexec,nosuid,size=1m,uid=99,gid=99"),),
        after=tuple(s.name for s in servers),
        open_files=haproxy_open_files(proxy_inputs.max_connections),
        capability="redis_master",
    )
    found = [*servers, *sentinels, proxy]
    if args.exporter_image:
        found.append(exporter_container(args))
    return found


def exporter_container(args: RedisHostArgs) -> ContainerSpec:
    """redis_exporter as the monitor ACL user; its image has no shell, so its passwords come from
    its own password file (one per address) and Prometheus's scrape is its health."""
    addresses = {f"redis://{args.alias(i)}:6379": placeholder(password_secret(MONITOR_USER)) for i in args.instances}
    return ContainerSpec(
        name=args.container("exporter"),
        image=args.exporter_image or "",
        command=(
            "/redis_exporter",
            f"--redis.addr=redis://{args.alias('0')}:6379",
            f"--redis.user={MONITOR_USER.name}",
            f"--redis.password-file={SECRETS_DIR}/redis-exporter-passwords.json",
            f"--web.listen-address=:{EXPORTER_PORT}",
            "--is-tile38=false",
        ),
        networks=(NetworkAttachment(args.network, (args.alias("exporter"),)),),
        memory_mb=64,
        cpus=0.2,
        healthcheck=None,
        unchecked_because="the image is a static binary without a shell; Prometheus's scrape (the up metric) checks it",
        user=EXPORTER_UID,
        uploads=(
            Upload(
                f"{SECRETS_DIR}/redis-exporter-passwords.json",
                json.dumps(addresses, indent=2, sort_keys=True) + "\n",
                0o400,
                (password_secret(MONITOR_USER),),
                "redis",
            ),
        ),
        after=(args.container("0"),),
        capability="redis",
    )
