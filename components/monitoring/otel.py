"""The OpenTelemetry Collector twice: a gateway Deployment that the application sends OTLP traces to,
and a log-shipping DaemonSet that tails every pod's log files into Loki and Elasticsearch."""

from __future__ import annotations

from typing import Any

from components.common import labels as lbl
from components.common.kubernetes.manifests import (
    POD_IP_ENV,
    container_resources,
    metadata,
    rendered_config_map,
    service_account,
    service_monitor,
)
from components.common.values import ResourceAmounts, Resources
from components.common.yaml_text import to_yaml
from components.monitoring import elastic, jaeger, loki
from components.monitoring.platform import MonitoredPlatform
from components.monitoring.workload import CONFIG_CHECKSUM_ANNOTATION, Port, ServerSpec, config_checksum

GATEWAY = "otel-collector"
AGENT = "log-shipper"
OTLP_GRPC_PORT = 4317
OTLP_HTTP_PORT = 4318
METRICS_PORT = 8888
HEALTH_PORT = 13133
LISTEN = "${env:POD_IP}"
POD_LOGS = "/var/log/pods"
CHECKPOINTS = "/var/lib/otelcol"
AGENT_RESOURCES = Resources(
    requests=ResourceAmounts(cpu="100m", memory="128Mi"), limits=ResourceAmounts(cpu="500m", memory="512Mi")
)


def _telemetry() -> dict[str, Any]:
    return {
        "metrics": {
            "level": "normal",
            "readers": [{"pull": {"exporter": {"prometheus": {"host": LISTEN, "port": METRICS_PORT}}}}],
        }
    }


def _memory_limiter() -> dict[str, Any]:
    # Refuse data before the container's memory limit kills the collector.
    return {"check_interval": "1s", "limit_percentage": 80, "spike_limit_percentage": 20}


def _environment(platform: MonitoredPlatform) -> dict[str, Any]:
    return {
        "attributes": [
            {"key": "deployment.environment.name", "value": platform.environment, "action": "upsert"},
        ]
    }


def gateway_config(platform: MonitoredPlatform) -> dict[str, Any]:
    return {
        "extensions": {"health_check": {"endpoint": f"{LISTEN}:{HEALTH_PORT}"}},
        "receivers": {
            "otlp": {
                "protocols": {
                    "grpc": {"endpoint": f"{LISTEN}:{OTLP_GRPC_PORT}"},
                    "http": {"endpoint": f"{LISTEN}:{OTLP_HTTP_PORT}"},
                }
            }
        },
        "processors": {
            "memory_limiter": _memory_limiter(),
            "resource/environment": _environment(platform),
            "batch": {"send_batch_size": 8192, "timeout": "5s"},
        },
        "exporters": {
            # In-cluster hop to Jaeger; the NetworkPolicy-free monitoring namespace is the trust boundary.
            "otlp/jaeger": {
                "endpoint": jaeger.otlp_endpoint(platform),
                "tls": {"insecure": True},
                "sending_queue": {"enabled": True, "queue_size": 5000},
                "retry_on_failure": {"enabled": True, "max_elapsed_time": "300s"},
            }
        },
        "service": {
            "extensions": ["health_check"],
            "pipelines": {
                "traces": {
                    "receivers": ["otlp"],
                    "processors": ["memory_limiter", "resource/environment", "batch"],
                    "exporters": ["otlp/jaeger"],
                }
            },
            "telemetry": _telemetry(),
        },
    }


def gateway_spec(platform: MonitoredPlatform) -> ServerSpec:
    m = platform.monitoring
    return ServerSpec(
        name=GATEWAY,
        namespace=m.namespace,
        component="tracing",
        environment=platform.environment,
        image=platform.images.otel_collector,
        args=("--config=/etc/otelcol/config.yaml",),
        ports=(
            Port("otlp-grpc", OTLP_GRPC_PORT),
            Port("otlp-http", OTLP_HTTP_PORT),
            Port("metrics", METRICS_PORT),
            Port("health", HEALTH_PORT),
        ),
        resources=Resources(
            requests=ResourceAmounts(cpu="200m", memory="256Mi"),
            limits=ResourceAmounts(cpu="1", memory="512Mi"),
        ),
        replicas=m.tracing.collector_replicas,
        config={"config.yaml": to_yaml(gateway_config(platform))},
        config_dir="/etc/otelcol",
        config_capability="otel_collector",
        ready_path="/",
        live_path="/",
        probe_port="health",
    )


