"""Pure renderer of haproxy.cfg: typed inputs in, config text out. Knows nothing of Pulumi.

The same text runs in Kubernetes (addresses from DNS, resolvers from the pod's resolv.conf) and in
the integration tests (only addresses, ports and paths replaced, via `dataclasses.replace`).
"""

from __future__ import annotations

from dataclasses import dataclass

PEERS_SECTION = "lb_peers"
RESOLVERS_SECTION = "cluster_dns"
API_BACKEND = "api"
COOKIE_NAME = "TKSRV"
# Environment variables the container gets from Kubernetes Secrets; HAProxy expands "${NAME}".
STATS_USER_ENV = "HAPROXY_STATS_USER"
STATS_PASSWORD_ENV = "HAPROXY_STATS_PASSWORD"
COOKIE_KEY_ENV = "HAPROXY_COOKIE_KEY"


@dataclass(frozen=True)
class Peer:
    name: str  # must equal the replica's hostname (HAProxy's local peer name)
    address: str
    port: int


@dataclass(frozen=True)
class HostRoute:
    """A public host served by its own backend (a monitoring UI) rather than the API, behind the same
    frontend: the same TLS, rate limit and headers."""

    name: str  # backend and userlist suffix: "grafana" -> backend ui_grafana
    host: str
    server: str  # "fqdn:port"
    # HTTPS to the backend (Kibana: ECK serves it with a CA that lives in another namespace).
    tls_backend: bool = False
    # Environment variable holding the basic-auth password where the UI has no login; None: its own login.
    password_env: str | None = None

    @property
    def backend(self) -> str:
        return f"ui_{self.name}"


@dataclass(frozen=True)
class HaproxyInputs:
    # Service discovery of the API pods: A records of a headless Service.
    api_fqdn: str
    api_port: int
    api_max_servers: int  # the autoscaler's maximum: one server slot per possible pod
    ready_path: str
    health_host: str
    # Traffic policy.
    rate_limit_per_second: int
    rate_limit_table_size: int
    check_interval_seconds: int
    check_fall: int
    check_rise: int
    error_limit: int
    retries: int
    max_connections: int
    per_server_max_connections: int
    timeout_connect_seconds: int
    timeout_client_seconds: int
    timeout_server_seconds: int
    timeout_http_request_seconds: int
    timeout_queue_seconds: int
    timeout_tunnel_seconds: int
    hard_stop_after_seconds: int
    hsts_max_age_seconds: int
    session_affinity: bool
    accept_proxy_protocol: bool
    # TLS: PEM certificate path (its key beside it as <path>.key); None serves plain HTTP only.
    tls_certificate: str | None
    peers: tuple[Peer, ...]
    # "resolv.conf" reads the pod's nameservers; otherwise explicit "ip:port" nameservers.
    nameservers: tuple[str, ...] = ()
    # Listening: "" is every address of the pod's own network namespace.
    bind_address: str = ""
    http_port: int = 8080
    https_port: int = 8443
    stats_port: int = 8404
    runtime_dir: str = "/var/run/haproxy"
    host_routes: tuple[HostRoute, ...] = ()


def ui_password_env(key: str) -> str:
    """The variable HAProxy reads a published UI's basic-auth password from (its userlist)."""
    return f"HAPROXY_UI_{key.upper()}_PASSWORD"


def _bind(address: str, port: int) -> str:
    return f"{address}:{port}"


