"""A Docker engine of the tier's own: Debian's dockerd with its own data root, socket and no
default bridge or iptables (what runs on these machines), stopped by its PID at the end.

The data root is a cache on the machine, outside the working tree (TEKNOFEST_ENGINE_CACHE,
default /var/cache/teknofest-platform/engine): the images built by one run are found by the next.
Everything else (exec root, socket, logs) lives in a temporary directory.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import signal
import socket
import subprocess
import tarfile
import tempfile
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import docker

from tests.integration.dns_stub import DnsStub

CACHE = Path(os.environ.get("TEKNOFEST_ENGINE_CACHE", "/var/cache/teknofest-platform/engine"))
# The engine's API version (Debian bookworm's docker.io 20.10): the SDK speaks exactly that.
API_VERSION = "1.41"
# The engine's upstream resolver: a loopback address of its own (not 127.0.0.1, where a
# machine may run a resolver of its own).
UPSTREAM_DNS = "127.0.0.153"
# Beside the cache, where the next run finds an engine a killed run left behind.
PIDFILE = CACHE.parent / "dockerd.pid"


@dataclass
class Engine:
    client: docker.DockerClient
    socket: Path
    pid: int
    log: Path


@contextmanager
def running_engine(workdir: Path) -> Iterator[Engine]:
    dockerd = shutil.which("dockerd") or "/usr/sbin/dockerd"
    # The exec root holds containerd's sockets: a short path (socket paths are limited to 108 bytes).
    exec_root = Path(tempfile.mkdtemp(prefix="tfe-", dir="/tmp"))
    socket = exec_root / "docker.sock"
    log = workdir / "dockerd.log"
    CACHE.mkdir(parents=True, exist_ok=True)
    _stop_stale_engine()
    # Containers have no way out here (no iptables, no masquerade), so the engine's DNS must not
    # forward a name it does not know to the machine's resolver: that would time out (and Docker
    # 20.10's resolver then leaves the client waiting 20 s), where a host's resolver answers
    # NXDOMAIN at once. dockerd gets a resolv.conf of its own (a private mount) naming a loopback
    # stub that answers NXDOMAIN to every name; a loopback upstream of the host's resolv.conf is
    # queried from the host's namespace.
    resolv_conf = exec_root / "resolv.conf"
    resolv_conf.write_text(f"nameserver {UPSTREAM_DNS}\n")
    args = [
        "unshare",
        "--mount",
        "--propagation=private",
        "sh",
        "-c",
        'mount --bind "$0" /etc/resolv.conf && exec "$@"',
        str(resolv_conf),
        dockerd,
        f"--data-root={CACHE}",
        f"--exec-root={exec_root / 'exec'}",
        f"--pidfile={PIDFILE}",
        f"--host=unix://{socket}",
        "--bridge=none",
        "--iptables=false",
        "--ip-masq=false",
        "--userland-proxy=true",
        "--log-level=warn",
    ]
    with DnsStub(53, {}, UPSTREAM_DNS), log.open("wb") as out:
        process = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            client = _wait_for(socket, process, log)
            yield Engine(client, socket, process.pid, log)
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
            # What dockerd started and left (docker-proxy, containerd shims) goes with it.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            shutil.rmtree(exec_root, ignore_errors=True)


def _stop_stale_engine() -> None:
    """A run that was killed (not ended) leaves its dockerd holding the data root: stop it."""
    try:
        pid = int(PIDFILE.read_text().strip())
        command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (OSError, ValueError):
        return
    if Path(command[0].decode()).name == "dockerd" and f"--data-root={CACHE}".encode() in command:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
            time.sleep(0.2)


def _wait_for(socket: Path, process: subprocess.Popen[bytes], log: Path) -> docker.DockerClient:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"dockerd exited ({process.returncode}):\n{log.read_text(errors='replace')[-3000:]}")
        if socket.exists():
            client = docker.DockerClient(base_url=f"unix://{socket}", version=API_VERSION, timeout=300)
            try:
                client.ping()
                return client
            except Exception:
                pass
        time.sleep(0.3)
    raise RuntimeError(f"dockerd did not answer in 60 s:\n{log.read_text(errors='replace')[-3000:]}")


APT_SOURCES = Path("/etc/apt")
SUITE = "bookworm"


@dataclass(frozen=True)
class DebianMirror:
    """The Debian mirror this machine's apt uses, and the address of its host.

    The engine's containers, builds included, resolve names through the stub, which knows none:
    a build reaches the mirror through an /etc/hosts entry of the address the machine resolved."""

    url: str
    hosts: dict[str, str]


def debian_mirror(sources: Path = APT_SOURCES) -> DebianMirror:
    """The first source of the bookworm suite in apt's deb822 .sources files or sources.list."""
    urls: list[str] = []
    for path in sorted((sources / "sources.list.d").glob("*.sources")):
        for stanza in path.read_text().split("\n\n"):
            fields = dict(
                line.split(":", 1) for line in stanza.splitlines() if ":" in line and not line.startswith("#")
            )
            if SUITE in fields.get("Suites", "").split() and "deb" in fields.get("Types", "").split():
                urls += fields.get("URIs", "").split()
    if (sources / "sources.list").exists():
        for line in (sources / "sources.list").read_text().splitlines():
            # "deb [options] URI suite components", options optional.
            words = re.sub(r"\[[^]]*\]", " ", line.split("#")[0]).split()
            if len(words) >= 3 and words[0] == "deb" and words[2] == SUITE:
                urls.append(words[1])
    if not urls:
        raise RuntimeError(f"no apt source of Debian {SUITE} under {sources}: debootstrap has no mirror to use")
    host = urllib.parse.urlparse(urls[0]).hostname or ""
    return DebianMirror(urls[0], {host: socket.gethostbyname(host)})


def base_image(client: docker.DockerClient, workdir: Path, mirror: DebianMirror) -> tuple[str, float]:
    """A Debian bookworm root filesystem from debootstrap, imported once: (tag, seconds spent)."""
    recipe = ("debootstrap", "--variant=minbase", SUITE, mirror.url)
    tag = "teknofest-standin/debian:" + hashlib.sha256(" ".join(recipe).encode()).hexdigest()[:16]
    if client.images.list(name=tag):
        return tag, 0.0
    started = time.monotonic()
    root = workdir / "rootfs"
    subprocess.run([*recipe[:3], str(root), mirror.url], check=True, capture_output=True)
    archive = workdir / "rootfs.tar"
    with tarfile.open(archive, "w") as tar:
        for entry in sorted(root.iterdir()):
            tar.add(entry, arcname=entry.name)
    repository, version = tag.split(":")
    client.api.import_image_from_file(str(archive), repository=repository, tag=version)
    shutil.rmtree(root, ignore_errors=True)
    archive.unlink()
    return tag, time.monotonic() - started
