"""Applies a docker-target plan, as recorded under Pulumi's mocks, to a real engine.

It follows what pulumi-docker does, which bridges kreuzwerker/terraform-provider-docker
(internal/provider/resource_docker_container_funcs.go, resource_docker_network_funcs.go,
resource_docker_volume.go), read with the search tool:
- a container is created with its config and host config and no network settings; it is
  disconnected from the default bridge and connected to each `networksAdvanced` network with
  its aliases; each upload is written as a one-file tar archive extracted at "/" (the file's
  absolute path is the entry's name); then it is started, and with `wait` the provider polls
  its health every second until "healthy" or `waitTimeout` seconds; a container that is not
  running afterwards (must_run) fails the create;
- `memory`/`memorySwap` are MiB, `cpus` a decimal count, durations Go durations;
- resources are created once the resources they depend on exist, several at a time.

Each pinned image is swapped for its stand-in (tests/engine/standins.py). A field of the plan
the applier does not know fails the apply: nothing is silently dropped.
"""

from __future__ import annotations

import contextlib
import io
import re
import tarfile
import time
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker

from stacks.mock_engine import RegisteredResource, unwrap

NETWORK = "docker:index/network:Network"
VOLUME = "docker:index/volume:Volume"
REMOTE_IMAGE = "docker:index/remoteImage:RemoteImage"
IMAGE = "docker:index/image:Image"
CONTAINER = "docker:index/container:Container"
PROVIDER = "pulumi:providers:docker"
# Resources whose values the mock engine already passed into the containers' inputs.
VALUES_ONLY = ("random:", "tls:")

KNOWN_FIELDS: dict[str, frozenset[str]] = {
    # Which engine: the applier's own, always.
    PROVIDER: frozenset({"host"}),
    NETWORK: frozenset({"name", "driver", "internal", "options", "labels"}),
    VOLUME: frozenset({"name", "labels"}),
    REMOTE_IMAGE: frozenset({"name", "keepLocally"}),
    IMAGE: frozenset({"imageName", "build", "skipPush", "buildOnPreview"}),
    CONTAINER: frozenset(
        {
            "name",
            "image",
            "entrypoints",
            "command",
            "envs",
            "user",
            "readOnly",
            "tmpfs",
            "capabilities",
            "securityOpts",
            "memory",
            "memorySwap",
            "cpus",
            "restart",
            "destroyGraceSeconds",
            "stopTimeout",
            "init",
            "logDriver",
            "logOpts",
            "labels",
            "networksAdvanced",
            "ports",
            "volumes",
            "uploads",
            "healthcheck",
            "wait",
            "waitTimeout",
            "start",
            "mustRun",
            "networkMode",
            "ulimits",
        }
    ),
}
NESTED_FIELDS: dict[str, frozenset[str]] = {
    "capabilities": frozenset({"drops", "adds"}),
    "networksAdvanced": frozenset({"name", "aliases"}),
    "ports": frozenset({"internal", "external", "ip", "protocol"}),
    "volumes": frozenset({"volumeName", "containerPath", "readOnly", "hostPath"}),
    "uploads": frozenset({"file", "content", "permissions", "owner", "group", "executable"}),
    "healthcheck": frozenset({"tests", "interval", "timeout", "retries", "startPeriod"}),
    "build": frozenset({"context", "dockerfile", "args"}),
    "labels": frozenset({"label", "value"}),
    "ulimits": frozenset({"name", "soft", "hard"}),
}


class PlanError(Exception):
    """The plan asks for something the applier does not implement, or the engine refused it."""


@dataclass
class Applied:
    containers: dict[str, str] = field(default_factory=dict)  # name -> id
    left_out: dict[str, str] = field(default_factory=dict)  # container name -> why
    seconds_to_healthy: dict[str, float] = field(default_factory=dict)
    networks: list[str] = field(default_factory=list)
    volumes: list[str] = field(default_factory=list)