def render_haproxy_cfg(cfg: HaproxyInputs) -> str:
    proxy = " accept-proxy" if cfg.accept_proxy_protocol else ""
    lines: list[str] = [
        "# Rendered by teknofest-platform (components/load_balancer/haproxy_config.py); do not edit by hand.",
        "global",
        "    log stdout format raw local0 info",
        f"    maxconn {cfg.max_connections}",
        # A soft stop (SIGUSR1, the image's STOPSIGNAL) lets open connections finish, up to this bound.
        f"    hard-stop-after {cfg.hard_stop_after_seconds}s",
        f"    stats socket {cfg.runtime_dir}/admin.sock mode 600 level admin expose-fd listeners",
        "    ssl-default-bind-options ssl-min-ver TLSv1.2 no-tls-tickets",
        "    ssl-default-bind-ciphers ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
        "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:"
        "ECDHE-RSA-CHACHA20-POLY1305",
        "    ssl-default-bind-ciphersuites TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256",
        "",
        "defaults",
        "    mode http",
        "    log global",
        "    option httplog",
        "    option dontlognull",
        # Redispatch on every retry, so a request that met a dead server goes to a live one.
        "    option redispatch 1",
        f"    retries {cfg.retries}",
        # A refused connect never reached the application and is always retried; a connection that
        # died before any answer (a pod killed mid-request) or a 503 is retried only for idempotent
        # methods (see disable-l7-retry in the frontend), so writes are never replayed.
        "    retry-on conn-failure empty-response 503",
        f"    timeout connect {cfg.timeout_connect_seconds}s",
        f"    timeout client {cfg.timeout_client_seconds}s",
        f"    timeout server {cfg.timeout_server_seconds}s",
        f"    timeout http-request {cfg.timeout_http_request_seconds}s",
        "    timeout http-keep-alive 10s",
        f"    timeout queue {cfg.timeout_queue_seconds}s",
        # WebSocket connections live in tunnel mode after the upgrade.
        f"    timeout tunnel {cfg.timeout_tunnel_seconds}s",
        "    timeout client-fin 5s",
        "",
        f"resolvers {RESOLVERS_SECTION}",
    ]
    if cfg.nameservers:
        lines += [f"    nameserver ns{i} {ns}" for i, ns in enumerate(cfg.nameservers, start=1)]
    else:
        lines.append("    parse-resolv-conf")
    lines += [
        "    resolve_retries 3",
        "    timeout resolve 1s",
        "    timeout retry 1s",
        # A pod that left DNS is dropped after 5 s; health checks have usually taken it out already.
        "    hold valid 5s",
        "    hold obsolete 5s",
        "    hold nx 5s",
        "    hold other 5s",
        "    hold refused 5s",
        "    hold timeout 5s",
        "    accepted_payload_size 8192",
        "",
        f"peers {PEERS_SECTION}",
        *[f"    peer {p.name} {p.address}:{p.port}" for p in cfg.peers],
        "",
    ]
    for route in cfg.host_routes:
        if route.password_env:
            # The password is compared as written, from a Secret in the environment (like the stats
            # page's): a slow hash would stall HAProxy's event loop on every request, and a 32-character
            # generated password gains nothing from hashing against guessing.
            lines += [
                f"userlist {route.backend}",
                f'    user admin insecure-password "${{{route.password_env}}}"',
                "",
            ]
    lines += [
        "frontend public",
        f"    bind {_bind(cfg.bind_address, cfg.http_port)}{proxy}",
    ]
    if cfg.tls_certificate:
        lines.append(
            f"    bind {_bind(cfg.bind_address, cfg.https_port)}{proxy} ssl crt {cfg.tls_certificate} alpn h2,http/1.1"
        )
    lines += [
        "    unique-id-format %{+X}o%ci:%cp_%fi:%fp_%Ts_%rt:%pid",
        # Per-client-IP request rate, synchronised with the other replicas through the peers.
        f"    stick-table type ipv6 size {cfg.rate_limit_table_size} expire 10s"
        f" store http_req_rate(1s) peers {PEERS_SECTION}",
        "    http-request track-sc0 src",
        f"    http-request deny deny_status 429 if {{ sc_http_req_rate(0) gt {cfg.rate_limit_per_second} }}",
    ]
    if cfg.tls_certificate:
        lines.append("    http-request redirect scheme https code 301 unless { ssl_fc }")
    for route in cfg.host_routes:
        lines.append(f"    acl host_{route.backend} req.hdr(host),field(1,:),lower -m str {route.host}")
    for route in cfg.host_routes:
        if route.password_env:
            # After the rate limit (guessing is throttled) and the HTTPS redirect (never in clear text).
            lines.append(
                f'    http-request auth realm "TEKNOFEST {route.name}" '
                f"if host_{route.backend} !{{ http_auth({route.backend}) }}"
            )
    lines += [
        "    http-request disable-l7-retry unless METH_GET || METH_HEAD || METH_OPTIONS",
        # Clients must not choose the address or scheme the application believes.
        "    http-request del-header X-Forwarded-For",
        "    http-request set-header X-Forwarded-Proto https if { ssl_fc }",
        "    http-request set-header X-Forwarded-Proto http unless { ssl_fc }",
        "    http-request set-header X-Request-ID %[unique-id] unless { req.hdr(x-request-id) -m found }",
        "    option forwardfor",
    ]
    if cfg.tls_certificate:
        lines.append(
            f'    http-response set-header Strict-Transport-Security "max-age={cfg.hsts_max_age_seconds}; '
            'includeSubDomains" if { ssl_fc }'
        )
    lines += [
        "    http-response set-header X-Content-Type-Options nosniff",
        "    http-response set-header X-Frame-Options DENY",
        "    http-response set-header Referrer-Policy strict-origin-when-cross-origin",
        "    http-response del-header Server",
        "    http-response del-header X-Powered-By",
        *[f"    use_backend {route.backend} if host_{route.backend}" for route in cfg.host_routes],
        f"    default_backend {API_BACKEND}",
        "",
        # Not public: the Service that exposes it is ClusterIP, NetworkPolicy admits Prometheus only,
        # and the page itself asks for the generated credentials.
        "frontend stats",
        f"    bind {_bind(cfg.bind_address, cfg.stats_port)}",
        # Scrapes and probes would drown the access log.
        "    http-request set-log-level silent",
        "    http-request use-service prometheus-exporter if { path /metrics }",
        "    monitor-uri /healthz",
        "    stats enable",
        "    stats uri /stats",
        "    stats refresh 10s",
        "    stats hide-version",
        f'    stats auth "${{{STATS_USER_ENV}}}:${{{STATS_PASSWORD_ENV}}}"',
        "",
        f"backend {API_BACKEND}",
        "    balance roundrobin",
        "    option httpchk",
        f"    http-check send meth GET uri {cfg.ready_path} ver HTTP/1.1 hdr Host {cfg.health_host}",
        "    http-check expect status 200",
    ]
    if cfg.session_affinity:
        # Dynamic cookies hash the server's address with a shared key: every replica computes the
        # same value, and it stays valid while the pool scales.
        lines += [
            f'    cookie {COOKIE_NAME} insert indirect nocache dynamic httponly secure attr "SameSite=Lax"',
            f'    dynamic-cookie-key "${{{COOKIE_KEY_ENV}}}"',
        ]
    lines += [
        # Circuit breaking: after error-limit consecutive failures a server is marked down until
        # its health check rises again.
        f"    default-server check inter {cfg.check_interval_seconds}s fall {cfg.check_fall} rise {cfg.check_rise}"
        f" slowstart 10s maxconn {cfg.per_server_max_connections}"
        f" observe layer7 error-limit {cfg.error_limit} on-error mark-down"
        f" resolvers {RESOLVERS_SECTION} resolve-prefer ipv4 init-addr none",
        f"    server-template api {cfg.api_max_servers} {cfg.api_fqdn}:{cfg.api_port}",
        "",
    ]
    for route in cfg.host_routes:
        lines += _ui_backend(route, cfg)
    return "\n".join(lines)


