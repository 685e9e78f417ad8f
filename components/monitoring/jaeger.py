"""Jaeger v2 (one binary built on the OpenTelemetry Collector): OTLP in, spans to Elasticsearch or
Badger, the query UI on 16686."""

from __future__ import annotations

from typing import Any

from components.common.quantities import retention_hours
from components.common.values import ResourceAmounts, Resources
from components.common.yaml_text import to_yaml
from components.monitoring import elastic
from components.monitoring.platform import MonitoredPlatform
from components.monitoring.workload import Port, SecretMount, ServerSpec, Volume

NAME = "jaeger"
OTLP_GRPC_PORT = 4317
UI_PORT = 16686
METRICS_PORT = 8888
HEALTH_PORT = 13133
BADGER_DIR = "/badger"
STORE = "main"


def badger_dir(platform: MonitoredPlatform) -> str:
    """Badger's volume: /badger on Kubernetes (fsGroup owns it); on Docker the image's /tmp, the one
    directory its user may write (its VOLUME, mode 1777, which a new volume copies)."""
    return BADGER_DIR if platform.kubernetes else "/tmp"


def _backend(platform: MonitoredPlatform) -> dict[str, Any]:
    tracing = platform.monitoring.tracing
    if tracing.storage == "badger":
        badger = badger_dir(platform)
        return {
            "badger": {
                "directories": {"keys": f"{badger}/keys", "values": f"{badger}/values"},
                "ephemeral": False,
                # Jaeger takes Go durations, which have no days.
                "ttl": {"spans": f"{retention_hours(tracing.retention)}h"},
            }
        }
    replicas = min(1, platform.monitoring.elasticsearch.nodes - 1)
    index = {"date_layout": "2006-01-02", "rollover_frequency": "day", "shards": 1, "replicas": replicas}
    return {
        "elasticsearch": {
            "server_urls": [elastic.url(platform)],
            "auth": {
                "basic": {
                    "username": elastic.WRITER.username,
                    "password": f"${{file:{elastic.password_file(platform, elastic.WRITER)}}}",
                }
            },
            "tls": {"ca_file": elastic.ca_file(platform)},
            "indices": {
                "index_prefix": elastic.TRACE_INDEX_PREFIX,
                "spans": index,
                "services": index,
                "dependencies": index,
                "sampling": index,
            },
        }
    }


def jaeger_config(platform: MonitoredPlatform) -> dict[str, Any]:
    listen = "${env:POD_IP}"
    return {
        "service": {
            "extensions": ["jaeger_storage", "jaeger_query", "healthcheckv2"],
            "pipelines": {
                "traces": {
                    "receivers": ["otlp"],
                    "processors": ["batch"],
                    "exporters": ["jaeger_storage_exporter"],
                }
            },
            "telemetry": {
                "resource": {"service.name": "jaeger"},
                "metrics": {
                    "level": "detailed",
                    "readers": [{"pull": {"exporter": {"prometheus": {"host": listen, "port": METRICS_PORT}}}}],
                },
                "logs": {"level": "info"},
            },
        },
        "extensions": {
            "healthcheckv2": {"use_v2": True, "http": {"endpoint": f"{listen}:{HEALTH_PORT}"}},
            "jaeger_query": {"storage": {"traces": STORE}, "http": {"endpoint": f"{listen}:{UI_PORT}"}},
            "jaeger_storage": {"backends": {STORE: _backend(platform)}},
        },
        # Only the collector gateway sends here (OTLP/gRPC); applications talk to the gateway.
        "receivers": {"otlp": {"protocols": {"grpc": {"endpoint": f"{listen}:{OTLP_GRPC_PORT}"}}}},
        "processors": {"batch": {}},
        "exporters": {"jaeger_storage_exporter": {"trace_storage": STORE}},
    }


def jaeger_spec(platform: MonitoredPlatform) -> ServerSpec:
    m = platform.monitoring
    badger = m.tracing.storage == "badger"
    return ServerSpec(
        name=NAME,
        namespace=m.namespace,
        component="tracing",
        environment=platform.environment,
        image=platform.images.jaeger,
        args=("--config=/etc/jaeger/config.yaml",),
        ports=(
            Port("otlp-grpc", OTLP_GRPC_PORT),
            Port("http-ui", UI_PORT),
            Port("metrics", METRICS_PORT),
            Port("health", HEALTH_PORT),
        ),
        resources=Resources(
            requests=ResourceAmounts(cpu="250m", memory="512Mi"),
            limits=ResourceAmounts(cpu="1", memory="1Gi"),
        ),
        # Badger is a single-writer embedded store; with Elasticsearch Jaeger is stateless.
        replicas=1 if badger else 2 if platform.environment == "production" else 1,
        config={"config.yaml": to_yaml(jaeger_config(platform))},
        config_dir="/etc/jaeger",
        config_capability="jaeger",
        ready_path="/status",
        live_path="/status",
        probe_port="health",
        data=Volume(m.tracing.badger_storage_size, badger_dir(platform)) if badger else None,
        secret_mounts=()
        if badger
        else (
            SecretMount(elastic.CA_SECRET, elastic.CA_DIR),
            SecretMount(elastic.WRITER.secret_name, elastic.USER_DIR),
        ),
        kind="StatefulSet" if badger else "Deployment",
    )


def otlp_endpoint(platform: MonitoredPlatform) -> str:
    return f"{platform.service_host(NAME)}:{OTLP_GRPC_PORT}"
