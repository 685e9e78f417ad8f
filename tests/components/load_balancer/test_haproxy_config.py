"""The haproxy.cfg renderer from a literal production-like spec, read as text (tests/integration
runs it in the real daemon)."""

from __future__ import annotations

import dataclasses

from components.load_balancer.haproxy_config import render_entrypoint, render_haproxy_cfg
from components.load_balancer.manifests import LoadBalancerSpec, PublicRoute, haproxy_inputs
from components.load_balancer.settings import LoadBalancer

DOMAIN = "egitim-eylemci.example.org"
# Three replicas, TLS, and three published UIs: Grafana and Kibana (logins of their own, Kibana
# over HTTPS) and Jaeger (basic auth at the edge).
PRODUCTION = LoadBalancerSpec(
    settings=LoadBalancer(replicas=3),
    namespace="teknofest-production",
    environment="production",
    image="docker.io/library/haproxy:2.6.22",
    cluster_domain="cluster.local",
    api_headless_service="api-headless",
    api_port=8000,
    api_max_servers=20,
    api_ready_path="/health/ready",
    api_selector={"app.kubernetes.io/name": "api"},
    public_host=f"api.{DOMAIN}",
    tls_secret_name="api-tls",
    monitoring_namespace="monitoring",
    require_distinct_nodes=True,
    ui_routes=(
        PublicRoute(
            "grafana", f"grafana.{DOMAIN}", "monitoring", "grafana", 80, {"app.kubernetes.io/name": "grafana"}, 3000
        ),
        PublicRoute(
            "kibana",
            f"kibana.{DOMAIN}",
            "monitoring",
            "kibana-kb-http",
            5601,
            {"kibana.k8s.elastic.co/name": "kibana"},
            5601,
            tls_backend=True,
        ),
        PublicRoute(
            "jaeger",
            f"jaeger.{DOMAIN}",
            "monitoring",
            "jaeger",
            16686,
            {"app.kubernetes.io/name": "jaeger"},
            16686,
            needs_auth=True,
        ),
    ),
)


def production_cfg(spec: LoadBalancerSpec = PRODUCTION, **changes: object) -> str:
    return render_haproxy_cfg(dataclasses.replace(haproxy_inputs(spec), **changes))  # type: ignore[arg-type]


def section(cfg: str, header: str) -> list[str]:
    lines = cfg.splitlines()
    start = lines.index(header)
    body = []
    for line in lines[start + 1 :]:
        if line and not line.startswith(" "):
            break
        body.append(line.strip())
    return [line for line in body if line]


def test_api_pods_are_found_by_dns_one_slot_per_possible_replica() -> None:
    cfg = production_cfg()
    backend = section(cfg, "backend api")
    assert "server-template api 20 api-headless.teknofest-production.svc.cluster.local:8000" in backend
    default_server = next(line for line in backend if line.startswith("default-server"))
    for fragment in (
        "resolvers cluster_dns",
        "init-addr none",
        "check inter 1s fall 2 rise 2",
        "observe layer7 error-limit 5 on-error mark-down",
    ):
        assert fragment in default_server
    assert "parse-resolv-conf" in section(cfg, "resolvers cluster_dns")


def test_health_checks_use_the_readiness_path() -> None:
    backend = section(production_cfg(), "backend api")
    assert "http-check send meth GET uri /health/ready ver HTTP/1.1 hdr Host api.egitim-eylemci.example.org" in backend
    assert "http-check expect status 200" in backend
    changed = dataclasses.replace(PRODUCTION, api_ready_path="/health")
    assert "uri /health ver" in "\n".join(section(production_cfg(changed), "backend api"))


def test_rate_limit_per_client_ip_is_shared_with_peers() -> None:
    frontend = section(production_cfg(), "frontend public")
    table = next(line for line in frontend if line.startswith("stick-table"))
    assert "store http_req_rate(1s)" in table and "peers lb_peers" in table
    assert "http-request deny deny_status 429 if { sc_http_req_rate(0) gt 100 }" in frontend
    # Tracking comes before the redirect, so plain-HTTP floods are limited too.
    assert frontend.index("http-request track-sc0 src") < frontend.index(
        "http-request redirect scheme https code 301 unless { ssl_fc }"
    )


def test_one_peer_per_replica_named_after_its_pod() -> None:
    peers = section(production_cfg(), "peers lb_peers")
    assert peers == [
        f"peer haproxy-{i} haproxy-{i}.haproxy-peers.teknofest-production.svc.cluster.local:10000" for i in range(3)
    ]


def test_tls_termination_and_security_headers() -> None:
    frontend = section(production_cfg(), "frontend public")
    assert "bind :8443 ssl crt /etc/haproxy/tls/site.pem alpn h2,http/1.1" in frontend
    assert any(
        line.startswith('http-response set-header Strict-Transport-Security "max-age=31536000') for line in frontend
    )
    assert "http-response del-header Server" in frontend
    plain = production_cfg(PRODUCTION, tls_certificate=None)
    assert "ssl crt" not in plain and "redirect scheme https" not in plain and "Strict-Transport" not in plain