def _ui_backend(route: HostRoute, cfg: HaproxyInputs) -> list[str]:
    # Verification off on the in-cluster hop only: ECK's CA is a Secret of the monitoring namespace,
    # which a pod here cannot mount; NetworkPolicies admit only this edge to the UI. On Docker the
    # hop is the host's edge network.
    tls = " ssl verify none alpn http/1.1" if route.tls_backend else ""
    lines = [f"backend {route.backend}", "    balance roundrobin"]
    if route.password_env:
        # The UI never sees the edge's credentials.
        lines.append("    http-request del-header Authorization")
    lines += [
        f"    default-server check inter {cfg.check_interval_seconds}s fall {cfg.check_fall} rise {cfg.check_rise}"
        f" resolvers {RESOLVERS_SECTION} resolve-prefer ipv4 init-addr none",
        f"    server {route.name} {route.server}{tls}",
        "",
    ]
    return lines


def render_entrypoint(config_source: str, runtime_dir: str, peer_wait_seconds: int) -> str:
    """Start-up script: HAProxy refuses to start while a peer's name does not resolve and ignores
    init-addr in peers sections (haproxy/haproxy#930), so wait for the other replicas for a while,
    then start without those still missing (they rejoin at the next rollout)."""
    return f"""#!/bin/sh
set -eu
src="${{HAPROXY_CONFIG_SOURCE:-{config_source}}}"
cfg="${{HAPROXY_RUNTIME_DIR:-{runtime_dir}}}/haproxy.cfg"
cp "$src" "$cfg"
deadline=$(( $(date +%s) + ${{PEER_WAIT_SECONDS:-{peer_wait_seconds}}} ))
peers=$(awk '/^peers /{{p=1; next}} /^[^ ]/{{p=0}} p && $1 == "peer" {{split($3, a, ":"); print a[1]}}' "$cfg")
for host in $peers; do
  until getent hosts "$host" >/dev/null 2>&1; do
    if [ "$(date +%s)" -ge "$deadline" ]; then
      echo "peer $host does not resolve; starting without it" >&2
      awk -v h="$host" '!($1 == "peer" && index($3, h ":") == 1)' "$cfg" > "$cfg.tmp" && mv "$cfg.tmp" "$cfg"
      break
    fi
    sleep 1
  done
done
exec haproxy -W -db -f "$cfg" "$@"
"""


