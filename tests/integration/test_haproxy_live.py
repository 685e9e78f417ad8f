"""The production haproxy.cfg running in the real HAProxy on 127.0.0.1, in front of three small
HTTP/WebSocket backends that a loopback DNS stub lists under the API's headless-Service name.

Only addresses, ports and paths are changed from the production render (bind address, ports, the
nameserver, the certificate path, the one local peer), plus maxconn where this machine's descriptor
limit is below what production's needs; every policy (health checks, circuit breaking, retries,
rate limit, TLS, cookies, timeouts) is production's.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import resource
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from http.client import HTTPSConnection
from http.cookiejar import DefaultCookiePolicy
from pathlib import Path

import pytest
import requests
import trustme
from websockets.sync.client import connect

from components.load_balancer.haproxy_config import Peer, render_haproxy_cfg
from components.load_balancer.manifests import haproxy_inputs
from components.monitoring.alert_rules import rule_groups
from components.monitoring.dashboards import platform_dashboards
from components.monitoring.metric_catalogue import HAPROXY
from stacks.kubernetes_specs import load_balancer_spec
from stacks.monitored import monitored_platform
from stacks.pools import api_pool_spec, request_rate_query
from stacks.settings import PlatformSettings
from tests.integration.conftest import MEASUREMENTS, free_port, local_session, wait_for
from tests.integration.dns_stub import DnsStub

pytestmark = pytest.mark.integration

BACKENDS = {"api-a": "127.0.0.2", "api-b": "127.0.0.3", "api-c": "127.0.0.4"}
STATS_AUTH = ("admin", "stats-test-password")
HOST = "api.egitim-eylemci.example.org"
# Production publishes Grafana, Kibana (HTTPS backend) and Jaeger (basic auth) through the edge.
UI_ADDRESSES = {"grafana": "127.0.0.5", "kibana": "127.0.0.6", "jaeger": "127.0.0.7"}
UI_HOSTS = {ui: f"{ui}.egitim-eylemci.example.org" for ui in UI_ADDRESSES}
JAEGER_PASSWORD = "jaeger-ui-test-password"


@dataclass
class Lab:
    http: int
    https: int
    stats: int
    ca_file: str
    backend_pids: dict[str, int]
    api_port: int
    admin_socket: str

    def url(self, path: str = "/") -> str:
        return f"https://127.0.0.1:{self.https}{path}"

    def session(self, cookies: bool = False) -> requests.Session:
        session = local_session()
        session.verify = self.ca_file
        session.headers["Host"] = HOST
        if not cookies:
            session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
        return session

    def server_states(self) -> dict[str, tuple[str, str]]:
        """svname -> (state, address) of the API backend's servers, from the admin socket."""
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(2)
            sock.connect(self.admin_socket)
            sock.sendall(b"show servers state api\n")
            text = b"".join(iter(lambda: sock.recv(65536), b"")).decode()
        states = {}
        for line in text.splitlines():
            fields = line.split()
            # "be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state ..."
            if len(fields) > 6 and fields[1] == "api":
                operational = {"0": "DOWN", "1": "STARTING", "2": "UP", "3": "STOPPING"}[fields[5]]
                maintenance = int(fields[6]) != 0
                states[fields[3]] = ("MAINT" if maintenance else operational, fields[4])
        return states

    def up_addresses(self) -> set[str]:
        return {addr for status, addr in self.server_states().values() if status == "UP"}


