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
import shutil
import signal
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import docker

CACHE = Path(os.environ.get("TEKNOFEST_ENGINE_CACHE", "/var/cache/teknofest-platform/engine"))
# The engine's API version (Debian bookworm's docker.io 20.10): the SDK speaks exactly that.
API_VERSION = "1.41"


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
    args = [
        dockerd,
        f"--data-root={CACHE}",
        f"--exec-root={exec_root / 'exec'}",
        f"--pidfile={exec_root / 'docker.pid'}",
        f"--host=unix://{socket}",
        "--bridge=none",
        "--iptables=false",
        "--ip-masq=false",
        "--userland-proxy=true",
        # Containers have no way out here (no iptables, no masquerade): an upstream the engine's
        # DNS forwards unknown names to would time out, where a host's resolver answers NXDOMAIN at
        # once. One inside each container's own namespace refuses at once, like that.
        "--dns=127.0.0.1",
        "--log-level=warn",
    ]
    with log.open("wb") as out:
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


BASE_RECIPE = ("debootstrap", "--variant=minbase", "bookworm", "http://deb.debian.org/debian")


def base_image(client: docker.DockerClient, workdir: Path) -> tuple[str, float]:
    """A Debian bookworm root filesystem from debootstrap, imported once: (tag, seconds spent)."""
    tag = "teknofest-standin/debian:" + hashlib.sha256(" ".join(BASE_RECIPE).encode()).hexdigest()[:16]
    if client.images.list(name=tag):
        return tag, 0.0
    started = time.monotonic()
    root = workdir / "rootfs"
    command, variant, suite, mirror = BASE_RECIPE
    subprocess.run([command, variant, suite, str(root), mirror], check=True, capture_output=True)
    archive = workdir / "rootfs.tar"
    with tarfile.open(archive, "w") as tar:
        for entry in sorted(root.iterdir()):
            tar.add(entry, arcname=entry.name)
    repository, version = tag.split(":")
    client.api.import_image_from_file(str(archive), repository=repository, tag=version)
    shutil.rmtree(root, ignore_errors=True)
    archive.unlink()
    return tag, time.monotonic() - started
