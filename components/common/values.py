"""Validated value types every capability's settings use: images, DNS names, quantities,
resources, probes, autoscaling and GPU placement. A pydantic `Model` refuses unknown keys and
reads camelCase, as Pulumi users write config."""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from components.common.quantities import cpu_millicores, memory_bytes

# An image reference with a registry/repository and a tag or a digest; never "latest", never bare.
_IMAGE_RE = re.compile(
    r"^(?P<repo>(?:[a-z0-9.-]+(?::[0-9]+)?/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
    r"(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*)"
    r"(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?"
    r"(?:@(?P<digest>sha256:[a-f0-9]{64}))?$"
)
_DNS_LABEL_RE = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_DNS_NAME_RE = re.compile(r"^(?=.{1,253}$)([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*$")
_ANNOTATION_KEY_RE = re.compile(
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?\Z"
)


def _image_ref(value: str) -> str:
    match = _IMAGE_RE.match(value)
    if not match:
        raise ValueError("must be an image reference like 'registry/repository:tag' or '...@sha256:<digest>'")
    if not match.group("tag") and not match.group("digest"):
        raise ValueError("must pin a tag or a digest ('repository:1.2.3'); an untagged image means 'latest'")
    if match.group("tag") == "latest" and not match.group("digest"):
        raise ValueError("must not use the tag 'latest'; pin a version or a digest")
    return value


def _dns_label(value: str) -> str:
    if not _DNS_LABEL_RE.match(value):
        raise ValueError("must be a DNS-1123 label: lower-case letters, digits and '-', at most 63 characters")
    return value


def _dns_name(value: str) -> str:
    if not _DNS_NAME_RE.match(value):
        raise ValueError("must be a lower-case DNS name such as 'api.example.org'")
    return value


def _cpu(value: str) -> str:
    cpu_millicores(value)
    return value


def _memory(value: str) -> str:
    memory_bytes(value)
    return value


def _http_path(value: str) -> str:
    if not value.startswith("/") or any(c.isspace() for c in value):
        raise ValueError("must be an absolute HTTP path such as '/health/ready'")
    return value


def _cidr(value: str) -> str:
    try:
        ipaddress.ip_network(value, strict=True)
    except ValueError as exc:
        raise ValueError(f"must be a CIDR block such as '203.0.113.0/24' ({exc})") from None
    return value


def _annotation_key(value: str) -> str:
    if not _ANNOTATION_KEY_RE.match(value):
        raise ValueError(
            f"annotation key {value!r} must be '[prefix/]name' (a DNS prefix, a name of letters, digits, '-_.')"
        )
    return value


ImageRef = Annotated[str, AfterValidator(_image_ref)]
DnsLabel = Annotated[str, AfterValidator(_dns_label)]
DnsName = Annotated[str, AfterValidator(_dns_name)]
CpuQuantity = Annotated[str, AfterValidator(_cpu)]
MemoryQuantity = Annotated[str, AfterValidator(_memory)]
HttpPath = Annotated[str, AfterValidator(_http_path)]
Cidr = Annotated[str, AfterValidator(_cidr)]
Percent = Annotated[int, Field(ge=1, le=100)]
Port = Annotated[int, Field(ge=1, le=65535)]


class Model(BaseModel):
    """Base of every settings model: camelCase keys, unknown keys refused, immutable."""

    model_config = ConfigDict(
        extra="forbid",
        alias_generator=to_camel,
        populate_by_name=True,
        frozen=True,
        validate_default=True,
    )


class ResourceAmounts(Model):
    cpu: CpuQuantity
    memory: MemoryQuantity


class Resources(Model):
    requests: ResourceAmounts
    limits: ResourceAmounts

    @model_validator(mode="after")
    def _requests_within_limits(self) -> Resources:
        if cpu_millicores(self.requests.cpu) > cpu_millicores(self.limits.cpu):
            raise ValueError(f"requests.cpu {self.requests.cpu} exceeds limits.cpu {self.limits.cpu}")
        if memory_bytes(self.requests.memory) > memory_bytes(self.limits.memory):
            raise ValueError(f"requests.memory {self.requests.memory} exceeds limits.memory {self.limits.memory}")
        return self


class ScalingPolicy(Model):
    """One direction of the HPA behaviour: at most `percent` % of the pods per `periodSeconds`."""

    percent: Annotated[int, Field(ge=1, le=1000)]
    period_seconds: Annotated[int, Field(ge=1, le=1800)]
    stabilization_window_seconds: Annotated[int, Field(ge=0, le=3600)]


class Autoscaling(Model):
    engine: Literal["keda", "hpa"] = "keda"
    cpu_utilization: Percent = 70
    memory_utilization: Percent = 80
    # Per-pod target of the request rate (the guide's http_requests_per_second); None turns it off.
    http_requests_per_second: Annotated[int, Field(ge=1)] | None = 100
    # PromQL that yields the pool's total request rate; KEDA divides it by the replica count.
    request_rate_query: str | None = None
    scale_up: ScalingPolicy = ScalingPolicy(percent=100, period_seconds=30, stabilization_window_seconds=60)
    scale_down: ScalingPolicy = ScalingPolicy(percent=50, period_seconds=60, stabilization_window_seconds=300)
    # VerticalPodAutoscaler in recommendation mode only (updateMode Off): it never evicts pods.
    vpa_recommendations: bool = True

    @field_validator("scale_down")
    @classmethod
    def _scale_down_at_most_all(cls, value: ScalingPolicy) -> ScalingPolicy:
        if value.percent > 100:
            raise ValueError("percent must be at most 100 when scaling down")
        return value


class Probes(Model):
    """HTTP probe paths; settable because today's application serves only /health."""

    live_path: HttpPath = "/health/live"
    ready_path: HttpPath = "/health/ready"
    startup_path: HttpPath = "/health/startup"
    period_seconds: Annotated[int, Field(ge=1, le=300)] = 10
    timeout_seconds: Annotated[int, Field(ge=1, le=60)] = 3
    failure_threshold: Annotated[int, Field(ge=1, le=30)] = 3
    # The startup probe allows startupFailureThreshold x periodSeconds for initialisation.
    startup_failure_threshold: Annotated[int, Field(ge=1, le=120)] = 30


class GpuPlacement(Model):
    enabled: bool = False
    count: Annotated[int, Field(ge=1, le=16)] = 1
    resource_name: str = "nvidia.com/gpu"
    node_selector: dict[str, str] = Field(default_factory=lambda: {"nvidia.com/gpu.present": "true"})
    # Nodes of the GPU pool carry this taint; the pool tolerates it, nothing else does.
    taint_key: str = "nvidia.com/gpu"


AnnotationKey = Annotated[str, AfterValidator(_annotation_key)]
