"""From a mock-engine run of a swarm-target stack to the synth's files and checks: one summary per
service (services/), every config file (configs/<service>/...; secrets are Swarm secrets and are
never written), and the checks a reviewer relies on."""

from __future__ import annotations

import base64
from typing import Any

from components.common.docker.containers import CONFIG_DIR
from components.common.docker.resources import ROOT_BECAUSE, UNCHECKED_BECAUSE
from stacks.mock_engine import StackRender, unwrap
from stacks.render_output import sorted_keys
from stacks.validate import Finding

SERVICE = "docker:index/service:Service"
CONFIG = "docker:index/serviceConfig:ServiceConfig"
SECRET = "docker:index/secret:Secret"
NETWORK = "docker:index/network:Network"


def _labels(items: list[dict[str, Any]] | None) -> dict[str, str]:
    return {item["label"]: item["value"] for item in items or []}


def _by_name(render: StackRender, resource_type: str) -> dict[str, dict[str, Any]]:
    return {r.name: unwrap(r.inputs, mask=False) for r in render.resources if r.type == resource_type}


def services(render: StackRender) -> dict[str, dict[str, Any]]:
    return _by_name(render, SERVICE)


def config_files(render: StackRender) -> dict[str, str]:
    """ "<service>/<path under CONFIG_DIR>" -> text of every ServiceConfig a service mounts."""
    configs = {inputs["name"]: inputs for inputs in _by_name(render, CONFIG).values()}
    files: dict[str, str] = {}
    for name, inputs in services(render).items():
        for ref in inputs["taskSpec"]["containerSpec"].get("configs", []):
            config = configs[ref["configName"]]
            relative = str(ref["fileName"]).removeprefix(CONFIG_DIR + "/")
            files[f"{name}/{relative}"] = base64.b64decode(config["data"]).decode()
    return dict(sorted(files.items()))


def _file_ref(ref: dict[str, Any], name_key: str) -> dict[str, Any]:
    """A mounted config or secret: its path, object name, owner and mode (octal, as ls shows it)."""
    return {
        "fileName": ref["fileName"],
        name_key: ref[name_key],
        "fileUid": ref.get("fileUid"),
        "fileMode": f"0{int(ref.get('fileMode', 0o444)):o}",
    }


def service_summaries(render: StackRender) -> dict[str, dict[str, Any]]:
    """What a reviewer reads per service: image, command, placement, replicas, update policy,
    resources, networks, published ports, healthcheck, mounts, files and secrets."""
    result: dict[str, dict[str, Any]] = {}
    for name, inputs in services(render).items():
        task = inputs["taskSpec"]
        container = task["containerSpec"]
        mode = inputs.get("mode", {})
        summary = {
            "name": inputs["name"],
            "labels": _labels(inputs.get("labels")),
            "image": container["image"],
            "command": [*container.get("commands", []), *container.get("args", [])],
            "user": container.get("user"),
            "readOnlyRootFilesystem": container.get("readOnly", False),
            "capabilities": {"drop": container.get("capDrops", []), "add": container.get("capAdds", [])},
            "mode": "global" if mode.get("global") else {"replicas": mode.get("replicated", {}).get("replicas")},
            "placement": task.get("placement", {}),
            "resources": task.get("resources", {}),
            "restartPolicy": task.get("restartPolicy"),
            "updateConfig": inputs.get("updateConfig"),
            "rollbackConfig": inputs.get("rollbackConfig"),
            "endpoint": inputs.get("endpointSpec"),
            "networks": [
                {"network": str(n.get("id")), "aliases": n.get("aliases", [])}
                for n in task.get("networksAdvanceds", [])
            ],
            "healthcheck": container.get("healthcheck"),
            "env": container.get("env", {}),
            "mounts": container.get("mounts", []),
            "configs": [_file_ref(ref, "configName") for ref in container.get("configs", [])],
            "secrets": [_file_ref(ref, "secretName") for ref in container.get("secrets", [])],
            "logging": task.get("logDriver"),
        }
        result[f"{name}.yaml"] = {
            key: sorted_keys(value) if isinstance(value, dict | list) else value for key, value in summary.items()
        }
    return dict(sorted(result.items()))


def swarm_findings(render: StackRender, summaries: dict[str, dict[str, Any]], publisher: str) -> list[Finding]:
    """No service as root, a read-only root and no capabilities everywhere, secrets only as Swarm
    secrets readable by their owner, stateful services stop-first, networks encrypted overlays and
    only the load balancer (`publisher`) published."""
    findings: list[Finding] = []
    for network in _by_name(render, NETWORK).values():
        if network.get("driver") != "overlay" or network.get("options", {}).get("encrypted") != "true":
            findings.append(Finding(str(network["name"]), "not an encrypted overlay network"))
        if network.get("attachable"):
            findings.append(Finding(str(network["name"]), "attachable: any container on a node may join it"))
    for name, s in summaries.items():
        labels = s["labels"]
        if str(s["user"]).split(":")[0] in ("", "0", "root") and ROOT_BECAUSE not in labels:
            findings.append(Finding(name, "runs as root"))
        if not s["healthcheck"] and UNCHECKED_BECAUSE not in labels:
            findings.append(Finding(name, "no healthcheck, and no reason given"))
        if not s["readOnlyRootFilesystem"]:
            findings.append(Finding(name, "root filesystem is writable"))
        if s["capabilities"]["drop"] != ["ALL"]:
            findings.append(Finding(name, "does not drop every capability"))
        for ref in s["secrets"]:
            if int(ref["fileMode"], 8) & 0o077:
                findings.append(Finding(name, f"secret {ref['fileName']} is readable by others"))
        for ref in s["configs"]:
            if "/secrets/" in str(ref["fileName"]):
                findings.append(Finding(name, f"{ref['fileName']} is a config, not a secret"))
        volumes = [m for m in s["mounts"] if m.get("type") == "volume"]
        if volumes and s["mode"] != "global" and (s["updateConfig"] or {}).get("order") != "stop-first":
            findings.append(Finding(name, "holds a volume but is updated start-first (two tasks on one volume)"))
        if volumes and s["mode"] != "global" and not s["placement"].get("constraints"):
            findings.append(Finding(name, "holds a volume but is not placed by a node label"))
        ports = (s["endpoint"] or {}).get("ports", [])
        if ports and s["name"] != publisher:
            findings.append(Finding(name, f"publishes {[p.get('publishedPort') for p in ports]}: only HAProxy may"))
        if (s["updateConfig"] or {}).get("failureAction") != "rollback":
            findings.append(Finding(name, "a failed update is not rolled back"))
    return findings
