"""Settings of the HAProxy load balancer in front of the API."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    Field,
)

from components.common.values import (
    Cidr,
    Model,
    ResourceAmounts,
    Resources,
)


class RateLimit(Model):
    requests_per_second: Annotated[int, Field(ge=1)] = 100
    # Entries in the per-client-IP stick-table; each costs about 50 bytes plus the counters.
    table_size: Annotated[int, Field(ge=1000)] = 1_000_000


class HealthCheck(Model):
    interval_seconds: Annotated[int, Field(ge=1, le=60)] = 1
    fall: Annotated[int, Field(ge=1, le=10)] = 2
    rise: Annotated[int, Field(ge=1, le=10)] = 2


class LbTimeouts(Model):
    connect_seconds: Annotated[int, Field(ge=1)] = 5
    client_seconds: Annotated[int, Field(ge=1)] = 30
    server_seconds: Annotated[int, Field(ge=1)] = 60
    http_request_seconds: Annotated[int, Field(ge=1)] = 10
    queue_seconds: Annotated[int, Field(ge=1)] = 30
    # WebSocket connections stay open this long without traffic.
    tunnel_seconds: Annotated[int, Field(ge=1)] = 3600


class LoadBalancer(Model):
    replicas: Annotated[int, Field(ge=1, le=16)] = 2
    service_type: Literal["LoadBalancer", "NodePort", "ClusterIP"] = "LoadBalancer"
    # How the client IP reaches HAProxy: the node keeps it (externalTrafficPolicy Local), or the
    # cloud load balancer sends the PROXY protocol header (it must be switched on there too).
    client_ip_preservation: Literal["local", "proxy-protocol"] = "local"
    service_annotations: dict[str, str] = Field(default_factory=dict)
    load_balancer_source_ranges: list[Cidr] = Field(default_factory=list)
    rate_limit: RateLimit = RateLimit()
    health_check: HealthCheck = HealthCheck()
    # Consecutive 5xx answers or connection errors after which a server is marked down.
    error_limit: Annotated[int, Field(ge=1, le=100)] = 5
    retries: Annotated[int, Field(ge=0, le=10)] = 3
    timeouts: LbTimeouts = LbTimeouts()
    max_connections: Annotated[int, Field(ge=100)] = 20000
    per_server_max_connections: Annotated[int, Field(ge=1)] = 200
    session_affinity: bool = True
    hsts_max_age_seconds: Annotated[int, Field(ge=0)] = 31536000
    # Pause before the soft stop so the Service stops sending new connections first.
    drain_seconds: Annotated[int, Field(ge=0, le=300)] = 10
    # Upper bound of a soft stop: long-lived connections (WebSockets) are closed after it.
    hard_stop_after_seconds: Annotated[int, Field(ge=1, le=3600)] = 60
    resources: Resources = Resources(
        requests=ResourceAmounts(cpu="250m", memory="256Mi"),
        limits=ResourceAmounts(cpu="1", memory="512Mi"),
    )
