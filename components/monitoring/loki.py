"""Loki in monolithic mode (one StatefulSet, filesystem store on its volume) with retention."""

from __future__ import annotations

from typing import Any

from components.common.yaml_text import to_yaml
from components.monitoring.platform import MonitoredPlatform
from components.monitoring.workload import Port, ServerSpec, Volume

NAME = "loki"
HTTP_PORT = 3100
GRPC_PORT = 9095
DATA_DIR = "/var/loki"


def data_dir(platform: MonitoredPlatform) -> str:
    """Where Loki keeps its data: the volume on Kubernetes (fsGroup owns it); on Docker the image's
    own /loki, owned by its user, which a new volume copies (a path the image lacks would be root's)."""
    return DATA_DIR if platform.kubernetes else "/loki"


def loki_config(platform: MonitoredPlatform) -> dict[str, Any]:
    loki = platform.monitoring.loki
    data = data_dir(platform)
    return {
        "auth_enabled": False,
        "server": {
            "http_listen_address": "${POD_IP}",
            "http_listen_port": HTTP_PORT,
            "grpc_listen_address": "${POD_IP}",
            "grpc_listen_port": GRPC_PORT,
            "log_level": "info",
        },
        "common": {
            "instance_addr": "${POD_IP}",
            "path_prefix": data,
            "replication_factor": 1,
            "ring": {"kvstore": {"store": "inmemory"}},
            "storage": {"filesystem": {"chunks_directory": f"{data}/chunks", "rules_directory": f"{data}/rules"}},
        },
        "schema_config": {
            "configs": [
                {
                    "from": "2025-01-01",
                    "store": "tsdb",
                    "object_store": "filesystem",
                    "schema": "v13",
                    "index": {"prefix": "index_", "period": "24h"},
                }
            ]
        },
        # Retention is the compactor's job: without retention_enabled, retention_period is ignored.
        "compactor": {
            "working_directory": f"{data}/compactor",
            "retention_enabled": True,
            "delete_request_store": "filesystem",
        },
        "limits_config": {
            "retention_period": loki.retention,
            # The log shipper sends OTLP, whose resource attributes land as structured metadata.
            "allow_structured_metadata": True,
            "reject_old_samples": True,
            "reject_old_samples_max_age": "168h",
            "ingestion_rate_mb": 16,
            "ingestion_burst_size_mb": 32,
        },
        "analytics": {"reporting_enabled": False},
    }


def loki_spec(platform: MonitoredPlatform) -> ServerSpec:
    m = platform.monitoring
    return ServerSpec(
        name=NAME,
        namespace=m.namespace,
        component="logs",
        environment=platform.environment,
        image=platform.images.loki,
        args=("-config.file=/etc/loki/loki.yaml", "-config.expand-env=true", "-target=all"),
        ports=(Port("http-metrics", HTTP_PORT), Port("grpc", GRPC_PORT)),
        resources=m.loki.resources,
        config={"loki.yaml": to_yaml(loki_config(platform))},
        config_dir="/etc/loki",
        config_capability="loki",
        metrics_port="http-metrics",
        ready_path="/ready",
        # Alive while its HTTP server answers; /ready also waits for the ring, which a restart won't fix.
        live_path="/loki/api/v1/status/buildinfo",
        data=Volume(m.loki.storage_size, data_dir(platform), m.loki.storage_class),
        kind="StatefulSet",
    )


def push_url(platform: MonitoredPlatform) -> str:
    """Loki's native OTLP endpoint (the log shipper appends /v1/logs)."""
    return f"http://{platform.service_host(NAME)}:{HTTP_PORT}/otlp"


def query_url(platform: MonitoredPlatform) -> str:
    return f"http://{platform.service_host(NAME)}:{HTTP_PORT}"
