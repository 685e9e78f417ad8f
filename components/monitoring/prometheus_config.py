"""prometheus.yml for a Prometheus we run ourselves (the docker target), pure.

The label scheme is the one the rules and dashboards are written against on Kubernetes: every
target carries `namespace` (the platform's, or the monitoring namespace for the monitoring stack's
own servers, where they run on Kubernetes) and `job` (what a ServiceMonitor would name it), so the
same rule file works on both targets."""

from __future__ import annotations

from dataclasses import dataclass

from components.common.yaml_text import to_yaml


@dataclass(frozen=True)
class ScrapeJob:
    job: str
    # Static "host:port" targets, or one DNS name whose A records are the targets (every
    # container behind a network alias).
    targets: tuple[str, ...] = ()
    dns_name: str | None = None
    port: int = 0
    metrics_path: str = "/metrics"
    # Basic auth for targets that ask for it: the user, and the file holding the password.
    basic_auth: tuple[str, str] | None = None
    # The `namespace` label when it is not the platform's: the monitoring stack's own servers.
    namespace: str | None = None


@dataclass(frozen=True)
class PrometheusInputs:
    namespace: str
    environment: str
    jobs: tuple[ScrapeJob, ...]
    alertmanagers: tuple[str, ...]
    rule_files: tuple[str, ...]
    scrape_interval_seconds: int = 15
    # Docker's embedded DNS resolves the aliases; refreshed often, containers come and go.
    dns_refresh_seconds: int = 30


def prometheus_config(cfg: PrometheusInputs) -> dict[str, object]:
    jobs: list[dict[str, object]] = []
    for job in cfg.jobs:
        namespace = job.namespace or cfg.namespace
        entry: dict[str, object] = {"job_name": job.job, "metrics_path": job.metrics_path}
        if job.dns_name:
            entry["dns_sd_configs"] = [
                {
                    "names": [job.dns_name],
                    "type": "A",
                    "port": job.port,
                    "refresh_interval": f"{cfg.dns_refresh_seconds}s",
                }
            ]
            # The target-neutral labels, on discovered targets too.
            entry["relabel_configs"] = [
                {"target_label": "namespace", "replacement": namespace},
            ]
        else:
            entry["static_configs"] = [{"targets": list(job.targets), "labels": {"namespace": namespace}}]
        if job.basic_auth:
            user, password_file = job.basic_auth
            entry["basic_auth"] = {"username": user, "password_file": password_file}
        jobs.append(entry)
    return {
        "global": {
            "scrape_interval": f"{cfg.scrape_interval_seconds}s",
            "evaluation_interval": f"{cfg.scrape_interval_seconds}s",
            "external_labels": {"environment": cfg.environment},
        },
        "rule_files": list(cfg.rule_files),
        "alerting": {"alertmanagers": [{"static_configs": [{"targets": list(cfg.alertmanagers)}]}]},
        "scrape_configs": jobs,
    }


def render_prometheus_yml(cfg: PrometheusInputs) -> str:
    return (
        "# Rendered by teknofest-platform (components/monitoring/prometheus_config.py); do not edit by hand.\n"
        + to_yaml(prometheus_config(cfg))
    )
