"""WorkerPool: the Kubernetes ComponentResource that carries a pool's manifests."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from components.common.resources import create
from components.worker_pool.manifests import WorkerPoolSpec, pool_manifests


@dataclass(frozen=True)
class WorkerPoolArgs:
    spec: WorkerPoolSpec


class WorkerPool(pulumi.ComponentResource):
    """Deployment, Services, PDB, autoscaler (KEDA or HPA), VPA, NetworkPolicy and ServiceMonitor."""

    service_name: str
    headless_service_name: str

    def __init__(self, name: str, args: WorkerPoolArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("teknofest:platform:WorkerPool", name, None, opts)
        spec = args.spec
        child = pulumi.ResourceOptions(parent=self)
        resources = [create(manifest, child) for manifest in pool_manifests(spec)]
        self.service_name = spec.name
        self.headless_service_name = spec.headless_service_name
        self.register_outputs(
            {
                "serviceName": spec.name,
                "minReplicas": spec.min_replicas,
                "maxReplicas": spec.max_replicas,
                "resourceCount": len(resources),
            }
        )
