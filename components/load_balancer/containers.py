"""The docker target's load balancer as a container spec (pure): HAProxy from the same renderer as
on Kubernetes, finding the API containers through Docker's DNS (their shared network alias)."""

from __future__ import annotations

from dataclasses import dataclass

from components.common.docker.containers import (
    CONFIG_DIR,
    HAPROXY_PIDFILE,
    SECRETS_DIR,
    ContainerSpec,
    NetworkAttachment,
    PortBinding,
    Upload,
    haproxy_healthcheck,
    haproxy_open_files,
    placeholder,
    secret_file,
    sized,
)
from components.load_balancer.haproxy_config import (
    COOKIE_KEY_ENV,
    STATS_PASSWORD_ENV,
    STATS_USER_ENV,
    HaproxyInputs,
    HostRoute,
    Peer,
    render_entrypoint,
    render_haproxy_cfg,
    ui_password_env,
)
from components.load_balancer.manifests import PEER_PORT, traffic_policy
from components.load_balancer.settings import LoadBalancer

HAPROXY_UID = "99:99"
RUNTIME = "/var/run/haproxy"
TLS_SECRET = "haproxy-site-pem"


@dataclass(frozen=True)
class UiRoute:
    """A UI served on its own host through this load balancer (basic auth where it has no login)."""

    key: str
    host: str
    server: str  # "alias:port" on the edge network
    needs_auth: bool = False
    # HTTPS to the UI (Kibana); unverified on this hop, which only the edge network carries.
    tls_backend: bool = False

    @property
    def password_env(self) -> str | None:
        return ui_password_env(self.key) if self.needs_auth else None

    @property
    def secret(self) -> str:
        return f"haproxy-ui-{self.key}-password"


@dataclass(frozen=True)
class LoadBalancerHostArgs:
    settings: LoadBalancer
    image: str
    # The internal network of the API containers, and the edge network the published ports are on.
    network: str
    edge_network: str
    prefix: str
    api_alias: str
    api_port: int
    api_max_servers: int
    api_ready_path: str
    public_host: str
    # Where the published ports listen: HTTP(S) on `edge_address`, stats on `stats_address`.
    edge_address: str
    stats_address: str
    http_port: int
    https_port: int
    stats_port: int
    tls: bool
    ui_routes: tuple[UiRoute, ...] = ()
    name: str = "haproxy"

    @property
    def container(self) -> str:
        return f"{self.prefix}-{self.name}"

    @property
    def secrets(self) -> tuple[str, ...]:
        own = ("haproxy-stats-password", "haproxy-cookie-key", *(r.secret for r in self.ui_routes if r.needs_auth))
        return (*own, *((TLS_SECRET,) if self.tls else ()))


def haproxy_inputs(args: LoadBalancerHostArgs) -> HaproxyInputs:
    return HaproxyInputs(
        api_fqdn=args.api_alias,
        api_port=args.api_port,
        api_max_servers=args.api_max_servers,
        ready_path=args.api_ready_path,
        health_host=args.public_host,
        **traffic_policy(args.settings),
        tls_certificate=f"{SECRETS_DIR}/site.pem" if args.tls else None,
        # One load balancer on one host: its stick table is its own (a peer of itself).
        peers=(Peer(args.name, "127.0.0.1", PEER_PORT),),
        # Docker's embedded DNS: every API container behind the alias, as they come and go.
        nameservers=("127.0.0.11:53",),
        runtime_dir=RUNTIME,
        host_routes=tuple(HostRoute(r.key, r.host, r.server, r.tls_backend, r.password_env) for r in args.ui_routes),
    )


def load_balancer_container(args: LoadBalancerHostArgs) -> ContainerSpec:
    inputs = haproxy_inputs(args)
    ports = [PortBinding(inputs.http_port, args.http_port, args.edge_address)]
    if args.tls:
        ports.append(PortBinding(inputs.https_port, args.https_port, args.edge_address))
    ports.append(PortBinding(inputs.stats_port, args.stats_port, args.stats_address))
    secret_env = [
        (STATS_PASSWORD_ENV, f"{SECRETS_DIR}/haproxy-stats-password"),
        (COOKIE_KEY_ENV, f"{SECRETS_DIR}/haproxy-cookie-key"),
        *((r.password_env, f"{SECRETS_DIR}/{r.secret}") for r in args.ui_routes if r.password_env),
    ]
    secret_files = [secret_file(secret, "load_balancer") for secret in args.secrets if secret != TLS_SECRET]
    if args.tls:
        secret_files.append(Upload(f"{SECRETS_DIR}/site.pem", placeholder(TLS_SECRET), 0o400, (TLS_SECRET,), "secrets"))
    return ContainerSpec(
        name=args.container,
        image=args.image,
        command=("/bin/sh", f"{CONFIG_DIR}/entrypoint.sh", "-L", args.name, "-p", HAPROXY_PIDFILE),
        # Its name on the backend network: Prometheus scrapes its stats frontend there (without the
        # alias the scrape never resolved; seen on the engine tier).
        networks=(NetworkAttachment(args.network, (args.name,)), NetworkAttachment(args.edge_network)),
        **sized(args.settings.resources),
        healthcheck=haproxy_healthcheck(f"{RUNTIME}/haproxy.cfg"),
        user=HAPROXY_UID,
        env=((STATS_USER_ENV, "admin"),),
        secret_env=tuple(secret_env),
        uploads=(
            Upload(f"{CONFIG_DIR}/haproxy.cfg", render_haproxy_cfg(inputs), capability="load_balancer"),
            Upload(
                f"{CONFIG_DIR}/entrypoint.sh",
                render_entrypoint(f"{CONFIG_DIR}/haproxy.cfg", RUNTIME, peer_wait_seconds=5),
                0o555,
                capability="load_balancer",
            ),
            *secret_files,
        ),
        tmpfs=(("/tmp", "rw,noexec,nosuid,size=1m,uid=99,gid=99"), (RUNTIME, "rw,noexec,nosuid,size=4m,uid=99,gid=99")),
        ports=tuple(ports),
        stop_grace_seconds=args.settings.hard_stop_after_seconds + 5,
        open_files=haproxy_open_files(inputs.max_connections),
        capability="load_balancer",
    )
