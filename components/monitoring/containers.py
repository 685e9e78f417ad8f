"""The docker target's monitoring as container specs (pure): Prometheus (the same rules, a
target-neutral label scheme), Alertmanager (the same routing), Grafana (the same datasources and
dashboards, provisioned), Loki, Jaeger and the OpenTelemetry Collector gateway (their Kubernetes
server specs, as containers), the Celery exporter, and Elasticsearch and Kibana when enabled
(`elastic_containers.py`)."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace

from components.common.docker.containers import (
    CONFIG_DIR,
    SECRETS_DIR,
    ContainerSpec,
    Healthcheck,
    NetworkAttachment,
    PortBinding,
    Upload,
    VolumeMount,
    VolumeSpec,
    placeholder,
    secret_file,
    sized,
)
from components.common.yaml_text import to_yaml
from components.monitoring import elastic, jaeger, loki, otel
from components.monitoring.alert_rules import rule_groups
from components.monitoring.celery_exporter import NAME as CELERY_EXPORTER
from components.monitoring.celery_exporter import PORT as CELERY_EXPORTER_PORT
from components.monitoring.celery_exporter import celery_exporter_spec
from components.monitoring.dashboards import PROMETHEUS_UID, dashboard_json, platform_dashboards
from components.monitoring.elastic_containers import (
    ElasticHostArgs,
    client_uploads,
    elastic_containers,
    elastic_volumes,
)
from components.monitoring.platform import MonitoredPlatform
from components.monitoring.prometheus_config import PrometheusInputs, ScrapeJob, render_prometheus_yml
from components.monitoring.stack_values import datasources
from components.monitoring.workload import ServerSpec

NOBODY = "65534:65534"
# The Grafana image's own user.
GRAFANA_UID = "472:0"
PROMETHEUS_PORT, ALERTMANAGER_PORT, GRAFANA_PORT = 9090, 9093, 3000
ALERTMANAGER_CONFIG_SECRET = "alertmanager-config"
GRAFANA_PASSWORD_SECRET = "grafana-admin-password"


@dataclass(frozen=True)
class MonitoringHostArgs:
    platform: MonitoredPlatform
    prometheus_image: str
    alertmanager_image: str
    grafana_image: str
    # The internal network (every scrape target, the collector) and the edge network (published UIs).
    network: str
    edge_network: str
    prefix: str
    # Where the UIs are published for the operators (loopback by default) and on which ports.
    publish_address: str
    grafana_port: int = GRAFANA_PORT
    prometheus_port: int = PROMETHEUS_PORT
    alertmanager_port: int = ALERTMANAGER_PORT
    jaeger_port: int = jaeger.UI_PORT
    kibana_port: int = elastic.KIBANA_PORT
    # Kibana's public URL when the load balancer serves it on a host.
    kibana_public_url: str | None = None
    # What Prometheus scrapes: the platform's exporters and pools, with the jobs' names.
    scrape_jobs: tuple[ScrapeJob, ...] = ()
    # The broker URL variable the Celery exporter reads (its value is a secret of the component).
    broker_secret: str = "celery-broker-url"

    def container(self, name: str) -> str:
        return f"{self.prefix}-{name}"

    @property
    def elasticsearch(self) -> bool:
        return self.platform.monitoring.elasticsearch.enabled

    @property
    def elastic(self) -> ElasticHostArgs:
        return ElasticHostArgs(
            self.platform,
            self.network,
            self.edge_network,
            self.prefix,
            self.publish_address,
            kibana_port=self.kibana_port,
            kibana_public_url=self.kibana_public_url,
        )

    @property
    def secrets(self) -> tuple[str, ...]:
        own = (GRAFANA_PASSWORD_SECRET, ALERTMANAGER_CONFIG_SECRET, self.broker_secret)
        return (*own, *self.elastic.secrets) if self.elasticsearch else own


def _wget(port: int, path: str) -> Healthcheck:
    return Healthcheck.shell(f"wget -q -O /dev/null http://127.0.0.1:{port}{path}", start_period_seconds=60)


# Where each image keeps its program (its Dockerfile's ENTRYPOINT): our command names it, so the
# image's entrypoint never interprets our arguments.
LOKI_BINARY = ("/usr/bin/loki",)
JAEGER_BINARY = ("/cmd/jaeger/jaeger-linux",)
COLLECTOR_BINARY = ("/otelcol-contrib",)
CELERY_EXPORTER_BINARY = ("python", "/app/cli.py")
GRAFANA_HOME = "/usr/share/grafana"


def server_container(
    args: MonitoringHostArgs,
    spec: ServerSpec,
    binary: tuple[str, ...],
    healthcheck: Healthcheck | None,
    unchecked_because: str = "",
    ports: tuple[PortBinding, ...] = (),
    secret_env: tuple[tuple[str, str], ...] = (),
    extra_uploads: tuple[Upload, ...] = (),
) -> ContainerSpec:
    """A monitoring server of the Kubernetes target as a container: its image's program (`binary`)
    with the same arguments, its rendered config under CONFIG_DIR."""
    command = binary + tuple(a.replace(spec.config_dir, CONFIG_DIR).replace("$(POD_IP)", "0.0.0.0") for a in spec.args)
    networks = [NetworkAttachment(args.network, (spec.name,))]
    if ports:
        networks.append(NetworkAttachment(args.edge_network, (spec.name,)))
    volumes = (VolumeMount(f"{args.container(spec.name)}-data", spec.data.mount_path),) if spec.data else ()
    return ContainerSpec(
        name=args.container(spec.name),
        image=spec.image,
        command=command,
        networks=tuple(networks),
        **sized(spec.resources),
        healthcheck=healthcheck,
        unchecked_because=unchecked_because,
        user=f"{spec.user}:{spec.user}",
        # The Kubernetes configs listen on ${env:POD_IP}; here every address of the container's own.
        env=(("POD_IP", "0.0.0.0"),),
        secret_env=secret_env,
        uploads=(
            *(
                Upload(f"{CONFIG_DIR}/{name}", text, capability=spec.config_capability)
                for name, text in spec.config.items()
            ),
            *(secret_file(name, "monitoring") for name in {path.rsplit("/", 1)[-1] for _, path in secret_env}),
            *extra_uploads,
        ),
        volumes=volumes,
        # Scratch space, unless the data volume is /tmp itself (Jaeger's Badger).
        tmpfs=(("/tmp", "rw,noexec,nosuid,size=64m"),) if not (spec.data and spec.data.mount_path == "/tmp") else (),
        ports=ports,
        capability=spec.config_capability,
    )


def prometheus_inputs(args: MonitoringHostArgs) -> PrometheusInputs:
    p = args.platform
    mon = p.monitoring.namespace
    # The monitoring stack's own servers carry the monitoring namespace, as on Kubernetes: the
    # rules on Loki, the collectors and Elasticsearch select it. The Celery exporter watches the
    # platform's queues and carries the platform's.
    own: tuple[ScrapeJob, ...] = (
        ScrapeJob("prometheus", (f"127.0.0.1:{PROMETHEUS_PORT}",), namespace=mon),
        ScrapeJob("alertmanager", (f"alertmanager:{ALERTMANAGER_PORT}",), namespace=mon),
        ScrapeJob(loki.NAME, (f"{loki.NAME}:{loki.HTTP_PORT}",), namespace=mon),
        ScrapeJob(jaeger.NAME, (f"{jaeger.NAME}:{jaeger.METRICS_PORT}",), namespace=mon),
        ScrapeJob(otel.GATEWAY, (f"{otel.GATEWAY}:{otel.METRICS_PORT}",), namespace=mon),
        ScrapeJob(otel.AGENT, (f"{otel.AGENT}:{otel.METRICS_PORT}",), namespace=mon),
        ScrapeJob(CELERY_EXPORTER, (f"{CELERY_EXPORTER}:{CELERY_EXPORTER_PORT}",)),
    )
    if args.elasticsearch:
        own += (ScrapeJob(elastic.EXPORTER, (f"{elastic.EXPORTER}:{elastic.EXPORTER_PORT}",), namespace=mon),)
    return PrometheusInputs(
        namespace=p.namespace,
        environment=p.environment,
        jobs=(*args.scrape_jobs, *own),
        alertmanagers=(f"alertmanager:{ALERTMANAGER_PORT}",),
        rule_files=(f"{CONFIG_DIR}/rules.yml",),
    )


def prometheus_container(args: MonitoringHostArgs) -> ContainerSpec:
    m = args.platform.monitoring
    rules = to_yaml({"groups": rule_groups(args.platform)})
    return ContainerSpec(
        name=args.container("prometheus"),
        image=args.prometheus_image,
        command=(
            "/bin/prometheus",
            f"--config.file={CONFIG_DIR}/prometheus.yml",
            "--storage.tsdb.path=/prometheus",
            f"--storage.tsdb.retention.time={m.prometheus.retention}",
            f"--storage.tsdb.retention.size={m.prometheus.retention_size}",
            f"--web.listen-address=:{PROMETHEUS_PORT}",
        ),
        networks=(
            NetworkAttachment(args.network, ("prometheus",)),
            NetworkAttachment(args.edge_network, ("prometheus",)),
        ),
        **sized(m.prometheus.resources),
        healthcheck=_wget(PROMETHEUS_PORT, "/-/ready"),
        user=NOBODY,
        uploads=(
            Upload(
                f"{CONFIG_DIR}/prometheus.yml", render_prometheus_yml(prometheus_inputs(args)), capability="monitoring"
            ),
            Upload(f"{CONFIG_DIR}/rules.yml", rules, capability="monitoring"),
        ),
        volumes=(VolumeMount(f"{args.container('prometheus')}-data", "/prometheus"),),
        ports=(PortBinding(PROMETHEUS_PORT, args.prometheus_port, args.publish_address),),
        capability="monitoring",
    )


def alertmanager_container(args: MonitoringHostArgs) -> ContainerSpec:
    return ContainerSpec(
        name=args.container("alertmanager"),
        image=args.alertmanager_image,
        command=(
            "/bin/alertmanager",
            f"--config.file={SECRETS_DIR}/alertmanager.yml",
            "--storage.path=/alertmanager",
            f"--web.listen-address=:{ALERTMANAGER_PORT}",
            # One host, one Alertmanager: no gossip port.
            "--cluster.listen-address=",
        ),
        networks=(
            NetworkAttachment(args.network, ("alertmanager",)),
            NetworkAttachment(args.edge_network, ("alertmanager",)),
        ),
        memory_mb=256,
        cpus=0.5,
        healthcheck=_wget(ALERTMANAGER_PORT, "/-/ready"),
        user=NOBODY,
        # Receivers' passwords and webhook URLs: the whole file is a secret.
        uploads=(
            Upload(
                f"{SECRETS_DIR}/alertmanager.yml",
                placeholder(ALERTMANAGER_CONFIG_SECRET),
                0o400,
                (ALERTMANAGER_CONFIG_SECRET,),
                "monitoring",
            ),
        ),
        volumes=(VolumeMount(f"{args.container('alertmanager')}-data", "/alertmanager"),),
        ports=(PortBinding(ALERTMANAGER_PORT, args.alertmanager_port, args.publish_address),),
        capability="monitoring",
    )


def grafana_provisioning(args: MonitoringHostArgs) -> dict[str, str]:
    """Datasources (Prometheus first, then those of the Kubernetes target) and the dashboards."""
    prometheus = {
        "name": "Prometheus",
        "uid": PROMETHEUS_UID,
        "type": "prometheus",
        "access": "proxy",
        "url": f"http://prometheus:{PROMETHEUS_PORT}",
        "isDefault": True,
    }
    files = {
        "provisioning/datasources/platform.yaml": to_yaml(
            {"apiVersion": 1, "datasources": [prometheus, *datasources(args.platform)]}
        ),
        "provisioning/dashboards/platform.yaml": to_yaml(
            {
                "apiVersion": 1,
                "providers": [
                    {
                        "name": "platform",
                        "type": "file",
                        "disableDeletion": True,
                        "allowUiUpdates": False,
                        "options": {"path": f"{CONFIG_DIR}/dashboards"},
                    }
                ],
            }
        ),
    }
    for dashboard in platform_dashboards(args.platform):
        files[f"dashboards/{dashboard.uid}.json"] = json.dumps(dashboard_json(dashboard), indent=2, sort_keys=True)
    return files


def grafana_container(args: MonitoringHostArgs) -> ContainerSpec:
    return ContainerSpec(
        name=args.container("grafana"),
        image=args.grafana_image,
        # What the image's /run.sh would run, without its conventions (it reads *__FILE variables;
        # our wrapper exports the admin password from its file instead).
        command=(
            f"{GRAFANA_HOME}/bin/grafana",
            "server",
            f"--homepath={GRAFANA_HOME}",
            "--config=/etc/grafana/grafana.ini",
            "--packaging=docker",
            "cfg:default.log.mode=console",
            "cfg:default.paths.data=/var/lib/grafana",
            "cfg:default.paths.logs=/var/lib/grafana/log",
            "cfg:default.paths.plugins=/var/lib/grafana/plugins",
            f"cfg:default.paths.provisioning={CONFIG_DIR}/provisioning",
        ),
        networks=(NetworkAttachment(args.network, ("grafana",)), NetworkAttachment(args.edge_network, ("grafana",))),
        memory_mb=512,
        cpus=1.0,
        healthcheck=_wget(GRAFANA_PORT, "/api/health"),
        user=GRAFANA_UID,
        secret_env=(("GF_SECURITY_ADMIN_PASSWORD", f"{SECRETS_DIR}/{GRAFANA_PASSWORD_SECRET}"),),
        env=(
            ("HOME", GRAFANA_HOME),
            ("GF_SECURITY_ADMIN_USER", "admin"),
            ("GF_ANALYTICS_REPORTING_ENABLED", "false"),
            ("GF_ANALYTICS_CHECK_FOR_UPDATES", "false"),
            ("GF_USERS_ALLOW_SIGN_UP", "false"),
        ),
        uploads=(
            *(
                Upload(f"{CONFIG_DIR}/{path}", text, capability="monitoring")
                for path, text in grafana_provisioning(args).items()
            ),
            *(client_uploads(args.platform, elastic.READER, "monitoring") if args.elasticsearch else ()),
            Upload(
                f"{SECRETS_DIR}/{GRAFANA_PASSWORD_SECRET}",
                placeholder(GRAFANA_PASSWORD_SECRET),
                0o400,
                (GRAFANA_PASSWORD_SECRET,),
                "monitoring",
            ),
        ),
        volumes=(VolumeMount(f"{args.container('grafana')}-data", "/var/lib/grafana"),),
        tmpfs=(("/tmp", "rw,noexec,nosuid,size=64m"),),
        ports=(PortBinding(GRAFANA_PORT, args.grafana_port, args.publish_address),),
        capability="monitoring",
    )


def volumes(args: MonitoringHostArgs) -> list[VolumeSpec]:
    found = [
        VolumeSpec(f"{args.container(name)}-data", f"{name} data") for name in ("prometheus", "alertmanager", "grafana")
    ]
    found.append(VolumeSpec(f"{args.container(loki.NAME)}-data", "loki data"))
    found.append(VolumeSpec(f"{args.container(otel.AGENT)}-checkpoints", "log shipper read offsets and queue"))
    if jaeger.jaeger_spec(args.platform).data:
        found.append(VolumeSpec(f"{args.container(jaeger.NAME)}-data", "jaeger badger data"))
    if args.elasticsearch:
        found += elastic_volumes(args.elastic)
    return found


def log_shipper_container(args: MonitoringHostArgs) -> ContainerSpec:
    """Every container's output to Loki. Docker's log files are root's (0640): the shipper runs as
    uid 0, as the Kubernetes DaemonSet does, with nothing else: no capabilities (root reads its own
    files without them), read-only root and logs, no new privileges."""
    p = args.platform
    spec = otel.gateway_spec(p)
    return ContainerSpec(
        name=args.container(otel.AGENT),
        image=spec.image,
        command=(*COLLECTOR_BINARY, f"--config={CONFIG_DIR}/config.yaml"),
        networks=(NetworkAttachment(args.network, (otel.AGENT,)),),
        **sized(otel.AGENT_RESOURCES),
        healthcheck=None,
        unchecked_because="the collector image is a static binary without a shell; Prometheus scrapes it",
        user="0:0",
        env=(("POD_IP", "0.0.0.0"),),
        root_because="Docker's log files are root-owned (0640); no capability is kept",
        uploads=(
            Upload(f"{CONFIG_DIR}/config.yaml", to_yaml(otel.docker_agent_config(p)), capability="log_shipper"),
            *(client_uploads(p, elastic.WRITER, "log_shipper") if args.elasticsearch else ()),
        ),
        volumes=(VolumeMount(f"{args.container(otel.AGENT)}-checkpoints", otel.CHECKPOINTS),),
        host_mounts=((otel.DOCKER_LOGS, otel.DOCKER_LOGS),),
        # Its own output in Docker's "local" format: never among the files it reads.
        log_driver="local",
        capability="log_shipper",
    )


def monitoring_containers(args: MonitoringHostArgs) -> list[ContainerSpec]:
    p = args.platform
    jaeger_spec = jaeger.jaeger_spec(p)
    exporter = celery_exporter_spec(p, ("", ""))
    broker_file = f"{SECRETS_DIR}/{args.broker_secret}"
    jaeger_in_elasticsearch = p.monitoring.tracing.storage == "elasticsearch"
    return [
        *(elastic_containers(args.elastic) if args.elasticsearch else ()),
        prometheus_container(args),
        alertmanager_container(args),
        server_container(args, loki.loki_spec(p), LOKI_BINARY, _wget(loki.HTTP_PORT, "/ready")),
        server_container(
            args,
            jaeger_spec,
            JAEGER_BINARY,
            _wget(jaeger.HEALTH_PORT, "/status"),
            ports=(PortBinding(jaeger.UI_PORT, args.jaeger_port, args.publish_address),),
            extra_uploads=client_uploads(p, elastic.WRITER, "jaeger") if jaeger_in_elasticsearch else (),
        ),
        server_container(
            args,
            otel.gateway_spec(p),
            COLLECTOR_BINARY,
            None,
            unchecked_because="the collector image is a static binary without a shell; Prometheus scrapes it",
        ),
        server_container(
            args,
            replace(exporter, env=()),
            CELERY_EXPORTER_BINARY,
            Healthcheck(
                (
                    "CMD",
                    "python",
                    "-c",
                    "import urllib.request; urllib.request.urlopen('http://127.0.0.1:9808/health')",
                ),
                start_period_seconds=60,
            ),
            secret_env=(("CE_BROKER_URL", broker_file),),
        ),
        grafana_container(args),
        log_shipper_container(args),
    ]