def gateway_endpoint(platform: MonitoredPlatform) -> str:
    """What the application's OTEL_EXPORTER_OTLP_ENDPOINT points at (OTLP/gRPC)."""
    return f"http://{platform.service_host(GATEWAY)}:{OTLP_GRPC_PORT}"


def application_env(platform: MonitoredPlatform, service_name: str) -> dict[str, str]:
    """OpenTelemetry SDK settings for an application pool (standard OTEL_* variables)."""
    tracing = platform.monitoring.tracing
    return {
        "OTEL_SERVICE_NAME": service_name,
        "OTEL_EXPORTER_OTLP_ENDPOINT": gateway_endpoint(platform),
        "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
        "OTEL_TRACES_EXPORTER": "otlp",
        # Logs go to stdout and through the shipper; metrics are scraped from /metrics.
        "OTEL_LOGS_EXPORTER": "none",
        "OTEL_METRICS_EXPORTER": "none",
        "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
        "OTEL_TRACES_SAMPLER_ARG": f"{tracing.sample_ratio:g}",
        "OTEL_RESOURCE_ATTRIBUTES": f"deployment.environment.name={platform.environment}",
    }


def agent_config(platform: MonitoredPlatform) -> dict[str, Any]:
    m = platform.monitoring
    exporters: dict[str, Any] = {
        "otlphttp/loki": {
            "endpoint": loki.push_url(platform),
            "sending_queue": {"enabled": True, "storage": "file_storage"},
            "retry_on_failure": {"enabled": True, "max_elapsed_time": "0s"},
        }
    }
    extensions: dict[str, Any] = {
        "health_check": {"endpoint": f"{LISTEN}:{HEALTH_PORT}"},
        # Read offsets and unsent batches survive restarts: no log is lost or shipped twice.
        "file_storage": {"directory": f"{CHECKPOINTS}/storage", "create_directory": True},
    }
    if m.elasticsearch.enabled:
        exporters["elasticsearch"] = {
            "endpoints": [elastic.url(platform)],
            # Daily indices platform-logs-YYYY.MM.DD, which the retention job deletes when old.
            "logs_index": elastic.LOG_INDEX_PREFIX,
            "logstash_format": {"enabled": True},
            "auth": {"authenticator": "basicauth/elasticsearch"},
            "tls": {"ca_file": elastic.ca_file(platform)},
            "sending_queue": {"enabled": True, "storage": "file_storage"},
        }
        extensions["basicauth/elasticsearch"] = {
            "client_auth": {
                "username": elastic.WRITER.username,
                "password": f"${{file:{elastic.password_file(platform, elastic.WRITER)}}}",
            }
        }
    return {
        "extensions": extensions,
        "receivers": {
            "filelog": {
                "include": [f"{POD_LOGS}/*/*/*.log"],
                # Its own output would otherwise be read back in a loop when it logs an export error.
                "exclude": [f"{POD_LOGS}/{m.namespace}_{AGENT}-*/*/*.log"],
                "start_at": "end",
                "include_file_path": True,
                "storage": "file_storage",
                # Parses the CRI/docker line format and takes namespace, pod and container from the path.
                "operators": [{"type": "container", "id": "container-parser"}],
            }
        },
        "processors": {
            "memory_limiter": _memory_limiter(),
            "resource/environment": _environment(platform),
            "batch": {"send_batch_size": 2048, "timeout": "2s"},
        },
        "exporters": exporters,
        "service": {
            "extensions": sorted(extensions),
            "pipelines": {
                "logs": {
                    "receivers": ["filelog"],
                    "processors": ["memory_limiter", "resource/environment", "batch"],
                    "exporters": sorted(exporters),
                }
            },
            "telemetry": _telemetry(),
        },
    }


