"""The docker and swarm targets on a real Docker engine: dockerd started here, stand-in images
built from Debian's packages, the dev stack's plan (as recorded under Pulumi's mocks) applied with
the provider's semantics and checked end to end on 127.0.0.1; then the same engine made a one-node
Swarm and a dev swarm stack's plan applied and checked the same way."""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import trustme
import yaml

from components.common.docker.swarm import NODE_LABEL
from stacks.mock_engine import PROJECT_ROOT, StackRender, run_program, unwrap
from stacks.stack_file import read_stack_file
from tests.engine.applier import Applied, Applier, remove_managed
from tests.engine.engine import DebianMirror, Engine, base_image, debian_mirror, running_engine
from tests.engine.images import Built, build_all
from tests.engine.measurements import MEASUREMENTS
from tests.engine.standins import NOT_EXERCISED, not_exercised_because, standin_for
from tests.engine.swarm_applier import SERVICE, SwarmApplied, SwarmApplier, remove_swarm_managed

MANAGED = "org.teknofest.managed-by=teknofest-platform"
PREFIX = "teknofest-dev"
# Host ports of the run: above the daemon tier's, so the two never meet.
PORTS = {
    "http": 18080,
    "https": 18443,
    "haproxyStats": 18404,
    "grafana": 13000,
    "prometheus": 19090,
    "alertmanager": 19093,
    "jaeger": 16686,
    "kibana": 15601,
    "flower": 15555,
    "rabbitmqManagement": 15672,
}
API_HOST = "api.teknofest.localhost"
DEAD_MANS_SWITCH = "deadmansswitch"


def require(binary: str, package: str) -> str:
    path = shutil.which(binary) or (f"/usr/sbin/{binary}" if os.path.exists(f"/usr/sbin/{binary}") else None)
    missing = None
    if path is None:
        missing = f"{binary} is not installed (apt-get install {package}); ./run test installs it"
    elif os.geteuid() != 0:
        missing = "the engine tier starts dockerd, which needs root (CI runs as root)"
    if missing:
        # In CI the tier must run: what it lacks fails it instead of skipping it.
        if os.environ.get("CI"):
            pytest.fail(missing)
        pytest.skip(missing)
    return str(path)


@dataclass
class Platform:
    engine: Engine
    render: StackRender
    applied: Applied
    images: dict[str, Built]
    ca: trustme.CA
    workdir: Path
    dead_mans_switch: Any
    started_at: float

    def container(self, short: str) -> Any:
        return self.engine.client.containers.get(f"{PREFIX}-{short}")


@pytest.fixture(scope="session")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    require("dockerd", "docker.io")
    require("debootstrap", "debootstrap")
    with running_engine(tmp_path_factory.mktemp("engine")) as started:
        reset(started.client)
        yield started
        reset(started.client)


def reset(client: Any) -> None:
    """What an earlier run left on the cached data root: a swarm's services first, then the swarm
    itself, then containers, networks and volumes."""
    if client.info().get("Swarm", {}).get("LocalNodeState") == "active":
        remove_swarm_managed(client, MANAGED)
        client.swarm.leave(force=True)
    remove_managed(client, MANAGED)


@pytest.fixture(scope="session")
def mirror() -> DebianMirror:
    return debian_mirror()


@pytest.fixture(scope="session")
def standin_images(engine: Engine, mirror: DebianMirror, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Built]:
    started = time.monotonic()
    base, base_seconds = base_image(engine.client, tmp_path_factory.mktemp("base"), mirror)
    built = build_all(engine.client, base, mirror.hosts)
    MEASUREMENTS.append(
        f"stand-in images: base {f'built in {base_seconds:.0f} s' if base_seconds else 'cached'}, "
        f"{sum(1 for b in built.values() if b.seconds)} of {len(built)} built, "
        f"{time.monotonic() - started:.0f} s in all"
    )
    return built


def engine_stack_file(folder: Path, certificate_pem: str) -> Path:
    """The dev stack with TLS on (a test certificate), its host ports moved out of the way and a
    stand-in dead man's switch: what operators run, on this machine."""
    document = yaml.safe_load((PROJECT_ROOT / "Pulumi.dev.yaml").read_text())
    config = document["config"]
    config["teknofest-platform:tls"] = {"enabled": True}
    # Two descriptors per connection: this machine's engine may not give a container more than
    # 20000 (its own hard limit), so the load balancer takes 8000 connections, not 20000.
    config["teknofest-platform:loadBalancer"] = {"maxConnections": 8000}
    config["teknofest-platform:docker"] = {"ports": PORTS, "tlsCertificatePem": certificate_pem}
    config["teknofest-platform:monitoring"] = {
        "alerting": {"deadMansSwitchUrl": f"http://{DEAD_MANS_SWITCH}:8080/ping"}
    }
    path = folder / "Pulumi.dev.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


