"""From a mock-engine run of a docker-target stack to the synth's files and checks: one summary
per container (containers/), every uploaded file (configs/<container>/...), secrets masked."""

from __future__ import annotations

from typing import Any

from components.common.docker.containers import CONFIG_DIR
from components.common.docker.resources import FILES_OF_LABEL, ROOT_BECAUSE, UNCHECKED_BECAUSE
from stacks.mock_engine import MASK, SECRET_SIG, SIG_KEY, StackRender, unwrap
from stacks.render_output import sorted_keys
from stacks.settings import PlatformSettings
from stacks.validate import Finding

CONTAINER = "docker:index/container:Container"


def _plain(value: Any) -> Any:
    """The value with the engine's secret wrapper taken off (the uploads list is marked secret as a
    whole once any file in it is; each file is masked below by its own mode)."""
    if isinstance(value, dict) and value.get(SIG_KEY) == SECRET_SIG:
        return unwrap(value.get("value"), mask=False)
    return unwrap(value, mask=False)


def is_secret_file(upload: dict[str, Any]) -> bool:
    """Secret files are readable by their owner only (components/common/docker/containers.py)."""
    return int(str(upload["permissions"]), 8) & 0o077 == 0


def _labels(inputs: dict[str, Any]) -> dict[str, str]:
    return {label["label"]: label["value"] for label in inputs.get("labels", [])}


def files_carrier_of(resource_inputs: dict[str, Any]) -> str | None:
    """The container whose files this one carries (created, never started), or None."""
    return _labels(unwrap(resource_inputs)).get(FILES_OF_LABEL)


def uploads(render: StackRender) -> dict[str, list[dict[str, Any]]]:
    """Each running container's files, by its name (they are carried by its files container)."""
    found: dict[str, list[dict[str, Any]]] = {}
    for resource in render.resources:
        if resource.type == CONTAINER:
            owner = files_carrier_of(resource.inputs) or resource.name
            found.setdefault(owner, []).extend(_plain(resource.inputs.get("uploads")) or [])
    return found


def config_files(render: StackRender) -> dict[str, str]:
    """ "<container>/<path under CONFIG_DIR>" -> text; a secret file's text is masked."""
    files: dict[str, str] = {}
    for container, items in uploads(render).items():
        for upload in items:
            relative = str(upload["file"]).removeprefix(CONFIG_DIR + "/")
            files[f"{container}/{relative}"] = MASK if is_secret_file(upload) else str(upload["content"])
    return dict(sorted(files.items()))


def container_summaries(render: StackRender) -> dict[str, dict[str, Any]]:
    """What a reviewer reads per container: image, command, user, networks, ports, healthcheck,
    limits, mounts and the files it is given (name, mode, owner)."""
    result: dict[str, dict[str, Any]] = {}
    given = uploads(render)
    for resource in render.resources:
        if resource.type != CONTAINER or files_carrier_of(resource.inputs):
            continue
        inputs = unwrap(resource.inputs)
        files = [
            {"file": u["file"], "permissions": u["permissions"], "owner": u["owner"], "secret": is_secret_file(u)}
            for u in given.get(resource.name, [])
        ]
        labels = _labels(inputs)
        # The RPC layer does not keep key order: sort nested values so that renders diff cleanly.
        result[f"{resource.name}.yaml"] = {
            key: sorted_keys(value) if isinstance(value, dict | list) else value
            for key, value in _summary(inputs, labels, files).items()
        }
    return dict(sorted(result.items()))


def _summary(inputs: dict[str, Any], labels: dict[str, str], files: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "name": inputs["name"],
        "labels": labels,
        "image": inputs["image"],
        "entrypoint": inputs.get("entrypoints", []),
        "command": inputs.get("command", []),
        "user": inputs.get("user"),
        "readOnlyRootFilesystem": inputs.get("readOnly", False),
        "capabilities": inputs.get("capabilities"),
        "securityOpts": inputs.get("securityOpts", []),
        "memoryMB": inputs.get("memory"),
        "cpus": inputs.get("cpus"),
        "gpus": inputs.get("deviceRequests", []),
        "restart": inputs.get("restart"),
        "networks": inputs.get("networksAdvanced", []),
        "ports": inputs.get("ports", []),
        "healthcheck": inputs.get("healthcheck"),
        "env": inputs.get("envs", []),
        "volumes": inputs.get("volumes", []),
        "tmpfs": inputs.get("tmpfs", {}),
        "logging": {"driver": inputs.get("logDriver"), "options": inputs.get("logOpts", {})},
        "files": sorted(files, key=lambda f: str(f["file"])),
    }


def files_carrier_findings(render: StackRender) -> list[Finding]:
    """A files container is never started and has no network: it only carries files."""
    findings = []
    for resource in render.resources:
        if resource.type == CONTAINER and files_carrier_of(resource.inputs):
            inputs = unwrap(resource.inputs)
            if inputs.get("start") is not False or inputs.get("networkMode") != "none":
                findings.append(Finding(resource.name, "carries files but is started or has a network"))
    return findings


def docker_findings(settings: PlatformSettings, summaries: dict[str, dict[str, Any]]) -> list[Finding]:
    """Published ports only on the addresses the settings name; no container as root; a read-only
    root filesystem, dropped capabilities and no new privileges everywhere; secrets only in files."""
    allowed = {settings.docker.publish_address, settings.docker.edge_address}
    findings: list[Finding] = []
    for name, c in summaries.items():
        for port in c["ports"]:
            if port.get("ip") not in allowed:
                findings.append(Finding(name, f"publishes {port.get('external')} on {port.get('ip')}, not {allowed}"))
        if str(c["user"]).split(":")[0] in ("", "0", "root") and ROOT_BECAUSE not in c["labels"]:
            findings.append(Finding(name, "runs as root"))
        if not c["healthcheck"] and UNCHECKED_BECAUSE not in c["labels"]:
            findings.append(Finding(name, "no healthcheck, and no reason given"))
        if not c["readOnlyRootFilesystem"]:
            findings.append(Finding(name, "root filesystem is writable"))
        if (c["capabilities"] or {}).get("drops") != ["ALL"]:
            findings.append(Finding(name, "does not drop every capability"))
        if "no-new-privileges:true" not in c["securityOpts"]:
            findings.append(Finding(name, "may gain privileges (no-new-privileges is off)"))
        for variable in c["env"]:
            if MASK in str(variable):
                findings.append(Finding(name, f"a secret in its environment: {str(variable).split('=')[0]}"))
        for upload in c["files"]:
            if "/secrets/" in str(upload["file"]) and not upload["secret"]:
                findings.append(Finding(name, f"{upload['file']} is readable by others ({upload['permissions']})"))
    return findings