@pytest.fixture(scope="module")
def lab(
    haproxy_binary: str, production_settings: PlatformSettings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Lab]:
    work = tmp_path_factory.mktemp("haproxy")
    ca = trustme.CA()
    cert = ca.issue_cert(HOST, *UI_HOSTS.values(), "127.0.0.1")
    cert.cert_chain_pems[0].write_to_path(str(work / "site.pem"))
    cert.private_key_pem.write_to_path(str(work / "site.pem.key"))
    ca.cert_pem.write_to_path(str(work / "ca.pem"))

    api_port, ui_port, dns_port = free_port(), free_port(), free_port()
    server = str(Path(__file__).parent / "backend_server.py")
    backends = {
        name: subprocess.Popen(
            [sys.executable, server, name, address, str(api_port)], stdout=subprocess.PIPE, text=True
        )
        for name, address in BACKENDS.items()
    }
    ui_cert = ca.issue_cert(UI_ADDRESSES["kibana"])
    ui_cert.cert_chain_pems[0].write_to_path(str(work / "ui.pem"))
    ui_cert.private_key_pem.write_to_path(str(work / "ui.key"))
    for ui, address in UI_ADDRESSES.items():
        tls = [str(work / "ui.pem"), str(work / "ui.key")] if ui == "kibana" else []
        backends[f"{ui}-ui"] = subprocess.Popen(
            [sys.executable, server, f"{ui}-ui", address, str(ui_port), *tls], stdout=subprocess.PIPE, text=True
        )
    haproxy: subprocess.Popen[str] | None = None
    try:
        for process in backends.values():
            assert process.stdout is not None and process.stdout.readline().strip() == "ready"
        spec = load_balancer_spec(production_settings, api_pool_spec(production_settings))
        production = haproxy_inputs(spec)
        http_port, https_port, stats_port = free_port(), free_port(), free_port()
        inputs = dataclasses.replace(
            production,
            api_port=api_port,
            nameservers=(f"127.0.0.1:{dns_port}",),
            bind_address="127.0.0.1",
            tls_certificate=str(work / "site.pem"),
            peers=(Peer("haproxy-0", "127.0.0.1", free_port()),),
            runtime_dir=str(work),
            max_connections=machine_max_connections(production.max_connections),
            http_port=http_port,
            https_port=https_port,
            stats_port=stats_port,
            # The UIs' Services on the stand-ins' port; names, auth and TLS as production renders them.
            host_routes=tuple(
                dataclasses.replace(route, server=f"{route.server.rpartition(':')[0]}:{ui_port}")
                for route in production.host_routes
            ),
        )
        assert {route.name for route in production.host_routes} == set(UI_ADDRESSES)
        names = {production.api_fqdn: list(BACKENDS.values())}
        for route in production.host_routes:
            names[route.server.rpartition(":")[0]] = [UI_ADDRESSES[route.name]]
        config = work / "haproxy.cfg"
        config.write_text(render_haproxy_cfg(inputs))
        with DnsStub(dns_port, names):
            env = {
                **os.environ,
                "HAPROXY_STATS_USER": STATS_AUTH[0],
                "HAPROXY_STATS_PASSWORD": STATS_AUTH[1],
                "HAPROXY_COOKIE_KEY": "integration-test-cookie-key",
                "HAPROXY_UI_JAEGER_PASSWORD": JAEGER_PASSWORD,
            }
            haproxy = subprocess.Popen(
                [haproxy_binary, "-db", "-f", str(config), "-L", "haproxy-0"],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
            lab = Lab(
                http_port,
                https_port,
                stats_port,
                str(work / "ca.pem"),
                {name: p.pid for name, p in backends.items()},
                api_port,
                str(work / "admin.sock"),
            )
            try:
                took = wait_for(lambda: lab.up_addresses() == set(BACKENDS.values()), 20, "all API servers UP")
            except AssertionError:
                haproxy.terminate()
                raise AssertionError(f"HAProxy did not come up: {haproxy.communicate(timeout=10)[1]}") from None
            MEASUREMENTS.append(f"haproxy: 3 API servers discovered through DNS and UP after {took:.2f} s")
            # Let slowstart (10 s) finish so round-robin weights are equal for the tests.
            time.sleep(max(0.0, 10.5 - took))
            yield lab
    finally:
        if haproxy is not None:
            haproxy.terminate()
            haproxy.wait(timeout=10)
        for process in backends.values():
            process.kill()
            process.wait(timeout=10)


def machine_max_connections(production: int) -> int:
    """HAProxy wants about two descriptors per connection and refuses to start without them. A
    container's default limit (1M) fits production's maxconn; this machine's hard limit may not,
    and it cannot be raised here (no CAP_SYS_RESOURCE), so the test scales maxconn down to fit."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    return min(production, (hard - 1000) // 2)


def backend_of(response: requests.Response) -> str:
    return str(response.json()["backend"])


def test_round_robin_over_the_healthy_backends(lab: Lab) -> None:
    with lab.session() as session:
        served = Counter(backend_of(session.get(lab.url("/items"), timeout=5)) for _ in range(30))
    assert set(served) == set(BACKENDS)
    assert all(count == 10 for count in served.values()), served
    states = lab.server_states()
    assert sum(status == "UP" for status, _ in states.values()) == 3
    # The other 17 slots of the server-template wait, unresolved, for pods the autoscaler may add.
    assert sum(status == "MAINT" for status, _ in states.values()) == 17


def test_http_is_redirected_and_https_carries_security_headers(lab: Lab) -> None:
    plain = local_session().get(
        f"http://127.0.0.1:{lab.http}/x", headers={"Host": HOST}, allow_redirects=False, timeout=5
    )
    assert plain.status_code == 301
    assert plain.headers["Location"] == f"https://{HOST}/x"
    with lab.session() as session:
        response = session.get(
            lab.url("/x"), headers={"X-Forwarded-For": "6.6.6.6", "X-Forwarded-Proto": "http"}, timeout=5
        )
    assert response.status_code == 200
    assert response.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "Server" not in response.headers
    received = [(k.lower(), v) for k, v in response.json()["headers"]]
    # The client cannot choose the address or scheme the application believes.
    assert [v for k, v in received if k == "x-forwarded-for"] == ["127.0.0.1"]
    assert [v for k, v in received if k == "x-forwarded-proto"] == ["https"]
    assert any(k == "x-request-id" and v for k, v in received)


def test_the_affinity_cookie_is_honoured(lab: Lab) -> None:
    with lab.session() as session:
        first = session.get(lab.url("/"), timeout=5)
        cookie = first.cookies.get("TKSRV")
        assert cookie, first.headers
        assert "HttpOnly" in first.headers["Set-Cookie"] and "Secure" in first.headers["Set-Cookie"]
        pinned = {backend_of(session.get(lab.url("/"), cookies={"TKSRV": cookie}, timeout=5)) for _ in range(12)}
    assert pinned == {backend_of(first)}
    # Dynamic cookies: the value depends on the server and the shared key only, so it is stable.
    with lab.session() as session:
        values = set()
        for _ in range(6):
            response = session.get(lab.url("/"), timeout=5)
            if backend_of(response) == backend_of(first):
                values.add(response.cookies.get("TKSRV"))
    assert values == {cookie}


def test_websocket_upgrade_passes(lab: Lab) -> None:
    context = ssl.create_default_context(cafile=lab.ca_file)
    with connect(f"wss://127.0.0.1:{lab.https}/ws", ssl=context, server_hostname=HOST) as ws:
        ws.send("hello")
        reply = str(ws.recv(timeout=5))
        name, _, text = reply.partition(":")
        assert name in BACKENDS and text == "hello"
        time.sleep(1.2)  # longer than a health-check interval: the tunnel stays open
        ws.send("again")
        assert str(ws.recv(timeout=5)) == f"{name}:again"


def test_stats_page_asks_for_credentials_and_metrics_are_exported(lab: Lab) -> None:
    base = f"http://127.0.0.1:{lab.stats}"
    assert local_session().get(f"{base}/stats", timeout=5).status_code == 401
    assert local_session().get(f"{base}/stats", auth=("admin", "wrong"), timeout=5).status_code == 401
    assert local_session().get(f"{base}/stats", auth=STATS_AUTH, timeout=5).status_code == 200
    assert local_session().get(f"{base}/healthz", timeout=5).status_code == 200
    metrics = local_session().get(f"{base}/metrics", timeout=5)
    assert metrics.status_code == 200
    # The series the API's KEDA Prometheus trigger sums.
    assert 'haproxy_backend_http_requests_total{proxy="api"}' in metrics.text


def _tls_connection(lab: Lab, source: str) -> HTTPSConnection:
    context = ssl.create_default_context(cafile=lab.ca_file)
    return HTTPSConnection("127.0.0.1", lab.https, context=context, source_address=(source, 0), timeout=5)


def _get_status(connection: HTTPSConnection) -> int:
    connection.request("GET", "/limited", headers={"Host": HOST})
    response = connection.getresponse()
    response.read()
    return response.status


def test_rate_limit_answers_429_past_100_requests_per_second_per_client(lab: Lab) -> None:
    time.sleep(2.5)  # let earlier tests' requests leave the sliding one-second window
    flood = _tls_connection(lab, "127.0.0.1")
    start = time.monotonic()
    statuses = [_get_status(flood) for _ in range(150)]
    elapsed = time.monotonic() - start
    assert elapsed < 1.0, f"the flood took {elapsed:.2f} s; it must fit in the one-second window"
    ok = statuses.count(200)
    assert statuses.count(429) == 150 - ok
    assert 95 <= ok <= 101, ok
    assert statuses[:95] == [200] * 95, "nothing is refused below the limit"
    # Another client is not affected while the first one is limited.
    other = _tls_connection(lab, "127.0.0.9")
    assert [_get_status(other) for _ in range(20)] == [200] * 20
    assert _get_status(flood) == 429
    MEASUREMENTS.append(f"haproxy: 150 requests in {elapsed:.2f} s from one client: {ok} served, {150 - ok} got 429")
    # Below the limit again, the client is served.
    time.sleep(2.5)
    paced = []
    for _ in range(40):
        paced.append(_get_status(flood))
        time.sleep(0.02)
    assert paced == [200] * 40


def test_a_killed_backend_is_taken_out_within_3_s_with_no_failed_request(lab: Lab) -> None:
    victim = "api-b"
    outcomes: list[tuple[float, int | str, str]] = []
    stop = threading.Event()

    def client() -> None:
        with lab.session() as session:
            while not stop.is_set():
                try:
                    response = session.get(lab.url("/during-failure"), timeout=5)
                    outcomes.append((time.monotonic(), response.status_code, backend_of(response)))
                except requests.RequestException as exc:
                    outcomes.append((time.monotonic(), f"error: {exc}", ""))
                time.sleep(0.01)

    thread = threading.Thread(target=client)
    thread.start()
    try:
        time.sleep(1.0)
        killed_at = time.monotonic()
        os.kill(lab.backend_pids[victim], signal.SIGKILL)
        took = wait_for(lambda: BACKENDS[victim] not in lab.up_addresses(), 10, f"{victim} marked down", interval=0.05)
        time.sleep(1.5)
    finally:
        stop.set()
        thread.join(timeout=10)
    failures = [o for o in outcomes if o[1] != 200]
    after_down = [o for o in outcomes if o[0] > killed_at + took]
    MEASUREMENTS.append(
        f"haproxy: killed backend marked down after {took:.2f} s; {len(outcomes)} client requests, "
        f"{len(failures)} failed"
    )
    assert took <= 3.0
    assert len(outcomes) > 100
    assert failures == [], json.dumps(failures[:5])
    assert after_down and all(backend != victim for _, _, backend in after_down)
    assert {backend for _, _, backend in after_down} == set(BACKENDS) - {victim}


def test_every_haproxy_series_the_alerts_and_autoscaler_use_is_exported(
    lab: Lab, production_settings: PlatformSettings
) -> None:
    """Rules, dashboards, the KEDA query and the metric catalogue name HAProxy series; the real
    exporter must serve each one."""
    used = set(re.findall(r"\bhaproxy_[a-z_]+", request_rate_query(production_settings)))
    for group in rule_groups(monitored_platform(production_settings)):
        for rule in group["rules"]:
            used |= set(re.findall(r"\bhaproxy_[a-z_]+", rule["expr"]))
    for dashboard in platform_dashboards(monitored_platform(production_settings)):
        for panel in dashboard.panels:
            used |= {name for query in panel.queries for name in re.findall(r"\bhaproxy_[a-z_]+", query.expr)}
    used |= HAPROXY  # the catalogue the panel/rule tests hold queries to
    exported = set(
        re.findall(
            r"^(haproxy_[a-z_]+)",
            local_session().get(f"http://127.0.0.1:{lab.stats}/metrics", timeout=5).text,
            flags=re.M,
        )
    )
    assert used, "the rules must use HAProxy series"
    assert used <= exported, sorted(used - exported)
    # Label values the rules select on: the API backend, and server states.
    text = local_session().get(f"http://127.0.0.1:{lab.stats}/metrics", timeout=5).text
    assert re.search(r'^haproxy_server_status\{proxy="api",server="api\d+",state="UP"\} 1$', text, flags=re.M)
    assert 'haproxy_frontend_requests_denied_total{proxy="public"}' in text


def ui_session(lab: Lab, ui: str) -> requests.Session:
    session = lab.session()
    session.headers["Host"] = UI_HOSTS[ui]
    return session


def test_published_uis_are_served_on_their_hosts_with_auth_where_they_have_no_login(lab: Lab) -> None:
    """One edge: each UI's host reaches its own Service through the public frontend (its TLS and
    headers), Jaeger only with the generated password, which the UI itself never sees."""

    def until_up(ui: str, auth: tuple[str, str] | None = None) -> requests.Response:
        with ui_session(lab, ui) as session:
            session.auth = auth
            wait_for(lambda: session.get(lab.url("/"), timeout=5).status_code == 200, 15, f"{ui} UI reachable")
            return session.get(lab.url("/search?q=1"), timeout=5)

    grafana = until_up("grafana")
    assert backend_of(grafana) == "grafana-ui"
    assert grafana.headers["X-Frame-Options"] == "DENY" and "max-age=" in grafana.headers["Strict-Transport-Security"]
    kibana = until_up("kibana")  # HAProxy speaks HTTPS to this one, as to ECK's Kibana
    assert backend_of(kibana) == "kibana-ui"
    with ui_session(lab, "jaeger") as session:
        refused = session.get(lab.url("/"), timeout=5)
        assert refused.status_code == 401 and 'realm="TEKNOFEST jaeger"' in refused.headers["WWW-Authenticate"]
        session.auth = ("admin", "not-the-password")
        assert session.get(lab.url("/"), timeout=5).status_code == 401
    jaeger = until_up("jaeger", ("admin", JAEGER_PASSWORD))
    assert backend_of(jaeger) == "jaeger-ui" and jaeger.json()["path"] == "/search?q=1"
    forwarded = {name.lower() for name, _ in jaeger.json()["headers"]}
    assert "authorization" not in forwarded and "x-forwarded-for" in forwarded
    # Plain HTTP is redirected before any password is asked for; the API keeps its own host.
    plain = local_session().get(
        f"http://127.0.0.1:{lab.http}/", headers={"Host": UI_HOSTS["jaeger"]}, allow_redirects=False, timeout=5
    )
    assert plain.status_code == 301 and plain.headers["Location"].startswith(f"https://{UI_HOSTS['jaeger']}/")
    with lab.session() as session:
        assert backend_of(session.get(lab.url("/"), timeout=5)) in BACKENDS
    MEASUREMENTS.append(
        "haproxy edge: grafana, kibana (HTTPS backend) and jaeger served on their hosts; "
        "jaeger 401 without or with a wrong password, 200 with it, Authorization not forwarded"
    )
