"""The docker target's monitoring as container specs (pure): Prometheus (the same rules, a
target-neutral label scheme), Alertmanager (the same routing), Grafana (the same datasources and
dashboards, provisioned), Loki, Jaeger and the OpenTelemetry Collector gateway (their Kubernetes
server specs, as containers), and the Celery exporter."""

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
)
from components.common.quantities import cpu_millicores, memory_bytes
from components.common.yaml_text import to_yaml
from components.monitoring import jaeger, loki, otel
from components.monitoring.alert_rules import rule_groups
from components.monitoring.celery_exporter import NAME as CELERY_EXPORTER
from components.monitoring.celery_exporter import PORT as CELERY_EXPORTER_PORT
from components.monitoring.celery_exporter import celery_exporter_spec
from components.monitoring.dashboards import PROMETHEUS_UID, dashboard_json, platform_dashboards
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
    # What Prometheus scrapes: the platform's exporters and pools, with the jobs' names.
    scrape_jobs: tuple[ScrapeJob, ...] = ()
    # The broker URL variable the Celery exporter reads (its value is a secret of the component).
    broker_secret: str = "celery-broker-url"

    def container(self, name: str) -> str:
        return f"{self.prefix}-{name}"

    @property
    def secrets(self) -> tuple[str, ...]:
        return (GRAFANA_PASSWORD_SECRET, ALERTMANAGER_CONFIG_SECRET, self.broker_secret)


def _limits(spec: ServerSpec) -> tuple[int, float]:
    return memory_bytes(spec.resources.limits.memory) // 2**20, cpu_millicores(spec.resources.limits.cpu) / 1000


def _wget(port: int, path: str) -> Healthcheck:
    return Healthcheck.shell(f"wget -q -O /dev/null http://127.0.0.1:{port}{path}", start_period_seconds=60)


def server_container(
    args: MonitoringHostArgs,
    spec: ServerSpec,
    healthcheck: Healthcheck | None,
    unchecked_because: str = "",
    ports: tuple[PortBinding, ...] = (),
    secret_env: tuple[tuple[str, str], ...] = (),
) -> ContainerSpec:
    """A monitoring server of the Kubernetes target as a container: the image's own entrypoint
    (a single binary) with the same arguments, its rendered config under CONFIG_DIR."""
    memory, cpus = _limits(spec)
    command = tuple(a.replace(spec.config_dir, CONFIG_DIR).replace("$(POD_IP)", "0.0.0.0") for a in spec.args)
    networks = [NetworkAttachment(args.network, (spec.name,))]
    if ports:
        networks.append(NetworkAttachment(args.edge_network, (spec.name,)))
    volumes = (VolumeMount(f"{args.container(spec.name)}-data", spec.data.mount_path),) if spec.data else ()
    return ContainerSpec(
        name=args.container(spec.name),
        image=spec.image,
        command=command,
        networks=tuple(networks),
        memory_mb=memory,
        cpus=cpus,
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
        ),
        volumes=volumes,
        # Scratch space, unless the data volume is /tmp itself (Jaeger's Badger).
        tmpfs=(("/tmp", "rw,noexec,nosuid,size=64m"),) if not (spec.data and spec.data.mount_path == "/tmp") else (),
        ports=ports,
        capability=spec.config_capability,
    )


def prometheus_inputs(args: MonitoringHostArgs) -> PrometheusInputs:
    p = args.platform
    own = (
        ScrapeJob("prometheus", (f"127.0.0.1:{PROMETHEUS_PORT}",)),
        ScrapeJob("alertmanager", (f"alertmanager:{ALERTMANAGER_PORT}",)),
        ScrapeJob(loki.NAME, (f"{loki.NAME}:{loki.HTTP_PORT}",)),
        ScrapeJob(otel.GATEWAY, (f"{otel.GATEWAY}:{otel.METRICS_PORT}",)),
        ScrapeJob(CELERY_EXPORTER, (f"{CELERY_EXPORTER}:{CELERY_EXPORTER_PORT}",)),
    )
    return PrometheusInputs(
        namespace=p.namespace,
        environment=p.environment,
        jobs=(*args.scrape_jobs, *own),
        alertmanagers=(f"alertmanager:{ALERTMANAGER_PORT}",),
        rule_files=(f"{CONFIG_DIR}/rules.yml",),
    )


def prometheus_container(args: MonitoringHostArgs) -> ContainerSpec:
    m = args.platform.monitoring
    resources = m.prometheus.resources.limits
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
        memory_mb=memory_bytes(resources.memory) // 2**20,
        cpus=cpu_millicores(resources.cpu) / 1000,
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
        command=("/run.sh",),
        networks=(NetworkAttachment(args.network, ("grafana",)), NetworkAttachment(args.edge_network, ("grafana",))),
        memory_mb=512,
        cpus=1.0,
        healthcheck=_wget(GRAFANA_PORT, "/api/health"),
        user=GRAFANA_UID,
        env=(
            ("GF_PATHS_PROVISIONING", f"{CONFIG_DIR}/provisioning"),
            ("GF_PATHS_DATA", "/var/lib/grafana"),
            ("GF_SECURITY_ADMIN_USER", "admin"),
            # Grafana reads the password from the file itself (its __FILE convention).
            ("GF_SECURITY_ADMIN_PASSWORD__FILE", f"{SECRETS_DIR}/{GRAFANA_PASSWORD_SECRET}"),
            ("GF_ANALYTICS_REPORTING_ENABLED", "false"),
            ("GF_ANALYTICS_CHECK_FOR_UPDATES", "false"),
            ("GF_USERS_ALLOW_SIGN_UP", "false"),
        ),
        uploads=(
            *(
                Upload(f"{CONFIG_DIR}/{path}", text, capability="monitoring")
                for path, text in grafana_provisioning(args).items()
            ),
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
        command=(f"--config={CONFIG_DIR}/config.yaml",),
        networks=(NetworkAttachment(args.network, (otel.AGENT,)),),
        memory_mb=memory_bytes(otel.AGENT_RESOURCES.limits.memory) // 2**20,
        cpus=cpu_millicores(otel.AGENT_RESOURCES.limits.cpu) / 1000,
        healthcheck=None,
        unchecked_because="the collector image is a static binary without a shell; Prometheus scrapes it",
        user="0:0",
        env=(("POD_IP", "0.0.0.0"),),
        root_because="Docker's log files are root-owned (0640); no capability is kept",
        uploads=(Upload(f"{CONFIG_DIR}/config.yaml", to_yaml(otel.docker_agent_config(p)), capability="log_shipper"),),
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
    return [
        prometheus_container(args),
        alertmanager_container(args),
        server_container(args, loki.loki_spec(p), _wget(loki.HTTP_PORT, "/ready")),
        server_container(
            args,
            jaeger_spec,
            _wget(jaeger.HEALTH_PORT, "/status"),
            ports=(PortBinding(jaeger.UI_PORT, args.jaeger_port, args.publish_address),),
        ),
        server_container(
            args,
            otel.gateway_spec(p),
            None,
            unchecked_because="the collector image is a static binary without a shell; Prometheus scrapes it",
        ),
        server_container(
            args,
            replace(exporter, env=()),
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
