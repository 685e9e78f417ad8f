"""Real daemons from Debian's packages, on 127.0.0.1 only, started and stopped by the tests."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

# Numbers measured by the integration tests, printed at the end of the run.
MEASUREMENTS: list[str] = []


def require_binary(name: str) -> str:
    path = shutil.which(name) or (f"/usr/sbin/{name}" if os.path.exists(f"/usr/sbin/{name}") else None)
    if path is None:
        if os.environ.get("CI"):
            pytest.fail(f"{name} is not installed; .ci/run installs it from Debian's packages")
        pytest.skip(f"{name} is not installed (apt-get install {name}); .ci/run installs it")
    return path


def local_session() -> requests.Session:
    """A session that ignores the machine's proxy and CA-bundle variables: every call is loopback."""
    session = requests.Session()
    session.trust_env = False
    return session


@contextmanager
def daemon(
    args: list[str],
    log: Path,
    env: dict[str, str] | None = None,
    stop_timeout: float = 10,
    cwd: Path | None = None,
    user: str | None = None,
) -> Iterator[subprocess.Popen[bytes]]:
    """A server process for the length of the block, its output in `log`, stopped by its PID. It
    runs in `cwd` (default: the log's folder, a temporary one): what a daemon writes to its working
    directory (a Redis replica's dump.rdb) never lands in the working tree."""
    with log.open("wb") as out:
        process = subprocess.Popen(
            args, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=cwd or log.parent, user=user
        )
        try:
            yield process
        finally:
            process.terminate()
            try:
                process.wait(timeout=stop_timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def rabbitmq_env(folder: Path, node: str, dist_port: int, epmd_port: int) -> dict[str, str]:
    """Debian's RabbitMQ as a plain process: its config, plugins, data and logs in `folder`, every
    listener on 127.0.0.1 (set the AMQP listener in `folder`/rabbitmq.conf)."""
    return {
        "PATH": "/usr/bin:/bin:/usr/sbin:/sbin",
        "HOME": str(folder),
        "RABBITMQ_CONFIG_FILE": str(folder / "rabbitmq"),
        "RABBITMQ_ENABLED_PLUGINS_FILE": str(folder / "enabled_plugins"),
        "RABBITMQ_MNESIA_BASE": str(folder / "mnesia"),
        "RABBITMQ_LOG_BASE": str(folder / "log"),
        "RABBITMQ_NODENAME": node,
        "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
        "RABBITMQ_DIST_PORT": str(dist_port),
        "ERL_EPMD_ADDRESS": "127.0.0.1",
        "ERL_EPMD_PORT": str(epmd_port),
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(condition: object, timeout: float, what: str, interval: float = 0.05) -> float:
    """Poll `condition()` until true; return the seconds it took."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        try:
            if condition():  # type: ignore[operator]
                return time.monotonic() - start
        except OSError:
            pass
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


@pytest.fixture(scope="session")
def haproxy_binary() -> Iterator[str]:
    yield require_binary("haproxy")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if MEASUREMENTS:
        terminalreporter.section("measured")
        for line in MEASUREMENTS:
            terminalreporter.write_line(line)
