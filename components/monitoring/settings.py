"""Settings of the monitoring stack: Prometheus, Alertmanager routing, Loki, tracing,
Elasticsearch/Kibana, how the UIs are reached and the objectives the alerts are written against."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    Field,
    SecretStr,
    field_validator,
    model_validator,
)

from components.common.values import (
    DnsLabel,
    DnsName,
    MemoryQuantity,
    Model,
    ResourceAmounts,
    Resources,
)


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
    # Where docs/runbooks/ is served: each alert links to its section there.
    runbook_base_url: str = Field(
        default="https://github.com/teknofest/teknofest-platform/blob/main/docs/runbooks", pattern=r"^https?://\S+$"
    )
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
