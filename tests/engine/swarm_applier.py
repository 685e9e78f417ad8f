"""Applies a swarm-target plan, as recorded under Pulumi's mocks, to a real one-node Swarm.

It follows what pulumi-docker does, which bridges kreuzwerker/terraform-provider-docker
(internal/provider/resource_docker_service_funcs.go `createServiceSpec`, resource_docker_secret.go,
resource_docker_config.go, resource_docker_network_funcs.go), read with the search tool:
- a Secret or ServiceConfig is created from its base64 `data`; a service refers to them (and to
  networks) by ID, which the applier maps from the mock engine's IDs to the engine's own;
- a service's spec is the task template (container spec, networks, placement, resources,
  restart policy, log driver), mode, update and rollback configs and endpoint spec, durations
  as Go durations; with `convergeConfig` the provider polls the service's tasks until every
  desired one runs (Swarm starts a task with a healthcheck as running only once it is healthy),
  or fails the create after `timeout`.

A field of the plan the applier does not map fails the apply: nothing is silently dropped.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import docker

from stacks.mock_engine import RegisteredResource
from tests.engine.applier import (
    IMAGE,
    PROVIDER,
    Applier,
    PlanError,
    Step,
    create_in_order,
    go_duration_ns,
    steps,
)

NETWORK = "docker:index/network:Network"
SERVICE = "docker:index/service:Service"
SECRET = "docker:index/secret:Secret"
CONFIG = "docker:index/serviceConfig:ServiceConfig"

# Every field the applier maps, nested as the plan nests them ("*": the items of a list).
_LABELS = {"*": {"label": None, "value": None}}
_FILE_REF = {"*": {k: None for k in ("fileName", "fileUid", "fileGid", "fileMode")}}
SCHEMA: dict[str, dict[str, Any]] = {
    PROVIDER: {"host": None},
    IMAGE: {
        "imageName": None,
        "build": {"context": None, "dockerfile": None, "args": None},
        "skipPush": None,
        # Whether `pulumi preview` builds too: nothing to apply.
        "buildOnPreview": None,
    },
    NETWORK: {
        "name": None,
        "driver": None,
        "internal": None,
        "attachable": None,
        "options": None,
        "labels": _LABELS,
    },
    SECRET: {"name": None, "data": None, "labels": _LABELS},
    CONFIG: {"name": None, "data": None, "labels": _LABELS},
    SERVICE: {
        "name": None,
        "labels": _LABELS,
        "taskSpec": {
            "containerSpec": {
                "image": None,
                "commands": None,
                "args": None,
                "env": None,
                "user": None,
                "readOnly": None,
                "capDrops": None,
                "capAdds": None,
                "init": None,
                "hostname": None,
                "stopGracePeriod": None,
                "labels": _LABELS,
                "healthcheck": {k: None for k in ("tests", "interval", "timeout", "retries", "startPeriod")},
                "mounts": {
                    "*": {
                        "type": None,
                        "source": None,
                        "target": None,
                        "readOnly": None,
                        "volumeOptions": {"labels": _LABELS},
                        "tmpfsOptions": {"sizeBytes": None, "mode": None},
                    }
                },
                "configs": {"*": {**_FILE_REF["*"], "configId": None, "configName": None}},
                "secrets": {"*": {**_FILE_REF["*"], "secretId": None, "secretName": None}},
            },
            "networksAdvanceds": {"*": {"id": None, "aliases": None}},
            "placement": {"constraints": None, "maxReplicas": None},
            "resources": {
                "limits": {"memoryBytes": None, "nanoCpus": None},
                "reservation": {
                    "memoryBytes": None,
                    "nanoCpus": None,
                    "genericResources": {"discreteResourcesSpecs": None},
                },
            },
            "restartPolicy": {k: None for k in ("condition", "delay", "maxAttempts", "window")},
            "logDriver": {"name": None, "options": None},
        },
        "mode": {"replicated": {"replicas": None}, "global": None},
        "updateConfig": {
            k: None for k in ("parallelism", "delay", "failureAction", "monitor", "maxFailureRatio", "order")
        },
        "rollbackConfig": {
            k: None for k in ("parallelism", "delay", "failureAction", "monitor", "maxFailureRatio", "order")
        },
        "endpointSpec": {
            "mode": None,
            "ports": {"*": {k: None for k in ("targetPort", "publishedPort", "publishMode", "protocol")}},
        },
        "convergeConfig": {"delay": None, "timeout": None},
    },
}


def unmapped_fields(value: Any, schema: Any, path: str = "") -> list[str]:
    """The paths of `value` that `schema` does not name."""
    if schema is None:
        return []
    if isinstance(value, list):
        item = schema.get("*") if isinstance(schema, dict) else None
        return [p for i, v in enumerate(value) for p in unmapped_fields(v, item, f"{path}[{i}]")]
    if isinstance(value, dict):
        found = []
        for key, sub in value.items():
            if key not in schema:
                found.append(f"{path}.{key}".lstrip("."))
            else:
                found += unmapped_fields(sub, schema[key], f"{path}.{key}")
        return found
    return []


def _labels(items: list[dict[str, Any]] | None) -> dict[str, str]:
    return {item["label"]: str(item["value"]) for item in items or []}


def _file(ref: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "Name": ref["fileName"],
        "UID": str(ref.get("fileUid", "0")),
        "GID": str(ref.get("fileGid", "0")),
        "Mode": int(ref.get("fileMode", 0o444)),
    }


def _update(config: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "Parallelism": int(config.get("parallelism", 1)),
        "Delay": go_duration_ns(config.get("delay", "0s")),
        "FailureAction": config.get("failureAction", "pause"),
        "Monitor": go_duration_ns(config.get("monitor", "5s")),
        "MaxFailureRatio": float(config.get("maxFailureRatio", "0")),
        "Order": config.get("order", "stop-first"),
    }


def service_request(inputs: Mapping[str, Any], image: str, ids: Mapping[str, str]) -> dict[str, Any]:
    """The body of POST /services/create the provider sends; `ids` maps the plan's IDs of
    networks, secrets and configs to the engine's."""

    def real(mock_id: str) -> str:
        if mock_id not in ids:
            raise PlanError(f"service {inputs['name']}: refers to {mock_id}, which is not created yet")
        return ids[mock_id]

    task = inputs["taskSpec"]
    spec = task["containerSpec"]
    container: dict[str, Any] = {
        "Image": image,
        "Labels": _labels(spec.get("labels")),
        "Command": list(spec.get("commands") or []),
        "Args": list(spec.get("args") or []),
        "Env": [f"{k}={v}" for k, v in sorted((spec.get("env") or {}).items())],
        "User": spec.get("user", ""),
        "ReadOnly": bool(spec.get("readOnly")),
        "CapabilityDrop": list(spec.get("capDrops") or []),
        "CapabilityAdd": list(spec.get("capAdds") or []),
        "Init": bool(spec.get("init")),
        **({"Hostname": spec["hostname"]} if spec.get("hostname") else {}),
        "StopGracePeriod": go_duration_ns(spec.get("stopGracePeriod", "10s")),
    }
    if hc := spec.get("healthcheck"):
        container["Healthcheck"] = {
            "Test": list(hc["tests"]),
            "Interval": go_duration_ns(hc.get("interval", "0s")),
            "Timeout": go_duration_ns(hc.get("timeout", "0s")),
            "StartPeriod": go_duration_ns(hc.get("startPeriod", "0s")),
            "Retries": int(hc.get("retries", 0)),
        }
    mounts = []
    for m in spec.get("mounts") or []:
        mount: dict[str, Any] = {"Type": m["type"], "Target": m["target"], "ReadOnly": bool(m.get("readOnly"))}
        if m.get("source"):
            mount["Source"] = m["source"]
        if options := m.get("volumeOptions"):
            mount["VolumeOptions"] = {"Labels": _labels(options.get("labels"))}
        if options := m.get("tmpfsOptions"):
            mount["TmpfsOptions"] = {"SizeBytes": int(options["sizeBytes"]), "Mode": int(options["mode"])}
        mounts.append(mount)
    container["Mounts"] = mounts
    container["Configs"] = [
        {"File": _file(ref), "ConfigID": real(ref["configId"]), "ConfigName": ref["configName"]}
        for ref in spec.get("configs") or []
    ]
    container["Secrets"] = [
        {"File": _file(ref), "SecretID": real(ref["secretId"]), "SecretName": ref["secretName"]}
        for ref in spec.get("secrets") or []
    ]
    resources = task.get("resources") or {}
    limits, reservation = resources.get("limits") or {}, resources.get("reservation") or {}
    reservations: dict[str, Any] = {
        "NanoCPUs": int(reservation.get("nanoCpus", 0)),
        "MemoryBytes": int(reservation.get("memoryBytes", 0)),
    }
    generic = (reservation.get("genericResources") or {}).get("discreteResourcesSpecs") or []
    if generic:
        reservations["GenericResources"] = [
            {"DiscreteResourceSpec": {"Kind": kind, "Value": int(value)}}
            for kind, value in (item.split("=", 1) for item in generic)
        ]
    restart = task.get("restartPolicy") or {}
    placement = task.get("placement") or {}
    template: dict[str, Any] = {
        "ContainerSpec": container,
        "Networks": [
            {"Target": real(n["id"]), "Aliases": list(n.get("aliases") or [])}
            for n in task.get("networksAdvanceds") or []
        ],
        "Placement": {
            "Constraints": list(placement.get("constraints") or []),
            **({"MaxReplicas": int(placement["maxReplicas"])} if placement.get("maxReplicas") else {}),
        },
        "Resources": {
            "Limits": {"NanoCPUs": int(limits.get("nanoCpus", 0)), "MemoryBytes": int(limits.get("memoryBytes", 0))},
            "Reservations": reservations,
        },
        "RestartPolicy": {
            "Condition": restart.get("condition", "any"),
            "Delay": go_duration_ns(restart.get("delay", "5s")),
            "MaxAttempts": int(restart.get("maxAttempts", 0)),
            "Window": go_duration_ns(restart.get("window", "0s")),
        },
    }
    if log := task.get("logDriver"):
        template["LogDriver"] = {"Name": log["name"], "Options": dict(log.get("options") or {})}
    mode = inputs.get("mode") or {}
    endpoint = inputs.get("endpointSpec") or {}
    return {
        "Name": inputs["name"],
        "Labels": _labels(inputs.get("labels")),
        "TaskTemplate": template,
        "Mode": {"Global": {}}
        if mode.get("global")
        else {"Replicated": {"Replicas": int(mode["replicated"]["replicas"])}},
        "UpdateConfig": _update(inputs.get("updateConfig") or {}),
        "RollbackConfig": _update(inputs.get("rollbackConfig") or {}),
        "EndpointSpec": {
            "Mode": endpoint.get("mode", "vip"),
            "Ports": [
                {
                    "Protocol": p.get("protocol", "tcp"),
                    "TargetPort": int(p["targetPort"]),
                    "PublishedPort": int(p["publishedPort"]),
                    "PublishMode": p.get("publishMode", "ingress"),
                }
                for p in endpoint.get("ports") or []
            ],
        },
    }