def check_fields(resource_type: str, name: str, inputs: Mapping[str, Any]) -> None:
    """Every field of the plan is one the applier maps; an unknown one fails the apply."""
    known = KNOWN_FIELDS.get(resource_type)
    if known is None:
        raise PlanError(f"{resource_type} {name}: a resource type the applier does not implement")
    unknown = sorted(set(inputs) - known)
    if unknown:
        raise PlanError(f"{resource_type} {name}: fields the applier does not map: {unknown}")
    for key, allowed in NESTED_FIELDS.items():
        value = inputs.get(key)
        items = value if isinstance(value, list) else [value] if isinstance(value, dict) else []
        for item in items:
            extra = sorted(set(item) - allowed) if isinstance(item, dict) else []
            if extra:
                raise PlanError(f"{resource_type} {name}: fields of {key} the applier does not map: {extra}")


_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|ms|s|m|h)")
_UNIT_NS = {"ns": 1, "us": 10**3, "ms": 10**6, "s": 10**9, "m": 60 * 10**9, "h": 3600 * 10**9}


def go_duration_ns(text: str) -> int:
    """Go's time.ParseDuration for the forms the plan uses ("10s", "1m30s")."""
    parts = _DURATION.findall(text)
    if not parts or "".join(f"{n}{u}" for n, u in parts) != text:
        raise PlanError(f"not a Go duration: {text!r}")
    return int(sum(float(number) * _UNIT_NS[unit] for number, unit in parts))


def container_request(inputs: Mapping[str, Any], image: str) -> dict[str, Any]:
    """The body of POST /containers/create that the provider sends for these inputs."""
    ports = inputs.get("ports") or []
    config: dict[str, Any] = {
        "Image": image,
        "Env": list(inputs.get("envs") or []),
        "Labels": {label["label"]: label["value"] for label in inputs.get("labels") or []},
    }
    if inputs.get("command"):
        if any(part == "" for part in inputs["command"]):
            raise PlanError(f"{inputs['name']}: values for command may not be empty (the provider refuses them)")
        config["Cmd"] = list(inputs["command"])
    if inputs.get("entrypoints"):
        config["Entrypoint"] = list(inputs["entrypoints"])
    if inputs.get("user"):
        config["User"] = inputs["user"]
    if ports:
        config["ExposedPorts"] = {f"{p['internal']}/{p.get('protocol', 'tcp')}": {} for p in ports}
    if inputs.get("stopTimeout") is not None:
        config["StopTimeout"] = int(inputs["stopTimeout"])
    if hc := inputs.get("healthcheck"):
        config["Healthcheck"] = {
            "Test": list(hc["tests"]),
            "Interval": go_duration_ns(hc.get("interval", "0s")),
            "Timeout": go_duration_ns(hc.get("timeout", "0s")),
            "StartPeriod": go_duration_ns(hc.get("startPeriod", "0s")),
            "Retries": int(hc.get("retries", 0)),
        }
    binds = []
    for mount in inputs.get("volumes") or []:
        source = mount.get("volumeName") or mount.get("hostPath")
        binds.append(f"{source}:{mount['containerPath']}:{'ro' if mount.get('readOnly') else 'rw'}")
    capabilities = inputs.get("capabilities") or {}
    host: dict[str, Any] = {
        "RestartPolicy": {"Name": inputs.get("restart", "no"), "MaximumRetryCount": 0},
        "ReadonlyRootfs": bool(inputs.get("readOnly")),
        "LogConfig": {"Type": inputs.get("logDriver", "json-file"), "Config": dict(inputs.get("logOpts") or {})},
        "Init": bool(inputs.get("init")),
        "CapDrop": list(capabilities.get("drops") or []),
        "CapAdd": list(capabilities.get("adds") or []),
        "SecurityOpt": list(inputs.get("securityOpts") or []),
        "Binds": binds,
    }
    if inputs.get("ulimits"):
        host["Ulimits"] = [
            {"Name": u["name"], "Soft": int(u["soft"]), "Hard": int(u["hard"])} for u in inputs["ulimits"]
        ]
    if inputs.get("networkMode"):
        host["NetworkMode"] = inputs["networkMode"]
    if inputs.get("tmpfs"):
        host["Tmpfs"] = dict(inputs["tmpfs"])
    if ports:
        host["PortBindings"] = {
            f"{p['internal']}/{p.get('protocol', 'tcp')}": [{"HostIp": p.get("ip", ""), "HostPort": str(p["external"])}]
            for p in ports
        }
    if inputs.get("memory"):
        host["Memory"] = int(inputs["memory"]) * 1024 * 1024
    if inputs.get("memorySwap"):
        swap = int(inputs["memorySwap"])
        host["MemorySwap"] = swap * 1024 * 1024 if swap > 0 else swap
    if inputs.get("cpus"):
        host["NanoCpus"] = int(float(inputs["cpus"]) * 1e9)
    return {**config, "HostConfig": host}


