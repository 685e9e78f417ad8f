"""WorkerPool: the Kubernetes ComponentResource that carries a pool's manifests."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from components.common.kubernetes.resources import NO_CRD_INSTALLERS, CrdInstallers, create
from components.common.names import require_instance_name
from components.worker_pool.manifests import WorkerPoolSpec, pool_manifests


@dataclass(frozen=True)
class WorkerPoolArgs:
    spec: WorkerPoolSpec
    # Installers of the CRDs the pool's custom resources need (KEDA, VPA, Prometheus Operator).
    crds: CrdInstallers = NO_CRD_INSTALLERS


# Objects that name the Deployment they act on: created after it (KEDA refuses a ScaledObject whose
# scale target it cannot find, and reports it only in the object's status).
_ACTS_ON_WORKLOAD = frozenset({"ScaledObject", "HorizontalPodAutoscaler", "VerticalPodAutoscaler"})


class WorkerPool(pulumi.ComponentResource):
    """Deployment, Services, PDB, autoscaler (KEDA or HPA), VPA, NetworkPolicy and ServiceMonitor."""

    service_name: str
    headless_service_name: str

    def __init__(self, name: str, args: WorkerPoolArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        require_instance_name("WorkerPool", name, args.spec.name)
        super().__init__("teknofest:platform:WorkerPool", name, None, opts)
        spec = args.spec
        child = pulumi.ResourceOptions(parent=self)
        manifests = pool_manifests(spec)
        workloads = [create(m, child, args.crds) for m in manifests if m["kind"] == "Deployment"]
        after_workload = pulumi.ResourceOptions(parent=self, depends_on=workloads)
        resources = [
            *workloads,
            *(
                create(m, after_workload if m["kind"] in _ACTS_ON_WORKLOAD else child, args.crds)
                for m in manifests
                if m["kind"] != "Deployment"
            ),
        ]
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
