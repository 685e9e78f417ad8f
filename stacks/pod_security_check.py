"""Pod Security Admission, offline: every pod template the program renders against the Pod Security
Standard its namespace enforces (the namespace's `pod-security.kubernetes.io/enforce` label), so a pod
the API server would refuse at `pulumi up` fails the synth instead.

The rules are the Kubernetes Pod Security Standards (baseline and restricted, "latest"), the controls
that concern what this program renders. Pods that operators create from custom resources (CloudNativePG,
RabbitMQ, ECK) and the Helm charts' pods are the operators' and charts' to get right: not checked here.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

LEVELS = ("privileged", "baseline", "restricted")
ENFORCE_LABEL = "pod-security.kubernetes.io/enforce"
_BASELINE_CAPABILITIES = frozenset(
    {
        "AUDIT_WRITE",
        "CHOWN",
        "DAC_OVERRIDE",
        "FOWNER",
        "FSETID",
        "KILL",
        "MKNOD",
        "NET_BIND_SERVICE",
        "SETFCAP",
        "SETGID",
        "SETPCAP",
        "SETUID",
        "SYS_CHROOT",
    }
)
_RESTRICTED_VOLUMES = frozenset(
    {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected", "secret"}
)
_SAFE_SYSCTLS = frozenset(
    {
        "kernel.shm_rmid_forced",
        "net.ipv4.ip_local_port_range",
        "net.ipv4.ip_unprivileged_port_start",
        "net.ipv4.tcp_syncookies",
        "net.ipv4.ping_group_range",
        "net.ipv4.ip_local_reserved_ports",
        "net.ipv4.tcp_keepalive_time",
        "net.ipv4.tcp_fin_timeout",
        "net.ipv4.tcp_keepalive_intvl",
        "net.ipv4.tcp_keepalive_probes",
    }
)


def pod_template(manifest: dict[str, Any]) -> dict[str, Any] | None:
    """The pod spec a workload manifest creates, if it is one."""
    kind, spec = manifest.get("kind"), manifest.get("spec")
    if not isinstance(spec, dict):
        return None
    if kind in ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"):
        pod: dict[str, Any] = spec["template"]["spec"]
        return pod
    if kind == "CronJob":
        pod = spec["jobTemplate"]["spec"]["template"]["spec"]
        return pod
    return None


def _containers(pod: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for key in ("initContainers", "containers", "ephemeralContainers"):
        yield from pod.get(key, []) or []


def baseline_violations(pod: dict[str, Any]) -> list[str]:
    problems = []
    for field in ("hostNetwork", "hostPID", "hostIPC"):
        if pod.get(field):
            problems.append(f"{field} is true")
    for volume in pod.get("volumes", []) or []:
        if "hostPath" in volume:
            problems.append(f"volume {volume['name']!r} is a hostPath")
    pod_context = pod.get("securityContext", {}) or {}
    for sysctl in pod_context.get("sysctls", []) or []:
        if sysctl["name"] not in _SAFE_SYSCTLS:
            problems.append(f"sysctl {sysctl['name']} is not a safe one")
    contexts = [("pod", pod_context)]
    for container in _containers(pod):
        name = container["name"]
        context = container.get("securityContext", {}) or {}
        contexts.append((f"container {name!r}", context))
        if context.get("privileged"):
            problems.append(f"container {name!r} is privileged")
        added = set((context.get("capabilities", {}) or {}).get("add", []) or []) - _BASELINE_CAPABILITIES
        if added:
            problems.append(f"container {name!r} adds capabilities {sorted(added)}")
        if context.get("procMount", "Default") != "Default":
            problems.append(f"container {name!r} sets procMount {context['procMount']}")
        for port in container.get("ports", []) or []:
            if port.get("hostPort"):
                problems.append(f"container {name!r} uses hostPort {port['hostPort']}")
    for where, context in contexts:
        if (context.get("seccompProfile", {}) or {}).get("type") == "Unconfined":
            problems.append(f"{where} seccompProfile is Unconfined")
        if (context.get("windowsOptions", {}) or {}).get("hostProcess"):
            problems.append(f"{where} is a Windows host process")
    return problems


def restricted_violations(pod: dict[str, Any]) -> list[str]:
    problems = baseline_violations(pod)
    for volume in pod.get("volumes", []) or []:
        kinds = set(volume) - {"name"}
        if not kinds <= _RESTRICTED_VOLUMES:
            problems.append(f"volume {volume['name']!r} is of type {sorted(kinds)}")
    pod_context = pod.get("securityContext", {}) or {}
    if pod_context.get("runAsUser") == 0:
        problems.append("pod runAsUser is 0")
    for container in _containers(pod):
        name = container["name"]
        context = container.get("securityContext", {}) or {}
        if context.get("allowPrivilegeEscalation") is not False:
            problems.append(f"container {name!r} does not set allowPrivilegeEscalation: false")
        if not context.get("runAsNonRoot", pod_context.get("runAsNonRoot")):
            problems.append(f"container {name!r} may run as root (runAsNonRoot unset)")
        if context.get("runAsUser") == 0:
            problems.append(f"container {name!r} runAsUser is 0")
        seccomp = (context.get("seccompProfile") or pod_context.get("seccompProfile") or {}).get("type")
        if seccomp not in ("RuntimeDefault", "Localhost"):
            problems.append(f"container {name!r} has no RuntimeDefault/Localhost seccompProfile")
        capabilities = context.get("capabilities", {}) or {}
        if "ALL" not in (capabilities.get("drop", []) or []):
            problems.append(f"container {name!r} does not drop ALL capabilities")
        added = set(capabilities.get("add", []) or []) - {"NET_BIND_SERVICE"}
        if added:
            problems.append(f"container {name!r} adds {sorted(added)} (restricted allows NET_BIND_SERVICE only)")
    return problems


def violations(pod: dict[str, Any], level: str) -> list[str]:
    if level == "restricted":
        return restricted_violations(pod)
    if level == "baseline":
        return baseline_violations(pod)
    return []


def namespace_levels(manifests: dict[str, dict[str, Any]], mode: str = "enforce") -> dict[str, str]:
    """Each rendered namespace's Pod Security level for a mode (enforce, audit, warn)."""
    levels = {}
    for manifest in manifests.values():
        if manifest["kind"] == "Namespace":
            labels = manifest["metadata"].get("labels", {}) or {}
            levels[manifest["metadata"]["name"]] = labels.get(f"pod-security.kubernetes.io/{mode}", "privileged")
    return levels