def test_client_ip_by_proxy_protocol_when_asked() -> None:
    assert "accept-proxy" not in production_cfg()
    frontend = section(production_cfg(PRODUCTION, accept_proxy_protocol=True), "frontend public")
    assert [line for line in frontend if line.startswith("bind")] == [
        "bind :8080 accept-proxy",
        "bind :8443 accept-proxy ssl crt /etc/haproxy/tls/site.pem alpn h2,http/1.1",
    ]


def test_affinity_cookie_is_dynamic_with_a_shared_secret_key() -> None:
    backend = section(production_cfg(), "backend api")
    assert any(line.startswith("cookie TKSRV insert indirect nocache dynamic") for line in backend)
    assert 'dynamic-cookie-key "${HAPROXY_COOKIE_KEY}"' in backend
    assert not any(
        "cookie" in line for line in section(production_cfg(PRODUCTION, session_affinity=False), "backend api")
    )


def test_stats_page_needs_credentials_and_metrics_are_served() -> None:
    stats = section(production_cfg(), "frontend stats")
    assert 'stats auth "${HAPROXY_STATS_USER}:${HAPROXY_STATS_PASSWORD}"' in stats
    assert "http-request use-service prometheus-exporter if { path /metrics }" in stats
    assert "monitor-uri /healthz" in stats


def test_writes_are_never_replayed() -> None:
    cfg = production_cfg()
    assert "retry-on conn-failure empty-response 503" in section(cfg, "defaults")
    assert "http-request disable-l7-retry unless METH_GET || METH_HEAD || METH_OPTIONS" in section(
        cfg, "frontend public"
    )


def test_websocket_tunnels_and_soft_stop_are_bounded() -> None:
    cfg = production_cfg()
    assert "timeout tunnel 3600s" in section(cfg, "defaults")
    assert "hard-stop-after 60s" in section(cfg, "global")


def test_no_secret_is_written_into_the_config() -> None:
    cfg = production_cfg()
    assert "${HAPROXY_STATS_PASSWORD}" in cfg and "${HAPROXY_COOKIE_KEY}" in cfg
    # Every password is a reference to the environment (filled from a Secret), never a value.
    mentions = [line.strip() for line in cfg.splitlines() if "password" in line.lower()]
    assert mentions == [
        'user admin insecure-password "${HAPROXY_UI_JAEGER_PASSWORD}"',
        'stats auth "${HAPROXY_STATS_USER}:${HAPROXY_STATS_PASSWORD}"',
    ]


def test_published_uis_share_the_public_frontend() -> None:
    """Production publishes Grafana, Kibana and Jaeger: host routing in the one public frontend, so
    TLS, the rate limit and the headers are the API's; basic auth only for Jaeger (no login)."""
    cfg = production_cfg()
    public = section(cfg, "frontend public")
    acl = "acl host_ui_jaeger req.hdr(host),field(1,:),lower -m str jaeger.egitim-eylemci.example.org"
    assert acl in public
    auth = 'http-request auth realm "TEKNOFEST jaeger" if host_ui_jaeger !{ http_auth(ui_jaeger) }'
    assert [line for line in public if "http-request auth" in line] == [auth]
    # Throttled and on HTTPS before credentials are asked for; routed after every rule.
    order = [public.index(line) for line in public if "deny_status 429" in line or "redirect scheme" in line]
    assert max(order) < public.index(auth)
    use = [line for line in public if line.startswith("use_backend")]
    assert use == [f"use_backend ui_{ui} if host_ui_{ui}" for ui in ("grafana", "kibana", "jaeger")]
    assert public.index(use[-1]) == public.index("default_backend api") - 1
    assert section(cfg, "userlist ui_jaeger") == ['user admin insecure-password "${HAPROXY_UI_JAEGER_PASSWORD}"']
    jaeger = section(cfg, "backend ui_jaeger")
    assert "http-request del-header Authorization" in jaeger
    assert "server jaeger jaeger.monitoring.svc.cluster.local:16686" in jaeger
    kibana = section(cfg, "backend ui_kibana")
    assert "server kibana kibana-kb-http.monitoring.svc.cluster.local:5601 ssl verify none alpn http/1.1" in kibana
    assert not any("Authorization" in line for line in section(cfg, "backend ui_grafana"))


def test_entrypoint_reads_peers_from_the_config() -> None:
    script = render_entrypoint("/usr/local/etc/haproxy/haproxy.cfg", "/var/run/haproxy", 30)
    assert script.startswith("#!/bin/sh\nset -eu\n")
    assert 'exec haproxy -W -db -f "$cfg" "$@"' in script
    assert "PEER_WAIT_SECONDS:-30" in script