@dataclass(frozen=True)
class RedisMasterInputs:
    """An HAProxy TCP endpoint that always reaches the current Redis master."""

    servers: tuple[tuple[str, str, int], ...]  # (name, host, port) of every Redis pod
    # The ACL user the health check signs in as, and the variable that holds its password.
    check_user: str
    password_env: str
    check_interval_seconds: int = 1
    bind_address: str = ""
    port: int = 6379
    stats_port: int = 8404
    # "resolv.conf" reads the pod's nameservers; otherwise explicit "ip:port" nameservers.
    nameservers: tuple[str, ...] = ()
    # Below Redis's own 10000 clients: the Sentinels, the replica and the exporter reach the
    # servers directly. Each proxied client costs two descriptors (haproxy_open_files).
    max_connections: int = 8000
    client_timeout_seconds: int = 3600


def render_redis_master_cfg(cfg: RedisMasterInputs) -> str:
    lines = [
        "# Rendered by teknofest-platform (components/load_balancer/haproxy_config.py); do not edit by hand.",
        "global",
        "    log stdout format raw local0 info",
        f"    maxconn {cfg.max_connections}",
        "",
        "defaults",
        "    mode tcp",
        "    log global",
        "    option tcplog",
        "    timeout connect 3s",
        # Redis clients keep connections open (pub/sub, blocking pops).
        f"    timeout client {cfg.client_timeout_seconds}s",
        f"    timeout server {cfg.client_timeout_seconds}s",
        "",
        f"resolvers {RESOLVERS_SECTION}",
        *([f"    nameserver ns{i} {ns}" for i, ns in enumerate(cfg.nameservers, 1)] or ["    parse-resolv-conf"]),
        "    hold valid 5s",
        "    hold obsolete 5s",
        "",
        "frontend redis_master",
        f"    bind {_bind(cfg.bind_address, cfg.port)}",
        "    default_backend redis_master",
        "",
        "frontend stats",
        f"    bind {_bind(cfg.bind_address, cfg.stats_port)}",
        "    mode http",
        "    http-request use-service prometheus-exporter if { path /metrics }",
        "    monitor-uri /healthz",
        "",
        "backend redis_master",
        # Only the server that says role:master passes; after a failover the old master fails the
        # check and its client connections are cut, so clients reconnect to the new one.
        # One master at a time even while two briefly claim the role.
        "    balance first",
        "    option tcp-check",
        "    tcp-check connect",
        f'    tcp-check send "AUTH {cfg.check_user} ${{{cfg.password_env}}}\\r\\n"',
        "    tcp-check expect string +OK",
        '    tcp-check send "PING\\r\\n"',
        "    tcp-check expect string +PONG",
        '    tcp-check send "INFO replication\\r\\n"',
        "    tcp-check expect string role:master",
        '    tcp-check send "QUIT\\r\\n"',
        "    tcp-check expect string +OK",
        f"    default-server check inter {cfg.check_interval_seconds}s fall 1 rise 2 on-marked-down shutdown-sessions"
        f" resolvers {RESOLVERS_SECTION} resolve-prefer ipv4 init-addr last,libc,none",
        *[f"    server {name} {host}:{port}" for name, host, port in cfg.servers],
        "",
    ]
    return "\n".join(lines)