def upload_archive(upload: Mapping[str, Any]) -> bytes:
    """One upload as the provider sends it: a tar of one entry named by the file's path."""
    content = str(upload["content"]).encode()
    info = tarfile.TarInfo(str(upload["file"]))
    info.size = len(content)
    if upload.get("permissions"):
        info.mode = int(str(upload["permissions"]), 8)
    else:
        info.mode = 0o744 if upload.get("executable") else 0o644
    info.uid = int(upload.get("owner") or 0)
    info.gid = int(upload.get("group") or 0)
    info.mtime = int(time.time())
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


@dataclass(frozen=True)
class Step:
    urn: str
    type: str
    name: str
    inputs: dict[str, Any]
    depends: tuple[str, ...]


def _descendants(resources: list[RegisteredResource]) -> dict[str, set[str]]:
    """Component URN -> the custom resources under it: depending on a component is waiting for
    all of them (Pulumi's depends_on)."""
    children: dict[str, list[RegisteredResource]] = {}
    for resource in resources:
        children.setdefault(resource.parent_urn or "", []).append(resource)

    def under(urn: str) -> set[str]:
        found: set[str] = set()
        for child in children.get(urn, []):
            found |= {child.urn} if child.custom else under(child.urn)
        return found

    return {r.urn: under(r.urn) for r in resources if not r.custom}


def steps(
    resources: list[RegisteredResource], check: Callable[[str, str, Mapping[str, Any]], None] = check_fields
) -> list[Step]:
    components = _descendants(resources)
    found = []
    for resource in resources:
        if not resource.custom or resource.type.startswith(VALUES_ONLY):
            continue
        inputs = unwrap(resource.inputs, mask=False)
        check(resource.type, resource.name, inputs)
        depends: set[str] = set()
        for urn in resource.dependencies:
            depends |= components.get(urn, {urn})
        found.append(Step(resource.urn, resource.type, resource.name, inputs, tuple(sorted(depends))))
    return found


def create_in_order(todo: dict[str, Step], known: set[str], create: Callable[[Step], None], parallel: int) -> None:
    """Each step once every step it depends on is created (several at a time), as `pulumi up`
    does; a failed create fails the whole apply."""
    done: set[str] = set()
    running: dict[Future[None], str] = {}
    with ThreadPoolExecutor(max_workers=parallel) as pool:
        while todo or running:
            ready = [s for s in todo.values() if all(d in done or d not in known for d in s.depends)]
            for step in ready:
                del todo[step.urn]
                running[pool.submit(create, step)] = step.urn
            if not running:
                raise PlanError(f"dependency cycle, or a dependency left out, among {sorted(todo)}")
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                urn = running.pop(future)
                future.result()
                done.add(urn)


