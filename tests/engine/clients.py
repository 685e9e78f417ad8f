"""The tier's clients: HTTPS to HAProxy on 127.0.0.1, HAProxy's stats, and programs run inside
the platform's own containers (the backend network is internal: the host does not reach it)."""

from __future__ import annotations

import http.client
import json
import ssl
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import trustme

from tests.engine.conftest import API_HOST, PORTS


def https(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


def request(
    ca: trustme.CA, method: str, path: str, timeout: float = 90, port: int = PORTS["https"]
) -> tuple[int, dict[str, Any]]:
    """One request to the API through HAProxy's TLS listener, by its host name."""
    # The test certificate names 127.0.0.1 too: verified; HAProxy routes by the Host header.
    connection = http.client.HTTPSConnection("127.0.0.1", port, timeout=timeout, context=https(ca))
    try:
        connection.request(method, path, headers={"Host": API_HOST})
        response = connection.getresponse()
        body = response.read()
        try:
            return response.status, json.loads(body or b"{}")
        except json.JSONDecodeError:
            return response.status, {"text": body.decode(errors="replace")[:200]}
    finally:
        connection.close()


@dataclass
class SteadyLoad:
    """Requests at a fixed rate (below HAProxy's per-client limit) until stopped; every answer kept."""

    ca: trustme.CA
    path: str = "/ping"
    per_second: float = 8.0
    port: int = PORTS["https"]
    # (sent at, status or 0 where the connection failed, answering host or error, seconds taken)
    results: list[tuple[float, int, str, float]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def _run(self) -> None:
        interval = 1 / self.per_second
        next_at = time.monotonic()
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                status, body = request(self.ca, "GET", self.path, timeout=10, port=self.port)
                self.results.append((started, status, str(body.get("host", body)), time.monotonic() - started))
            except OSError as exc:
                self.results.append((started, 0, f"{type(exc).__name__}: {exc}", time.monotonic() - started))
            next_at += interval
            time.sleep(max(0.0, next_at - time.monotonic()))

    def __enter__(self) -> SteadyLoad:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=30)

    @property
    def failed(self) -> list[tuple[float, int, str, float]]:
        return [r for r in self.results if r[1] != 200]

    @property
    def slowest(self) -> float:
        return max((r[3] for r in self.results), default=0.0)


def exec_python(container: Any, script: str, timeout: int = 120) -> Any:
    """Run a Python script in an application container, with the secrets its wrapper exports."""
    result = container.exec_run(
        ["timeout", str(timeout), "/bin/sh", "/etc/teknofest/secret-env.sh", "python", "-c", script],
        demux=True,
    )
    stdout, stderr = result.output
    if result.exit_code != 0:
        raise AssertionError(f"script failed ({result.exit_code}): {(stderr or b'').decode()[-2000:]}")
    return json.loads(stdout.decode().strip().splitlines()[-1])
