"""Typed settings of the whole platform, one model per part the deployment guide names.

Settings know nothing of Pulumi resources. They are built from a plain dict (the stack's
`teknofest-platform:*` config merged over the environment's defaults, see `stacks.defaults`)
and every rule that can be checked before a resource exists is checked here, so a bad value
fails before anything is registered. Config keys are camelCase, as Pulumi users write them.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from stacks.quantities import cpu_millicores, memory_bytes

Environment = Literal["dev", "staging", "production"]
Target = Literal["kubernetes", "docker"]

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
_ENV_NAME_RE = re.compile(r"^[A-Z_][A-Z0-9_]*$")
# Environment variable names that look like credentials must come from Secrets, not plain config.
_SECRET_LOOKING_ENV_RE = re.compile(r"(PASSWORD|SECRET|TOKEN|PRIVATE_KEY|API_KEY|CREDENTIAL)")


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


class Images(Model):
    api: ImageRef = "ghcr.io/teknofest/egitim-eylemci-api:1.3.0"
    # Celery workers run the application image; a separate tag lets a pool lag or lead the API.
    worker: ImageRef | None = None
    haproxy: ImageRef = "docker.io/library/haproxy:2.6.22"
    # CloudNativePG's "standard" image (the Barman Cloud plugin needs minimal or standard; the bare
    # "16.10" tag was the deprecated bullseye "system" image), pinned to its build and digest.
    postgres: ImageRef = (
        "ghcr.io/cloudnative-pg/postgresql:16.10-202509151215-standard-trixie"
        "@sha256:872626c85616d5653c16b6cf412904622f8a4dfb9e9ac9f1c6bbcda104fb036b"
    )
    redis: ImageRef = "docker.io/library/redis:7.4.11"
    redis_exporter: ImageRef = "docker.io/oliver006/redis_exporter:v1.62.0"
    rabbitmq: ImageRef = "docker.io/library/rabbitmq:4.1.4-management"
    flower: ImageRef = "docker.io/mher/flower:2.0.1"
    # The monitoring stack's own workloads (kube-prometheus-stack and ECK pin theirs in the charts).
    loki: ImageRef = "docker.io/grafana/loki:3.7.7"
    jaeger: ImageRef = "docker.io/jaegertracing/jaeger:2.11.0"
    otel_collector: ImageRef = "docker.io/otel/opentelemetry-collector-contrib:0.138.0"
    celery_exporter: ImageRef = "docker.io/danihodovic/celery-exporter:0.10.14"
    elasticsearch_exporter: ImageRef = "quay.io/prometheuscommunity/elasticsearch-exporter:v1.9.0"
    # Runs the daily Elasticsearch retention script.
    curl: ImageRef = "docker.io/curlimages/curl:8.11.1"


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


def _check_env(env: dict[str, str]) -> dict[str, str]:
    for name in env:
        if not _ENV_NAME_RE.match(name):
            raise ValueError(f"environment variable name {name!r} must match {_ENV_NAME_RE.pattern}")
        if _SECRET_LOOKING_ENV_RE.search(name):
            raise ValueError(
                f"{name!r} looks like a credential; the program generates secrets and passes them from "
                "Kubernetes Secrets, so plain config must not carry them"
            )
    return env


class ApiPool(Model):
    min_replicas: Annotated[int, Field(ge=1, le=1000)] = 2
    max_replicas: Annotated[int, Field(ge=1, le=1000)] = 20
    port: Port = 8000
    # Gunicorn with Uvicorn workers, as the guide runs the FastAPI application.
    app_module: str = "src.app:app"
    gunicorn_workers: Annotated[int, Field(ge=1, le=64)] = 4
    # Recycle workers to bound leaks (the guide's MAX_REQUESTS advice).
    max_requests: Annotated[int, Field(ge=0)] = 2000
    metrics_path: HttpPath = "/metrics"
    resources: Resources = Resources(
        requests=ResourceAmounts(cpu="500m", memory="1Gi"),
        limits=ResourceAmounts(cpu="2", memory="2Gi"),
    )
    autoscaling: Autoscaling = Autoscaling()
    probes: Probes = Probes()
    gpu: GpuPlacement = GpuPlacement()
    env: Annotated[dict[str, str], AfterValidator(_check_env)] = Field(default_factory=dict)
    # Longer than Gunicorn's graceful timeout plus the pre-stop pause, so requests finish.
    termination_grace_period_seconds: Annotated[int, Field(ge=5, le=3600)] = 45
    graceful_timeout_seconds: Annotated[int, Field(ge=1, le=3600)] = 30
    # Pause before SIGTERM so endpoints and the load balancer's DNS drop the pod first.
    pre_stop_seconds: Annotated[int, Field(ge=0, le=120)] = 5

    @model_validator(mode="after")
    def _bounds(self) -> ApiPool:
        if self.min_replicas > self.max_replicas:
            raise ValueError(f"minReplicas ({self.min_replicas}) must not exceed maxReplicas ({self.max_replicas})")
        if self.graceful_timeout_seconds + self.pre_stop_seconds >= self.termination_grace_period_seconds:
            raise ValueError(
                "terminationGracePeriodSeconds must exceed gracefulTimeoutSeconds + preStopSeconds "
                f"({self.graceful_timeout_seconds} + {self.pre_stop_seconds})"
            )
        return self


class CeleryPool(Model):
    queues: Annotated[list[Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]+$")]], Field(min_length=1)]
    min_replicas: Annotated[int, Field(ge=0, le=1000)] = 2
    max_replicas: Annotated[int, Field(ge=1, le=1000)] = 10
    concurrency: Annotated[int, Field(ge=1, le=256)] = 4
    max_tasks_per_child: Annotated[int, Field(ge=1)] = 1000
    max_memory_per_child_kib: Annotated[int, Field(ge=1024)] | None = None
    prefetch_multiplier: Annotated[int, Field(ge=1, le=128)] = 4
    late_acks: bool = False
    # Messages waiting per worker pod before KEDA adds one.
    queue_length_target: Annotated[int, Field(ge=1)] = 20
    termination_grace_period_seconds: Annotated[int, Field(ge=5, le=86400)] = 300
    resources: Resources = Resources(
        requests=ResourceAmounts(cpu="500m", memory="1Gi"),
        limits=ResourceAmounts(cpu="2", memory="2Gi"),
    )
    gpu: GpuPlacement = GpuPlacement()

    @model_validator(mode="after")
    def _bounds(self) -> CeleryPool:
        if self.min_replicas > self.max_replicas:
            raise ValueError(f"minReplicas ({self.min_replicas}) must not exceed maxReplicas ({self.max_replicas})")
        return self


def _default_celery_pools() -> dict[str, CeleryPool]:
    return {
        "default": CeleryPool(queues=["default"], min_replicas=2, max_replicas=10),
        "ai": CeleryPool(
            queues=["ai"],
            min_replicas=2,
            max_replicas=4,
            concurrency=1,
            prefetch_multiplier=1,
            late_acks=True,
            gpu=GpuPlacement(enabled=True),
        ),
        "data": CeleryPool(queues=["data"], min_replicas=2, max_replicas=10, prefetch_multiplier=1, late_acks=True),
    }


class Celery(Model):
    # The Celery application the workers load (`celery -A <app>`).
    app: str = Field(default="src.celery_app", pattern=r"^[A-Za-z_][A-Za-z0-9_.:]*$")
    pools: dict[DnsLabel, CeleryPool] = Field(default_factory=_default_celery_pools)
    # Task name (or glob) -> queue, as the application's task_routes; "default" takes the rest.
    routes: dict[str, Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]+$")]] = Field(
        default_factory=lambda: {"src.tasks.ai.*": "ai", "src.tasks.data.*": "data"}
    )
    default_queue: str = "default"
    beat: bool = True
    flower: bool = True

    @model_validator(mode="after")
    def _every_routed_queue_has_a_consumer(self) -> Celery:
        # The original deployment routed tasks to queues no worker consumed: they waited forever.
        consumed = sorted({queue for pool in self.pools.values() for queue in pool.queues})
        for task, queue in {**self.routes, "(default queue)": self.default_queue}.items():
            if queue not in consumed:
                raise ValueError(
                    f"routes send {task!r} to queue {queue!r}, which no pool consumes; "
                    f"pools consume: {', '.join(consumed) or 'nothing'}"
                )
        return self


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


class Postgres(Model):
    instances: Annotated[int, Field(ge=1, le=9)] = 3
    storage_size: MemoryQuantity = "50Gi"
    wal_storage_size: MemoryQuantity = "10Gi"
    storage_class: str | None = None
    database: DnsLabel = "teknofest"
    owner: DnsLabel = "teknofest"
    # "no-loss" waits for a synchronous standby; "stay-writable" keeps accepting writes without one.
    synchronous: Literal["no-loss", "stay-writable", "off"] = "stay-writable"
    # Server connections; the poolers' pools must fit inside (checked below).
    max_connections: Annotated[int, Field(ge=20, le=10000)] = 200
    pooler_instances: Annotated[int, Field(ge=1, le=10)] = 2
    max_client_connections: Annotated[int, Field(ge=10)] = 1000
    default_pool_size: Annotated[int, Field(ge=1)] = 20
    # Transaction pooling with protocol-level prepared statements (PgBouncer 1.21+).
    max_prepared_statements: Annotated[int, Field(ge=0)] = 200
    # Replicas on other nodes ("hostname") or other zones ("zone").
    anti_affinity_topology: Literal["hostname", "zone"] = "hostname"
    # The CloudNativePG operator and the Barman Cloud plugin are cluster-wide: install them from
    # one stack only, and switch this off in the others.
    install_operator: bool = True
    # Helm charts (cloudnative-pg.github.io/charts; docs/versions.md): chart 0.29.0 ships operator
    # 1.30.0, whose CRDs ../shared/crds holds; the plugin's chart is numbered apart from the plugin
    # (chart 0.7.0 = plugin v0.13.0, the same ObjectStore CRD as the v0.14.0 one in ../shared/crds).
    operator_chart_version: str = Field(default="0.29.0", pattern=r"^\d+\.\d+\.\d+$")
    barman_plugin_chart_version: str = Field(default="0.7.0", pattern=r"^\d+\.\d+\.\d+$")
    resources: Resources = Resources(
        requests=ResourceAmounts(cpu="2", memory="4Gi"),
        limits=ResourceAmounts(cpu="2", memory="4Gi"),
    )

    @model_validator(mode="after")
    def _pools_fit(self) -> Postgres:
        # Each pooler instance keeps up to default_pool_size server connections per database;
        # rw and ro poolers both exist; CloudNativePG and superuser tasks need a reserve of 10.
        needed = self.default_pool_size * self.pooler_instances * 2 + 10
        if needed > self.max_connections:
            raise ValueError(
                f"maxConnections ({self.max_connections}) is below what the poolers can open: "
                f"defaultPoolSize x poolerInstances x 2 (rw, ro) + 10 reserved = {needed}"
            )
        return self


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


class EmailReceiver(Model):
    to: Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+$")]
    sender: Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+$")]
    smarthost: Annotated[str, Field(pattern=r"^[A-Za-z0-9.-]+:\d+$")]
    username: str | None = None
    # `pulumi config set --secret --path monitoring.alerting.email.password ...`
    password: SecretStr | None = None


class Alerting(Model):
    """Alertmanager routing: critical alerts page (Slack + email), warnings open tickets (email)."""

    email: EmailReceiver | None = None
    slack_channel: str | None = Field(default=None, pattern=r"^#[a-z0-9_-]+$")
    slack_webhook_url: SecretStr | None = None
    # The Watchdog alert goes here every minute; the service pages when it stops (dead man's switch).
    dead_mans_switch_url: SecretStr | None = None
    group_by: list[str] = Field(default_factory=lambda: ["alertname", "namespace", "area"])
    repeat_interval_hours: Annotated[int, Field(ge=1, le=168)] = 4


RetentionPeriod = Annotated[str, Field(pattern=r"^[1-9][0-9]*(h|d|w)$")]
# Whole days: Loki's retention is a multiple of its 24 h index period; log indices are daily.
RetentionDays = Annotated[str, Field(pattern=r"^[1-9][0-9]*(d|w)$")]


class PrometheusServer(Model):
    replicas: Annotated[int, Field(ge=1, le=5)] = 2
    retention: RetentionPeriod = "15d"
    # Prometheus drops the oldest blocks above this size, before the volume fills (about 85% of it).
    retention_size: str = Field(default="40GB", pattern=r"^[1-9][0-9]*(MB|GB|TB)$")
    storage_size: MemoryQuantity = "50Gi"
    storage_class: str | None = None
    resources: Resources = Resources(
        requests=ResourceAmounts(cpu="500m", memory="2Gi"),
        limits=ResourceAmounts(cpu="2", memory="4Gi"),
    )


class AlertmanagerServer(Model):
    # Alertmanager replicas gossip silences and notifications; 3 survive one node loss.
    replicas: Annotated[int, Field(ge=1, le=5)] = 3
    storage_size: MemoryQuantity = "1Gi"


class Loki(Model):
    retention: RetentionDays = "31d"
    storage_size: MemoryQuantity = "50Gi"
    storage_class: str | None = None
    resources: Resources = Resources(
        requests=ResourceAmounts(cpu="500m", memory="1Gi"),
        limits=ResourceAmounts(cpu="2", memory="2Gi"),
    )


class Tracing(Model):
    # Where Jaeger keeps spans: the ECK Elasticsearch, or Badger on Jaeger's own volume.
    storage: Literal["elasticsearch", "badger"] = "elasticsearch"
    retention: RetentionPeriod = "7d"
    badger_storage_size: MemoryQuantity = "10Gi"
    # Share of root traces the application samples (OTEL_TRACES_SAMPLER_ARG, parent-based).
    sample_ratio: Annotated[float, Field(gt=0, le=1)] = 1.0
    collector_replicas: Annotated[int, Field(ge=1, le=10)] = 2


class Elasticsearch(Model):
    enabled: bool = True
    version: str = Field(default="8.19.3", pattern=r"^\d+\.\d+\.\d+$")
    # Master-eligible data nodes; an odd count keeps a voting majority.
    nodes: Annotated[int, Field(ge=1, le=9)] = 3
    storage_size: MemoryQuantity = "100Gi"
    storage_class: str | None = None
    # Daily log indices older than this are deleted (Jaeger's follow tracing.retention).
    log_retention: RetentionDays = "14d"
    resources: Resources = Resources(
        requests=ResourceAmounts(cpu="1", memory="4Gi"),
        limits=ResourceAmounts(cpu="2", memory="4Gi"),
    )
    kibana_replicas: Annotated[int, Field(ge=1, le=3)] = 2
    # ECK is cluster-wide: install it from one stack only. 3.5.0 is the newest release before the
    # commit of the CRDs in ../shared/crds (zoneAwareness came in 3.4).
    install_operator: bool = True
    operator_chart_version: str = Field(default="3.5.0", pattern=r"^\d+\.\d+\.\d+$")

    @field_validator("nodes")
    @classmethod
    def _odd(cls, value: int) -> int:
        if value % 2 == 0:
            raise ValueError("must be odd (1, 3, 5, ...) so master election keeps a majority")
        return value


class UiAccess(Model):
    # A public host name publishes the UI through the load balancer (TLS when tls.enabled; the TLS
    # certificate must cover it); None keeps it ClusterIP only,
    # reached with `kubectl port-forward` (the stack outputs print the exact line).
    host: DnsName | None = None


class Access(Model):
    # A UI with a host is served by the platform's HAProxy on that host (its TLS, rate limit and
    # headers); no ingress controller is involved. Prometheus, Alertmanager and Jaeger have no login
    # of their own: HAProxy asks for basic auth with a generated password. Grafana and Kibana have logins.
    grafana: UiAccess = UiAccess()
    prometheus: UiAccess = UiAccess()
    alertmanager: UiAccess = UiAccess()
    kibana: UiAccess = UiAccess()
    jaeger: UiAccess = UiAccess()


class Monitoring(Model):
    enabled: bool = True
    # Namespace of the monitoring stack: NetworkPolicies let Prometheus scrape from it, KEDA asks
    # Prometheus there for rates, and the application sends traces to the collector there.
    namespace: DnsLabel = "monitoring"
    # kube-prometheus-stack is cluster-wide (operator, CRDs, node-exporter): install it once per cluster.
    install_stack: bool = True
    # 88.5.3 ships Prometheus Operator v0.93.1, whose CRDs ../shared/crds holds (docs/versions.md).
    kube_prometheus_stack_chart_version: str = Field(default="88.5.3", pattern=r"^\d+\.\d+\.\d+$")
    prometheus: PrometheusServer = PrometheusServer()
    alertmanager: AlertmanagerServer = AlertmanagerServer()
    loki: Loki = Loki()
    tracing: Tracing = Tracing()
    elasticsearch: Elasticsearch = Elasticsearch()
    access: Access = Access()
    # Service level objectives the alerts are written against.
    availability_slo: Annotated[float, Field(ge=0.9, le=0.9999)] = 0.999
    latency_p95_seconds: Annotated[float, Field(gt=0, le=60)] = 0.5
    latency_p99_seconds: Annotated[float, Field(gt=0, le=60)] = 2.0
    runbook_base_url: str = Field(default="https://runbooks.teknofest.example.org/platform", pattern=r"^https?://\S+$")
    alerting: Alerting = Alerting()

    @property
    def prometheus_url(self) -> str:
        return f"http://kube-prometheus-stack-prometheus.{self.namespace}.svc:9090"

    @model_validator(mode="after")
    def _trace_storage_exists(self) -> Monitoring:
        if self.tracing.storage == "elasticsearch" and not self.elasticsearch.enabled:
            raise ValueError(
                "tracing.storage is 'elasticsearch' but elasticsearch.enabled is false: "
                "enable Elasticsearch or set tracing.storage to 'badger'"
            )
        return self


class S3Credentials(Model):
    access_key_id: SecretStr
    secret_access_key: SecretStr


class Recovery(Model):
    """Bootstrap a new Cluster from the object store, up to a point in time (PITR)."""

    # The server name the backups were written under (the old cluster's name).
    source_server_name: DnsLabel
    # RFC 3339 timestamp, e.g. "2026-11-28T10:15:00Z"; None recovers to the end of the WAL.
    target_time: str | None = Field(
        default=None, pattern=r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})$"
    )


class Backups(Model):
    # Barman Cloud destination, e.g. "s3://teknofest-backups/production"; required in production.
    destination_path: str | None = Field(default=None, pattern=r"^(s3|gs|https?)://[^\s]+$")
    endpoint_url: str | None = Field(default=None, pattern=r"^https?://[^\s]+$")
    retention: str = Field(default="30d", pattern=r"^[0-9]+[dwm]$")
    # Six-field cron (seconds first), as CloudNativePG's ScheduledBackup expects.
    schedule: str = "0 0 2 * * *"
    # Set as Pulumi secrets (`pulumi config set --secret --path backups.credentials.accessKeyId`).
    credentials: S3Credentials | None = None
    # Without credentials the instances reach the object store with their cloud identity: these
    # annotations go on the service account the Postgres pods run as, e.g.
    # {"eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/teknofest-backups"} (EKS IRSA) or
    # {"iam.gke.io/gcp-service-account": "backups@project.iam.gserviceaccount.com"} (GKE Workload Identity).
    service_account_annotations: dict[Annotated[str, AfterValidator(_annotation_key)], str] = Field(
        default_factory=dict
    )
    # When set, the Cluster is created by recovery from these backups instead of initdb.
    recovery: Recovery | None = None

    @field_validator("schedule")
    @classmethod
    def _six_fields(cls, value: str) -> str:
        if len(value.split()) != 6:
            raise ValueError("must be a six-field cron expression (seconds minutes hours day month weekday)")
        return value


class CertManagerIssuer(Model):
    kind: Literal["ClusterIssuer", "Issuer"] = "ClusterIssuer"
    name: DnsName


class Tls(Model):
    enabled: bool = True
    # Kubernetes TLS Secret (tls.crt, tls.key) that HAProxy serves.
    secret_name: DnsName = "teknofest-tls"
    # When set, a cert-manager Certificate keeps that Secret filled; otherwise it must exist.
    cert_manager_issuer: CertManagerIssuer | None = None


class Domains(Model):
    api: DnsName = "api.teknofest.local"


ChartVersion = Annotated[str, Field(pattern=r"^v?\d+\.\d+\.\d+$")]


class AddonRelease(Model):
    # Off where the cluster already runs it (one stack per cluster installs the add-ons).
    install: bool = True
    chart_version: ChartVersion


# One class per add-on so that a partial override (`install: false` alone) keeps the pinned version.
class KedaRelease(AddonRelease):
    chart_version: ChartVersion = "2.20.2"


class CertManagerRelease(AddonRelease):
    chart_version: ChartVersion = "v1.21.1"


class VpaRelease(AddonRelease):
    chart_version: ChartVersion = "0.11.0"


class ClusterAddons(Model):
    """Cluster-wide add-ons installed as pinned Helm releases (docs/versions.md), each only where the
    stack uses it: KEDA for `autoscaling.engine: keda`, the VPA recommender for
    `autoscaling.vpaRecommendations`, cert-manager for TLS issuers and the Barman Cloud plugin."""

    keda: KedaRelease = KedaRelease()
    cert_manager: CertManagerRelease = CertManagerRelease()
    vertical_pod_autoscaler: VpaRelease = VpaRelease()
    # Two of each controller with PodDisruptionBudgets; None: as the environment (production: on).
    highly_available: bool | None = None


class KubernetesCluster(Model):
    # kubeconfig context; None means the current context (or the provider's own config).
    context: str | None = None
    # Kubernetes version the manifests are validated against (kubernetes-validate, strict).
    version: str = Field(default="1.33", pattern=r"^1\.(2[5-9]|3[0-7])$")
    cluster_domain: DnsName = "cluster.local"
    # Where KEDA's operator runs: it reads queue lengths from RabbitMQ over AMQP.
    keda_namespace: DnsLabel = "keda"


class PlatformSettings(Model):
    environment: Environment
    target: Target = "kubernetes"
    namespace: DnsLabel
    kubernetes: KubernetesCluster = KubernetesCluster()
    cluster_addons: ClusterAddons = ClusterAddons()
    images: Images = Images()
    api: ApiPool = ApiPool()
    celery: Celery = Celery()
    load_balancer: LoadBalancer = LoadBalancer()
    postgres: Postgres = Postgres()
    redis: Redis = Redis()
    rabbitmq: Rabbitmq = Rabbitmq()
    monitoring: Monitoring = Monitoring()
    backups: Backups = Backups()
    tls: Tls = Tls()
    domains: Domains = Domains()
    network_policies: bool = True

    @property
    def worker_image(self) -> str:
        return self.images.worker or self.images.api