class Applier:
    def __init__(
        self,
        client: docker.DockerClient,
        image_for: Callable[[str], str | None],
        left_out_because: Callable[[str], str | None],
        log: Callable[[str], None] = print,
        build_hosts: Mapping[str, str] | None = None,
    ) -> None:
        self.client = client
        self.image_for = image_for
        self.left_out_because = left_out_because
        self.log = log
        # Names a build resolves through /etc/hosts (the engine's DNS answers nothing outside).
        self.build_hosts = dict(build_hosts or {})
        self.applied = Applied()

    # --- planning -------------------------------------------------------------------------
    def _image_reference(self, step: Step) -> str:
        if step.type == CONTAINER:
            return str(step.inputs["image"])
        if step.type == REMOTE_IMAGE:
            return str(step.inputs["name"])
        return ""

    def _skipped(self, all_steps: list[Step], built: set[str]) -> dict[str, str]:
        """URN -> why, for the containers (and their image pulls) of images not exercised here."""
        skipped: dict[str, str] = {}
        for step in all_steps:
            reference = self._image_reference(step)
            if not reference or reference in built or self.image_for(reference):
                continue
            reason = self.left_out_because(reference)
            if reason is None:
                raise PlanError(f"{step.type} {step.name}: no stand-in for {reference} and no reason to leave it out")
            skipped[step.urn] = f"{reference}: {reason}"
        return skipped

    # --- applying -------------------------------------------------------------------------
    def apply(self, resources: list[RegisteredResource], parallel: int = 32) -> Applied:
        all_steps = steps(resources)
        built = {str(s.inputs["imageName"]) for s in all_steps if s.type == IMAGE}
        skipped = self._skipped(all_steps, built)
        for step in all_steps:
            if step.urn in skipped and step.type == CONTAINER:
                self.applied.left_out[step.name] = skipped[step.urn]
        todo = {s.urn: s for s in all_steps if s.urn not in skipped}
        known = {s.urn for s in all_steps}
        for step in todo.values():
            blocked = [urn for urn in step.depends if urn in skipped]
            if blocked:
                raise PlanError(f"{step.name} depends on resources left out of the run: {blocked}")
        create_in_order(todo, known, self._create, parallel)
        return self.applied

    def _create(self, step: Step) -> None:
        if step.type == NETWORK:
            self._network(step.inputs)
        elif step.type == VOLUME:
            labels = {label["label"]: label["value"] for label in step.inputs.get("labels") or []}
            self.client.api.create_volume(step.inputs["name"], driver="local", labels=labels)
            self.applied.volumes.append(step.inputs["name"])
        elif step.type == REMOTE_IMAGE:
            reference = str(step.inputs["name"])
            if not self.client.images.list(name=self.image_for(reference)):
                raise PlanError(f"{reference}: its stand-in {self.image_for(reference)} is not built")
        elif step.type == IMAGE:
            self._build(step.inputs)
        elif step.type == CONTAINER:
            self._container(step.inputs)

    def _network(self, inputs: Mapping[str, Any]) -> None:
        labels = {label["label"]: label["value"] for label in inputs.get("labels") or []}
        self.client.api.create_network(
            inputs["name"],
            driver=inputs.get("driver", "bridge"),
            options=dict(inputs.get("options") or {}),
            internal=bool(inputs.get("internal")),
            labels=labels,
            check_duplicate=True,
        )
        self.applied.networks.append(inputs["name"])

    def _build(self, inputs: Mapping[str, Any]) -> None:
        build = inputs["build"]
        # The build's own image arguments (the base image) are swapped for their stand-ins too.
        args = {key: self.image_for(str(value)) or str(value) for key, value in (build.get("args") or {}).items()}
        context = Path(build["context"])
        dockerfile = str(Path(build["dockerfile"]).relative_to(context))
        for chunk in self.client.api.build(
            path=str(context),
            dockerfile=dockerfile,
            tag=inputs["imageName"],
            buildargs=args,
            network_mode="host",
            extra_hosts=self.build_hosts,
            rm=True,
            forcerm=True,
            decode=True,
        ):
            if "error" in chunk:
                raise PlanError(f"image {inputs['imageName']} failed to build: {chunk['error']}")

    def _container(self, inputs: Mapping[str, Any]) -> None:
        name = str(inputs["name"])
        reference = str(inputs["image"])
        image = self.image_for(reference) or reference
        body = container_request(inputs, image)
        api = self.client.api
        started = time.monotonic()
        # The body exactly as mapped above (the SDK's create_container would rebuild it from kwargs).
        response = api._post_json(api._url("/containers/create"), data=body, params={"name": name})  # type: ignore[attr-defined]
        container_id = str(api._result(response, True)["Id"])  # type: ignore[attr-defined]
        self.applied.containers[name] = container_id
        if inputs.get("networksAdvanced"):
            # As the provider: off the default bridge first (an error saying it is not on it is
            # ignored). Left on it, the container would not get the engine's DNS for its networks.
            with contextlib.suppress(docker.errors.APIError):
                api.disconnect_container_from_network(container_id, "bridge")
        for attachment in inputs.get("networksAdvanced") or []:
            api.connect_container_to_network(container_id, attachment["name"], aliases=attachment.get("aliases"))
        for upload in inputs.get("uploads") or []:
            try:
                api.put_archive(container_id, "/", upload_archive(upload))
            except docker.errors.APIError as exc:
                raise PlanError(f"{name}: unable to upload {upload['file']}: {exc.explanation}") from None
        if not inputs.get("start", True):
            return
        api.start(container_id)
        if inputs.get("wait"):
            self._wait_healthy(name, container_id, int(inputs.get("waitTimeout") or 60))
        self._must_run(name, container_id, bool(inputs.get("mustRun", True)))
        self.applied.seconds_to_healthy[name] = time.monotonic() - started
        self.log(f"  {name}: up in {time.monotonic() - started:.1f} s")

    def _wait_healthy(self, name: str, container_id: str, timeout: int) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = self.client.api.inspect_container(container_id)["State"]
            if state.get("Health", {}).get("Status") == "healthy":
                return
            # A container that exits may be restarted by its policy: the provider keeps polling too.
            time.sleep(1)
        raise PlanError(f"{name}: not healthy within {timeout} s (waitTimeout)\n{self._diagnosis(container_id)}")

    def _must_run(self, name: str, container_id: str, must_run: bool) -> None:
        state = self.client.api.inspect_container(container_id)["State"]
        if must_run and not state.get("Running"):
            raise PlanError(f"{name}: failed to be in running state\n{self._diagnosis(container_id)}")

    def _diagnosis(self, container_id: str) -> str:
        state = self.client.api.inspect_container(container_id)["State"]
        health = [
            (entry.get("ExitCode"), entry.get("Output", "").strip()[-300:])
            for entry in state.get("Health", {}).get("Log", [])[-2:]
        ]
        logs = self.client.api.logs(container_id, tail=30).decode(errors="replace")
        return f"state={state.get('Status')} exit={state.get('ExitCode')} health={health}\nlogs:\n{logs}"


def remove_managed(client: docker.DockerClient, label: str) -> None:
    """Remove what a previous apply left (containers, then networks and volumes)."""
    for item in client.api.containers(all=True, filters={"label": label}):
        client.api.remove_container(item["Id"], force=True, v=True)
    for net in client.api.networks(filters={"label": label}):
        # Endpoints of containers removed while they were still attaching can linger.
        # Endpoints of removed containers can linger (20.10): a forced disconnect by the
        # endpoint's name clears them, where one by the container's ID finds nothing.
        for endpoint in (client.api.inspect_network(net["Id"]).get("Containers") or {}).values():
            with contextlib.suppress(docker.errors.NotFound):  # gone meanwhile
                client.api.disconnect_container_from_network(endpoint["Name"], net["Id"], force=True)
        client.api.remove_network(net["Id"])
    for vol in client.api.volumes(filters={"label": label}).get("Volumes") or []:
        client.api.remove_volume(vol["Name"], force=True)
