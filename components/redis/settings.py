"""Settings of Redis (master, replicas) and its Sentinels."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    Field,
    model_validator,
)

from components.common.quantities import memory_bytes
from components.common.values import (
    MemoryQuantity,
    Model,
    ResourceAmounts,
    Resources,
)


class Redis(Model):
    replicas: Annotated[int, Field(ge=0, le=5)] = 2
    sentinels: Annotated[int, Field(ge=3, le=7)] = 3
    quorum: Annotated[int, Field(ge=1, le=7)] = 2
    down_after_milliseconds: Annotated[int, Field(ge=100)] = 5000
    failover_timeout_milliseconds: Annotated[int, Field(ge=1000)] = 60000
    parallel_syncs: Annotated[int, Field(ge=1)] = 1
    min_replicas_to_write: Annotated[int, Field(ge=0)] = 1
    min_replicas_max_lag_seconds: Annotated[int, Field(ge=1)] = 10
    maxmemory: MemoryQuantity = "1Gi"
    maxmemory_policy: Literal[
        "noeviction", "allkeys-lru", "volatile-lru", "allkeys-lfu", "volatile-lfu", "allkeys-random", "volatile-ttl"
    ] = "allkeys-lru"
    storage_size: MemoryQuantity = "10Gi"
    storage_class: str | None = None
    # Guaranteed QoS: the data set lives in memory, it must not be the first thing evicted.
    resources: Resources = Resources(
        requests=ResourceAmounts(cpu="500m", memory="1536Mi"),
        limits=ResourceAmounts(cpu="500m", memory="1536Mi"),
    )

    @model_validator(mode="after")
    def _quorum(self) -> Redis:
        if self.quorum > self.sentinels:
            raise ValueError(f"quorum ({self.quorum}) must not exceed sentinels ({self.sentinels})")
        if self.min_replicas_to_write > self.replicas:
            raise ValueError(
                f"minReplicasToWrite ({self.min_replicas_to_write}) must not exceed replicas ({self.replicas}),"
                " or the master refuses every write"
            )
        if memory_bytes(self.maxmemory) >= memory_bytes(self.resources.limits.memory):
            raise ValueError(
                f"maxmemory ({self.maxmemory}) must stay below resources.limits.memory "
                f"({self.resources.limits.memory}): replication buffers and forks need headroom"
            )
        return self
