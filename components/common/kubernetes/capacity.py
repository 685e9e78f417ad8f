"""What a stack asks the cluster for: CPU, memory and GPUs summed over every workload manifest."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from components.common.quantities import cpu_millicores, memory_bytes

_WORKLOADS = {"Deployment", "StatefulSet"}


def requested_totals(
    manifests: Iterable[dict[str, Any]],
    replicas: Mapping[str, int],
    gpu_resource: str = "nvidia.com/gpu",
) -> dict[str, float]:
    """`replicas` gives the count of workloads whose manifest leaves it to an autoscaler. Every
    container the program renders carries requests; a missing one is a bug and raises KeyError."""
    cpu = memory = gpus = 0
    for manifest in manifests:
        if manifest["kind"] not in _WORKLOADS:
            continue
        count = replicas.get(manifest["metadata"]["name"], manifest["spec"].get("replicas", 1))
        for container in manifest["spec"]["template"]["spec"]["containers"]:
            requests = container["resources"]["requests"]
            cpu += cpu_millicores(requests["cpu"]) * count
            memory += memory_bytes(requests["memory"]) * count
            gpus += int(container["resources"].get("limits", {}).get(gpu_resource, 0)) * count
    return {"cpuCores": round(cpu / 1000, 3), "memoryGiB": round(memory / 2**30, 3), "gpus": gpus}
