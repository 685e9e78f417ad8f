"""The Pod Security Standard "restricted" profile, as pod and container security contexts."""

from __future__ import annotations

from typing import Any

# The namespace enforces this profile; every workload is written to pass it.
POD_SECURITY_LEVEL = "restricted"


def pod_security_context(user: int, group: int) -> dict[str, Any]:
    return {
        "runAsNonRoot": True,
        "runAsUser": user,
        "runAsGroup": group,
        "fsGroup": group,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def container_security_context() -> dict[str, Any]:
    return {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }
