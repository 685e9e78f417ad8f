"""Retention in Elasticsearch: a daily CronJob deletes the daily log and span indices older than
their settings (pure builders). Elasticsearch has no TTL of its own; ECK manages no index policies."""

from __future__ import annotations

from typing import Any

from components.common import labels as lbl
from components.common.kubernetes.manifests import container_resources, metadata, rendered_config_map
from components.common.kubernetes.pod_security import container_security_context, pod_security_context
from components.common.quantities import retention_hours
from components.common.values import ResourceAmounts, Resources
from components.monitoring import elastic
from components.monitoring.platform import MonitoredPlatform

NAME = "elasticsearch-retention"
# Index name patterns and the shape of their date suffix: the log shipper writes
# platform-logs-YYYY.MM.DD, Jaeger jaeger-jaeger-<kind>-YYYY-MM-DD.
LOG_PATTERN = elastic.LOG_INDICES
TRACE_PATTERN = elastic.TRACE_INDICES
# A high uid of no account: curl and sh need none, and it cannot collide with a host user.
CURL_USER = 10100

RETENTION_SCRIPT = r"""#!/bin/sh
# Delete daily indices older than their retention. Environment: ES_URL, CA_FILE, ES_USERNAME,
# ES_PASSWORD_FILE, LOG_PATTERN, LOG_DAYS, TRACE_PATTERN, TRACE_DAYS.
set -eu
es() {
  # The credentials reach curl as a config on stdin: not in its arguments, not in the environment.
  printf 'user = "%s:%s"\n' "$ES_USERNAME" "$(cat "$ES_PASSWORD_FILE")" |
    curl --config - --silent --show-error --fail-with-body --cacert "$CA_FILE" "$@"
}
now=$(date -u +%s)
prune() {  # $1: index pattern, $2: days to keep
  cutoff=$(date -u -d "@$((now - $2 * 86400))" +%Y-%m-%d)
  # An assignment, so that a failing request fails the job (set -e ignores it in a for list).
  indices=$(es "$ES_URL/_cat/indices/$1?h=index&expand_wildcards=open,closed")
  for index in $indices; do
    day=$(echo "$index" | grep -oE '[0-9]{4}[.-][0-9]{2}[.-][0-9]{2}$' | tr . -) || true
    [ -n "$day" ] || continue  # not a daily index
    if expr "$day" \< "$cutoff" >/dev/null; then
      echo "deleting $index (older than $cutoff)"
      es -X DELETE "$ES_URL/$index" >/dev/null
    fi
  done
}
prune "$LOG_PATTERN" "$LOG_DAYS"
prune "$TRACE_PATTERN" "$TRACE_DAYS"
echo "retention done"
"""


def _days(period: str) -> int:
    """Whole days to keep, rounded up: a 36h retention keeps two daily indices."""
    return max(1, -(-retention_hours(period) // 24))


def retention_env(platform: MonitoredPlatform) -> dict[str, str]:
    m = platform.monitoring
    return {
        "ES_URL": elastic.url(platform),
        "CA_FILE": elastic.ca_file(platform),
        "ES_USERNAME": elastic.WRITER.username,
        "ES_PASSWORD_FILE": elastic.password_file(platform, elastic.WRITER),
        "LOG_PATTERN": LOG_PATTERN,
        "LOG_DAYS": str(_days(m.elasticsearch.log_retention)),
        "TRACE_PATTERN": TRACE_PATTERN,
        # With Badger, Jaeger's own TTL expires spans and no jaeger-* index exists.
        "TRACE_DAYS": str(_days(m.tracing.retention)),
    }


def retention_manifests(platform: MonitoredPlatform) -> list[dict[str, Any]]:
    ns = platform.monitoring.namespace
    labels = lbl.standard_labels(NAME, "search", platform.environment, platform.images.curl)
    env: list[dict[str, Any]] = [{"name": k, "value": v} for k, v in sorted(retention_env(platform).items())]
    config_map = rendered_config_map(f"{NAME}-script", ns, labels, {"retention.sh": RETENTION_SCRIPT}, "elasticsearch")
    cron_job = {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": metadata(NAME, ns, labels),
        "spec": {
            "schedule": "30 3 * * *",
            "concurrencyPolicy": "Forbid",
            "startingDeadlineSeconds": 3600,
            "successfulJobsHistoryLimit": 1,
            "failedJobsHistoryLimit": 3,
            "jobTemplate": {
                "spec": {
                    "backoffLimit": 3,
                    "activeDeadlineSeconds": 1800,
                    "template": {
                        "metadata": {"labels": labels},
                        "spec": {
                            "restartPolicy": "OnFailure",
                            "automountServiceAccountToken": False,
                            "securityContext": pod_security_context(CURL_USER, CURL_USER),
                            "containers": [
                                {
                                    "name": "retention",
                                    "image": platform.images.curl,
                                    "command": ["/bin/sh", "/scripts/retention.sh"],
                                    "env": env,
                                    "resources": container_resources(
                                        Resources(
                                            requests=ResourceAmounts(cpu="10m", memory="16Mi"),
                                            limits=ResourceAmounts(cpu="200m", memory="64Mi"),
                                        )
                                    ),
                                    "securityContext": container_security_context(),
                                    "volumeMounts": [
                                        {"name": "scripts", "mountPath": "/scripts", "readOnly": True},
                                        {"name": "ca", "mountPath": elastic.CA_DIR, "readOnly": True},
                                        {"name": "user", "mountPath": elastic.USER_DIR, "readOnly": True},
                                    ],
                                }
                            ],
                            "volumes": [
                                {"name": "scripts", "configMap": {"name": f"{NAME}-script"}},
                                {"name": "ca", "secret": {"secretName": elastic.CA_SECRET}},
                                {"name": "user", "secret": {"secretName": elastic.WRITER.secret_name}},
                            ],
                        },
                    },
                }
            },
        },
    }
    return [config_map, cron_job]
