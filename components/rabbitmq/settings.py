"""Settings of the RabbitMQ broker."""

from __future__ import annotations

from typing import Annotated

from pydantic import (
    Field,
    field_validator,
)

from components.common.values import (
    DnsName,
    MemoryQuantity,
    Model,
    ResourceAmounts,
    Resources,
)


class Rabbitmq(Model):
    replicas: Annotated[int, Field(ge=1, le=9)] = 3
    storage_size: MemoryQuantity = "20Gi"
    storage_class: str | None = None
    # Publishers are blocked above this share of the memory limit, and below this free disk.
    memory_high_watermark: Annotated[float, Field(ge=0.2, le=0.9)] = 0.6
    disk_free_limit: MemoryQuantity = "2Gi"
    # TLS for AMQP from this Kubernetes TLS Secret; None keeps AMQP in-cluster plain (NetworkPolicy).
    tls_secret_name: DnsName | None = None
    # The RabbitMQ Cluster Operator is cluster-wide: install it from one stack only. Its release
    # manifest at this version carries the CRD that ../shared/crds holds (v2.22.3).
    install_operator: bool = True
    operator_version: str = Field(default="2.22.3", pattern=r"^\d+\.\d+\.\d+$")
    resources: Resources = Resources(
        requests=ResourceAmounts(cpu="1", memory="2Gi"),
        limits=ResourceAmounts(cpu="1", memory="2Gi"),
    )

    @field_validator("replicas")
    @classmethod
    def _odd(cls, value: int) -> int:
        if value % 2 == 0:
            raise ValueError("must be odd (1, 3, 5, ...) so quorum queues keep a majority")
        return value