def agent_manifests(platform: MonitoredPlatform) -> list[dict[str, Any]]:
    """The shipper runs on every node (all taints tolerated, GPU nodes included). It must read the
    kubelet's log files, root-owned on the host: that is why the monitoring namespace cannot enforce
    the restricted profile. It gets nothing else: no capabilities, read-only root and log mounts."""
    m = platform.monitoring
    ns = m.namespace
    labels = lbl.standard_labels(AGENT, "logs", platform.environment, platform.images.otel_collector)
    selector = lbl.selector_labels(AGENT)
    config = {"config.yaml": to_yaml(agent_config(platform))}
    env: list[dict[str, Any]] = [POD_IP_ENV]
    mounts: list[dict[str, Any]] = [
        {"name": "config", "mountPath": "/etc/otelcol", "readOnly": True},
        {"name": "pod-logs", "mountPath": POD_LOGS, "readOnly": True},
        {"name": "checkpoints", "mountPath": CHECKPOINTS},
    ]
    volumes: list[dict[str, Any]] = [
        {"name": "config", "configMap": {"name": f"{AGENT}-config"}},
        {"name": "pod-logs", "hostPath": {"path": POD_LOGS, "type": "Directory"}},
        {"name": "checkpoints", "hostPath": {"path": f"{CHECKPOINTS}/{ns}", "type": "DirectoryOrCreate"}},
    ]
    if m.elasticsearch.enabled:
        mounts.append({"name": "elasticsearch-ca", "mountPath": elastic.CA_DIR, "readOnly": True})
        volumes.append({"name": "elasticsearch-ca", "secret": {"secretName": elastic.CA_SECRET}})
        mounts.append({"name": "elasticsearch-user", "mountPath": elastic.USER_DIR, "readOnly": True})
        volumes.append({"name": "elasticsearch-user", "secret": {"secretName": elastic.WRITER.secret_name}})
    daemon_set = {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": metadata(AGENT, ns, labels),
        "spec": {
            "selector": {"matchLabels": selector},
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "10%"}},
            "template": {
                "metadata": {"labels": labels, "annotations": {CONFIG_CHECKSUM_ANNOTATION: config_checksum(config)}},
                "spec": {
                    "serviceAccountName": AGENT,
                    "automountServiceAccountToken": False,
                    "priorityClassName": "system-node-critical",
                    "tolerations": [{"operator": "Exists"}],
                    "securityContext": {"runAsUser": 0, "runAsGroup": 0, "seccompProfile": {"type": "RuntimeDefault"}},
                    "containers": [
                        {
                            "name": AGENT,
                            "image": platform.images.otel_collector,
                            "args": ["--config=/etc/otelcol/config.yaml"],
                            "env": env,
                            "ports": [
                                {"name": "metrics", "containerPort": METRICS_PORT, "protocol": "TCP"},
                                {"name": "health", "containerPort": HEALTH_PORT, "protocol": "TCP"},
                            ],
                            "resources": container_resources(AGENT_RESOURCES),
                            "securityContext": {
                                "allowPrivilegeEscalation": False,
                                "readOnlyRootFilesystem": True,
                                "capabilities": {"drop": ["ALL"]},
                            },
                            "readinessProbe": {"httpGet": {"path": "/", "port": "health"}, "periodSeconds": 10},
                            "livenessProbe": {"httpGet": {"path": "/", "port": "health"}, "periodSeconds": 20},
                            "volumeMounts": mounts,
                        }
                    ],
                    "volumes": volumes,
                },
            },
        },
    }
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata(AGENT, ns, {**labels, lbl.METRICS_SERVICE: "true"}),
        "spec": {
            "type": "ClusterIP",
            "clusterIP": "None",
            "selector": selector,
            "ports": [{"name": "metrics", "port": METRICS_PORT, "targetPort": "metrics", "protocol": "TCP"}],
        },
    }
    return [
        service_account(AGENT, ns, labels),
        rendered_config_map(f"{AGENT}-config", ns, labels, config, "log_shipper"),
        daemon_set,
        service,
        service_monitor(AGENT, ns, labels, selector, "metrics", "/metrics"),
    ]


# Where Docker's json-file driver writes each container's output on the host.
DOCKER_LOGS = "/var/lib/docker/containers"
# The container label the json-file driver copies into every line ("attrs"): which service logged it.
SERVICE_LABEL = "org.teknofest.service"


def docker_agent_config(platform: MonitoredPlatform) -> dict[str, Any]:
    """The docker target's log shipper: every container's json-file log to Loki, the service
    name (a container label the log driver copies into each line) as Loki's service_name."""
    config = agent_config(platform)
    config["extensions"]["health_check"] = {"endpoint": f"0.0.0.0:{HEALTH_PORT}"}
    config["receivers"] = {
        "filelog": {
            "include": [f"{DOCKER_LOGS}/*/*-json.log"],
            "start_at": "end",
            "include_file_path": True,
            "storage": "file_storage",
            "operators": [
                {
                    "type": "json_parser",
                    "timestamp": {
                        "parse_from": "attributes.time",
                        "layout_type": "gotime",
                        "layout": "2006-01-02T15:04:05.999999999Z07:00",
                    },
                },
                {"type": "move", "from": "attributes.log", "to": "body"},
                {"type": "move", "from": f'attributes.attrs["{SERVICE_LABEL}"]', "to": 'resource["service.name"]'},
                {"type": "remove", "field": "attributes.attrs"},
            ],
        }
    }
    return config
