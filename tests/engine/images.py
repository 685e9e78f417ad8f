"""Builds the stand-in images on the engine, each once: a tag that exists is a cache hit."""

from __future__ import annotations

import io
import tarfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import docker

from tests.engine.standins import STANDINS, StandIn


@dataclass(frozen=True)
class Built:
    standin: StandIn
    tag: str
    seconds: float  # 0 when the cache had it
    version: str


def _context(standin: StandIn, base: str) -> bytes:
    files = {"Dockerfile": standin.dockerfile(base).encode(), **standin.context_files()}
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, content in sorted(files.items()):
            info = tarfile.TarInfo(name)
            info.size = len(content)
            info.mode = 0o644
            info.mtime = 0
            tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def build(client: docker.DockerClient, standin: StandIn, base: str, hosts: dict[str, str]) -> Built:
    tag = standin.tag(base)
    started = time.monotonic()
    spent = 0.0
    if not client.images.list(name=tag):
        # The classic builder with the host's network: apt reaches Debian's mirror from the build.
        stream = client.api.build(
            fileobj=io.BytesIO(_context(standin, base)),
            custom_context=True,
            tag=tag,
            network_mode="host",
            extra_hosts=hosts,
            rm=True,
            forcerm=True,
            decode=True,
        )
        log: list[str] = []
        for chunk in stream:
            if "error" in chunk:
                raise RuntimeError(f"stand-in {standin.name} failed to build: {chunk['error']}\n" + "".join(log[-40:]))
            log.append(chunk.get("stream", ""))
        spent = time.monotonic() - started
    output = client.containers.run(
        tag, ["-c", standin.version_command], entrypoint=["/bin/sh"], remove=True, user="0", network_mode="none"
    )
    return Built(standin, tag, spent, output.decode().strip().replace("\n", " "))


def build_all(client: docker.DockerClient, base: str, hosts: dict[str, str]) -> dict[str, Built]:
    """Every stand-in, three builds at a time (downloads dominate; two cores); `hosts`: the
    names the builds resolve through /etc/hosts (the Debian mirror's)."""
    with ThreadPoolExecutor(max_workers=3) as pool:
        results = list(pool.map(lambda standin: build(client, standin, base, hosts), STANDINS))
    return {built.standin.name: built for built in results}
