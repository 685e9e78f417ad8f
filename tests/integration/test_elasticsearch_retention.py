"""The Elasticsearch retention script, run by /bin/sh and curl against a stand-in for the
Elasticsearch API on 127.0.0.1 (HTTPS with its own CA, basic auth): it deletes exactly the daily
indices older than their retention, and fails the job when Elasticsearch refuses it."""

from __future__ import annotations

import base64
import datetime
import http.server
import shutil
import ssl
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest
import trustme

from components.monitoring.retention import RETENTION_SCRIPT, retention_env
from stacks.monitored import monitored_platform
from stacks.settings import PlatformSettings
from tests.integration.conftest import require_binary

pytestmark = pytest.mark.integration
USER, PASSWORD = "platform-writer", "s3cret"


def day(days_ago: int, separator: str) -> str:
    return (datetime.datetime.now(datetime.UTC).date() - datetime.timedelta(days=days_ago)).strftime(
        f"%Y{separator}%m{separator}%d"
    )


class FakeElasticsearch(http.server.BaseHTTPRequestHandler):
    indices: ClassVar[list[str]] = []
    deleted: ClassVar[list[str]] = []
    refuse: ClassVar[bool] = False

    def _authorised(self) -> bool:
        expected = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        if self.refuse or self.headers.get("Authorization") != expected:
            self.send_response(401)
            self.end_headers()
            self.wfile.write(b'{"error":"unauthorized"}')
            return False
        return True

    def do_GET(self) -> None:
        if not self._authorised():
            return
        pattern = self.path.split("/_cat/indices/", 1)[1].split("?", 1)[0]
        prefix = pattern.rstrip("*")
        body = "".join(f"{name}\n" for name in self.indices if name.startswith(prefix)).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_DELETE(self) -> None:
        if not self._authorised():
            return
        FakeElasticsearch.deleted.append(self.path.lstrip("/"))
        self.send_response(200)
        self.send_header("Content-Length", "21")
        self.end_headers()
        self.wfile.write(b'{"acknowledged":true}')

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def fake_es(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FakeElasticsearch)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    cert.configure_cert(context)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    ca.cert_pem.write_to_path(str(tmp_path / "ca.crt"))
    FakeElasticsearch.deleted = []
    FakeElasticsearch.refuse = False
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}", tmp_path / "ca.crt"
    finally:
        server.shutdown()


def run_script(settings: PlatformSettings, url: str, ca: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    require_binary("curl")
    script = tmp_path / "retention.sh"
    script.write_text(RETENTION_SCRIPT)
    (tmp_path / "password").write_text(PASSWORD)
    env = {
        **retention_env(monitored_platform(settings)),
        "ES_URL": url,
        "CA_FILE": str(ca),
        "ES_USERNAME": USER,
        "ES_PASSWORD_FILE": str(tmp_path / "password"),
        "PATH": "/usr/bin:/bin",
    }
    shell = shutil.which("dash") or "/bin/sh"  # a POSIX shell, as busybox sh in the curl image
    return subprocess.run([shell, str(script)], env=env, capture_output=True, text=True, timeout=60)


def test_old_daily_indices_are_deleted_and_recent_ones_kept(
    fake_es: tuple[str, Path], tmp_path: Path, production_settings: PlatformSettings
) -> None:
    # Production keeps logs 14 days and spans 7 days.
    FakeElasticsearch.indices = [
        f"platform-logs-{day(0, '.')}",
        f"platform-logs-{day(13, '.')}",
        f"platform-logs-{day(15, '.')}",
        f"platform-logs-{day(40, '.')}",
        f"jaeger-jaeger-span-{day(0, '-')}",
        f"jaeger-jaeger-span-{day(6, '-')}",
        f"jaeger-jaeger-span-{day(8, '-')}",
        f"jaeger-jaeger-service-{day(30, '-')}",
        "jaeger-jaeger-sampling",  # no date: never touched
        "kibana-internal",
    ]
    result = run_script(production_settings, *fake_es, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert sorted(FakeElasticsearch.deleted) == sorted(
        [
            f"platform-logs-{day(15, '.')}",
            f"platform-logs-{day(40, '.')}",
            f"jaeger-jaeger-span-{day(8, '-')}",
            f"jaeger-jaeger-service-{day(30, '-')}",
        ]
    )
    assert "retention done" in result.stdout


def test_a_refused_request_fails_the_job(
    fake_es: tuple[str, Path], tmp_path: Path, production_settings: PlatformSettings
) -> None:
    FakeElasticsearch.indices = [f"platform-logs-{day(40, '.')}"]
    FakeElasticsearch.refuse = True
    result = run_script(production_settings, *fake_es, tmp_path)
    assert result.returncode != 0
    assert FakeElasticsearch.deleted == [] and "retention done" not in result.stdout