@pytest.fixture(scope="session")
def certificate_authority() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="session")
def engine_render(certificate_authority: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> StackRender:
    cert = certificate_authority.issue_cert(API_HOST, "localhost", "127.0.0.1")
    pem = "".join(blob.bytes().decode() for blob in (*cert.cert_chain_pems, cert.private_key_pem))
    stack_file = read_stack_file(engine_stack_file(tmp_path_factory.mktemp("stack"), pem))
    # As `pulumi config set --secret` would hold them: the certificate and the switch's URL.
    secrets = [*stack_file.secret_keys, "teknofest-platform:docker", "teknofest-platform:monitoring"]
    return run_program("dev", stack_file.config, secrets)


def standin_lookup(standin_images: dict[str, Built]) -> Callable[[str], str | None]:
    """A pinned reference -> the tag of the stand-in built for it (None: none stands in)."""
    tags = {standin.standin.pins: standin.tag for standin in standin_images.values()}

    def image_for(reference: str) -> str | None:
        for pins, tag in tags.items():
            if reference.startswith(pins):
                return tag
        return None

    return image_for


def image_table(images: dict[str, Built], render: StackRender) -> list[str]:
    pinned = sorted(
        {
            str(r.inputs.get("name") or r.inputs.get("imageName"))
            for r in render.resources
            if r.type in ("docker:index/remoteImage:RemoteImage", "docker:index/image:Image")
        }
    )
    rows = []
    for reference in pinned:
        standin = standin_for(reference)
        if standin:
            built = images[standin.name]
            rows.append(f"  {reference} -> {built.tag} ({built.version}); relies on: {standin.relies_on}")
        elif reason := not_exercised_because(reference):
            rows.append(f"  {reference} -> not exercised on the engine: {reason}")
        else:
            rows.append(f"  {reference} -> built by the plan from the repository's Dockerfile on a stand-in base")
    return rows


@pytest.fixture(scope="module")
def platform(
    engine: Engine,
    mirror: DebianMirror,
    standin_images: dict[str, Built],
    engine_render: StackRender,
    certificate_authority: trustme.CA,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Platform]:
    image_for = standin_lookup(standin_images)

    MEASUREMENTS.append("pinned image -> stand-in (what differs: the version):")
    MEASUREMENTS.extend(image_table(standin_images, engine_render))
    workdir = tmp_path_factory.mktemp("platform")
    started = time.monotonic()
    applier = Applier(engine.client, image_for, not_exercised_because, log=lambda line: None, build_hosts=mirror.hosts)
    applied = applier.apply(engine_render.resources)
    seconds = time.monotonic() - started
    slowest = max(applied.seconds_to_healthy.items(), key=lambda item: item[1])
    MEASUREMENTS.append(
        f"plan applied: {len(applied.containers)} containers, {len(applied.networks)} networks, "
        f"{len(applied.volumes)} volumes in {seconds:.0f} s (slowest to healthy: {slowest[0]} {slowest[1]:.0f} s); "
        f"left out: {', '.join(sorted(applied.left_out))}"
    )
    (workdir / "applied.json").write_text(json.dumps(applied.__dict__, indent=2, sort_keys=True))
    switch = dead_mans_switch(engine, standin_images["api"].tag)
    yield Platform(
        engine, engine_render, applied, standin_images, certificate_authority, workdir, switch, time.monotonic()
    )
    # The swarm target's run comes next on this engine: the host's containers make room for it.
    remove_managed(engine.client, MANAGED)


# A stand-in dead man's switch: prints every request it is sent (the test reads its log).
SWITCH = """
import http.server
class Switch(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        print(self.path, body.decode(errors="replace"), flush=True)
        self.send_response(200)
        self.end_headers()
http.server.HTTPServer(("", 8080), Switch).serve_forever()
"""


def dead_mans_switch(engine: Engine, image: str) -> Any:
    """On the backend network under the name the stack's Alertmanager sends the Watchdog to."""
    client = engine.client
    backend = f"{PREFIX}-backend"
    container = client.containers.create(
        image,
        ["python", "-c", SWITCH],
        name=f"{PREFIX}-test-dead-mans-switch",
        labels={MANAGED.split("=")[0]: MANAGED.split("=")[1]},
        read_only=True,
        network_mode="none",
    )
    # Connected as the applier connects the platform's containers (the SDK's create with a
    # network drops the endpoint's aliases).
    client.api.disconnect_container_from_network(str(container.id), "none")
    client.api.connect_container_to_network(str(container.id), backend, aliases=[DEAD_MANS_SWITCH])
    container.start()
    return container


# --- the swarm target on a one-node Swarm of the same engine ----------------------------------
SWARM_PREFIX = "teknofest-swarm"
# The load balancer's ports (the only ones a Swarm publishes); the others are not published.
SWARM_PORTS = {key: port + 10000 for key, port in PORTS.items()}


def swarm_stack_file(folder: Path, certificate_pem: str, api_env: dict[str, str] | None = None) -> Path:
    """A dev swarm stack on one node: its members colocated (labels still place them), the
    PostgreSQL replica and a three-node RabbitMQ cluster as on several hosts, TLS with a test
    certificate; no monitoring stack (the docker target's run exercises it)."""
    config: dict[str, Any] = {
        "teknofest-platform:environment": "dev",
        "teknofest-platform:namespace": SWARM_PREFIX,
        "teknofest-platform:target": "swarm",
        "teknofest-platform:tls": {"enabled": True},
        "teknofest-platform:loadBalancer": {"maxConnections": 8000},
        "teknofest-platform:postgres": {"instances": 2},
        "teknofest-platform:rabbitmq": {"replicas": 3},
        "teknofest-platform:docker": {"ports": SWARM_PORTS, "tlsCertificatePem": certificate_pem},
        # One 2-CPU node cannot reserve what several hosts would (2.7 CPUs): placement is tested,
        # reservations are not (the mocks check their values).
        "teknofest-platform:swarm": {
            "colocateMembers": True,
            "apiReplicas": 2,
            "updateMonitorSeconds": 10,
            "reservations": False,
        },
        "teknofest-platform:monitoring": {"enabled": False},
    }
    if api_env:
        config["teknofest-platform:api"] = {"env": api_env}
    path = folder / "Pulumi.swarm.yaml"
    path.write_text(yaml.safe_dump({"config": config}))
    return path


def swarm_render_of(
    certificate_authority: trustme.CA, folder: Path, api_env: dict[str, str] | None = None
) -> StackRender:
    cert = certificate_authority.issue_cert(API_HOST, "localhost", "127.0.0.1")
    pem = "".join(blob.bytes().decode() for blob in (*cert.cert_chain_pems, cert.private_key_pem))
    stack_file = read_stack_file(swarm_stack_file(folder, pem, api_env))
    return run_program("swarm", stack_file.config, [*stack_file.secret_keys, "teknofest-platform:docker"])


@dataclass
class SwarmPlatform:
    engine: Engine
    render: StackRender
    applied: SwarmApplied
    applier: SwarmApplier
    ca: trustme.CA
    workdir: Path

    def tasks(self, short: str) -> list[Any]:
        """The running containers of a service's tasks."""
        api: Any = self.engine.client.api
        found = api.containers(filters={"label": f"com.docker.swarm.service.name={SWARM_PREFIX}-{short}"})
        return [self.engine.client.containers.get(c["Id"]) for c in found]


@pytest.fixture(scope="session")
def swarm(engine: Engine) -> Iterator[str]:
    """The engine as a one-node Swarm (advertised on loopback); left again at the end."""
    client = engine.client
    client.swarm.init(advertise_addr="127.0.0.1", listen_addr="127.0.0.1:2377")
    node_id = str(client.info()["Swarm"]["NodeID"])
    yield node_id
    reset(client)


def label_node(engine: Engine, node_id: str, render: StackRender) -> list[str]:
    """Put every member label the services are placed by on the one node (`colocateMembers`)."""
    labels = sorted(
        {
            str(label["value"])
            for r in render.resources
            if r.type == SERVICE
            for label in unwrap(r.inputs).get("labels", [])
            if label["label"] == NODE_LABEL
        }
    )
    node = engine.client.nodes.get(node_id)
    spec = dict(node.attrs["Spec"])
    spec["Labels"] = {**spec.get("Labels", {}), **{label: "true" for label in labels}}
    node.update(spec)
    return labels


@pytest.fixture(scope="module")
def swarm_platform(
    engine: Engine,
    swarm: str,
    mirror: DebianMirror,
    standin_images: dict[str, Built],
    certificate_authority: trustme.CA,
    tmp_path_factory: pytest.TempPathFactory,
) -> SwarmPlatform:
    render = swarm_render_of(certificate_authority, tmp_path_factory.mktemp("swarm-stack"))
    labels = label_node(engine, swarm, render)
    workdir = tmp_path_factory.mktemp("swarm-platform")
    applier = SwarmApplier(
        engine.client,
        standin_lookup(standin_images),
        not_exercised_because,
        log=lambda line: None,
        build_hosts=mirror.hosts,
    )
    started = time.monotonic()
    applied = applier.apply(render.resources)
    slowest = max(applied.seconds_to_converge.items(), key=lambda item: item[1])
    MEASUREMENTS.append(
        f"swarm plan applied: {len(applied.services)} services, {len(applied.secrets)} secrets, "
        f"{len(applied.configs)} configs, {len(applied.networks)} overlay networks in "
        f"{time.monotonic() - started:.0f} s (slowest to converge: {slowest[0]} {slowest[1]:.0f} s); "
        f"node labels: {len(labels)}; left out: {', '.join(sorted(applied.left_out))}"
    )
    (workdir / "applied.json").write_text(json.dumps(applied.__dict__, indent=2, sort_keys=True))
    return SwarmPlatform(engine, render, applied, applier, certificate_authority, workdir)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if MEASUREMENTS:
        terminalreporter.section("measured on the Docker engine")
        for line in MEASUREMENTS:
            terminalreporter.write_line(line)


__all__ = ["NOT_EXERCISED", "Platform"]