@dataclass
class SwarmApplied:
    services: dict[str, str] = field(default_factory=dict)  # name -> id
    left_out: dict[str, str] = field(default_factory=dict)
    seconds_to_converge: dict[str, float] = field(default_factory=dict)
    networks: list[str] = field(default_factory=list)
    secrets: list[str] = field(default_factory=list)
    configs: list[str] = field(default_factory=list)
    # The plan's ID of every network, secret and config -> the engine's.
    ids: dict[str, str] = field(default_factory=dict)


def check_schema(resource_type: str, name: str, inputs: Mapping[str, Any]) -> None:
    """Every field of the plan is one the applier maps; an unknown one fails the apply."""
    schema = SCHEMA.get(resource_type)
    if schema is None:
        raise PlanError(f"{resource_type} {name}: a resource type the swarm applier does not implement")
    unmapped = unmapped_fields(inputs, schema)
    if unmapped:
        raise PlanError(f"{resource_type} {name}: fields the applier does not map: {unmapped}")


class SwarmApplier:
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
        # Image builds are the container applier's (the same provider code builds them).
        self.builder = Applier(client, image_for, left_out_because, log, build_hosts)
        self.applied = SwarmApplied()

    def apply(self, resources: list[RegisteredResource], parallel: int = 16) -> SwarmApplied:
        all_steps = steps(resources, check_schema)
        built = {str(s.inputs["imageName"]) for s in all_steps if s.type == IMAGE}
        left_out: set[str] = set()
        for step in all_steps:
            if step.type != SERVICE:
                continue
            reference = str(step.inputs["taskSpec"]["containerSpec"]["image"])
            if reference in built or self.image_for(reference):
                continue
            reason = self.left_out_because(reference)
            if reason is None:
                raise PlanError(f"service {step.name}: no stand-in for {reference} and no reason to leave it out")
            self.applied.left_out[step.name] = f"{reference}: {reason}"
            left_out.add(step.urn)
        todo = {s.urn: s for s in all_steps if s.urn not in left_out}
        create_in_order(todo, {s.urn for s in all_steps}, self._create, parallel)
        return self.applied

    def _create(self, step: Step) -> None:
        inputs = step.inputs
        api = self.client.api
        labels = _labels(inputs.get("labels"))
        if step.type == NETWORK:
            created = api.create_network(
                inputs["name"],
                driver=inputs.get("driver", "bridge"),
                options=dict(inputs.get("options") or {}),
                internal=bool(inputs.get("internal")),
                attachable=bool(inputs.get("attachable")),
                labels=labels,
                check_duplicate=True,
            )
            self.applied.ids[f"{step.name}-id"] = created["Id"]
            self.applied.networks.append(inputs["name"])
        elif step.type == SECRET:
            created = api.create_secret(inputs["name"], base64.b64decode(inputs["data"]), labels=labels)
            self.applied.ids[f"{step.name}-id"] = created["ID"]
            self.applied.secrets.append(inputs["name"])
        elif step.type == CONFIG:
            created = api.create_config(inputs["name"], base64.b64decode(inputs["data"]), labels=labels)
            self.applied.ids[f"{step.name}-id"] = created["ID"]
            self.applied.configs.append(inputs["name"])
        elif step.type == IMAGE:
            self.builder._build(inputs)
        elif step.type == SERVICE:
            self._service(inputs)

    def _service(self, inputs: Mapping[str, Any]) -> None:
        name = str(inputs["name"])
        reference = str(inputs["taskSpec"]["containerSpec"]["image"])
        body = service_request(inputs, self.image_for(reference) or reference, self.applied.ids)
        api = self.client.api
        started = time.monotonic()
        response = api._post_json(api._url("/services/create"), data=body)  # type: ignore[attr-defined]
        service_id = str(api._result(response, True)["ID"])  # type: ignore[attr-defined]
        self.applied.services[name] = service_id
        converge = inputs.get("convergeConfig")
        if converge:
            timeout = go_duration_ns(converge.get("timeout", "3m")) / 1e9
            self.wait_converged(name, timeout)
        self.applied.seconds_to_converge[name] = time.monotonic() - started
        self.log(f"  {name}: converged in {time.monotonic() - started:.1f} s")

    def wait_converged(self, name: str, timeout: float) -> None:
        """Every desired task running: a replicated service's count, or one per node."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.converged(name):
                return
            time.sleep(1)
        raise PlanError(f"service {name}: not converged within {timeout:.0f} s\n{self.diagnosis(name)}")

    def converged(self, name: str) -> bool:
        # The SDK's swarm calls are untyped.
        api: Any = self.client.api
        service = api.inspect_service(name)
        mode = service["Spec"]["Mode"]
        wanted = mode["Replicated"]["Replicas"] if "Replicated" in mode else len(api.nodes())
        tasks = api.tasks(filters={"service": name, "desired-state": "running"})
        running = [t for t in tasks if t["Status"]["State"] == "running"]
        update = (service.get("UpdateStatus") or {}).get("State")
        return len(running) == wanted and len(tasks) == wanted and update in (None, "completed")

    def diagnosis(self, name: str) -> str:
        lines = []
        api: Any = self.client.api
        for task in api.tasks(filters={"service": name})[-4:]:
            status = task["Status"]
            lines.append(
                f"task {task['ID'][:12]}: {status['State']} {status.get('Err', '')} {status.get('Message', '')}"
            )
            container = (status.get("ContainerStatus") or {}).get("ContainerID")
            if container:
                try:
                    logs = self.client.api.logs(container, tail=15).decode(errors="replace")
                    lines.append(f"  logs:\n{logs}")
                except docker.errors.APIError:
                    pass
        return "\n".join(lines)


def remove_swarm_managed(client: docker.DockerClient, label: str) -> None:
    """Remove what a previous apply left: services (and wait for their tasks' containers to go),
    then secrets, configs, networks and volumes."""
    api: Any = client.api
    for service in api.services(filters={"label": label}):
        api.remove_service(service["ID"])
    deadline = time.monotonic() + 120
    while client.api.containers(all=True, filters={"label": label}) and time.monotonic() < deadline:
        time.sleep(1)
    for secret in client.api.secrets(filters={"label": label}):
        client.api.remove_secret(secret["ID"])
    for config in api.configs(filters={"label": label}):
        api.remove_config(config["ID"])
    # A removed task's network attachment can outlive it for a moment.
    for net in client.api.networks(filters={"label": label}):
        for _ in range(30):
            try:
                client.api.remove_network(net["Id"])
                break
            except docker.errors.APIError:
                time.sleep(1)
    for vol in client.api.volumes(filters={"label": label}).get("Volumes") or []:
        client.api.remove_volume(vol["Name"], force=True)
