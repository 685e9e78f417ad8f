"""Whole stacks under the mock engine, through the offline synth, with their manifests validated."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.common import labels as lbl
from components.monitoring.metric_catalogue import exposed_metrics
from stacks.grants_check import grant_findings
from stacks.helm_values_check import helm_values_findings
from stacks.mock_engine import PROJECT_ROOT
from stacks.monitored import monitored_platform
from stacks.ordering import CRD_GROUPS_BY_CHART, api_group, crd_installers, effective_dependencies, ordering_findings
from stacks.pod_security_check import pod_template, violations
from stacks.reachability import chart_network_policies, reachability_findings
from stacks.synth import SynthResult, main, stack_talks, synth
from stacks.topology import Talk
from stacks.validate import (
    edge_route_findings,
    metric_findings,
    monitor_findings,
    monitor_targets,
    pod_security_findings,
)
from tests.conftest import DEV_ON_KUBERNETES, KUBERNETES_STACKS, stack_settings


@pytest.mark.parametrize("stack", KUBERNETES_STACKS)
def test_every_manifest_is_valid(rendered: dict[str, SynthResult], stack: str) -> None:
    result = rendered[stack]
    assert result.findings == []
    assert result.crds_folder is not None
    unchecked = [name for name, how in result.checked_by.items() if how.startswith("not checked")]
    assert unchecked == []
    assert len(result.checked_by) == len(result.manifests)


def test_production_holds_the_whole_slice(rendered: dict[str, SynthResult]) -> None:
    names = set(rendered["production"].manifests)
    ns = "teknofest-production"
    expected = {
        f"namespace-cluster-{ns}.yaml",
        f"networkpolicy-{ns}-default-deny-all.yaml",
        f"networkpolicy-{ns}-allow-dns-egress.yaml",
        f"networkpolicy-{ns}-haproxy.yaml",
        f"networkpolicy-{ns}-api-ingress.yaml",
        f"statefulset-{ns}-haproxy.yaml",
        f"service-{ns}-haproxy.yaml",
        f"service-{ns}-haproxy-stats.yaml",
        f"service-{ns}-haproxy-peers.yaml",
        f"configmap-{ns}-haproxy-config.yaml",
        f"poddisruptionbudget-{ns}-haproxy.yaml",
        f"deployment-{ns}-api.yaml",
        f"service-{ns}-api.yaml",
        f"service-{ns}-api-headless.yaml",
        f"poddisruptionbudget-{ns}-api.yaml",
        f"scaledobject-{ns}-api.yaml",
        f"verticalpodautoscaler-{ns}-api.yaml",
        f"secret-{ns}-api-secrets.yaml",
        f"secret-{ns}-haproxy-credentials.yaml",
        f"certificate-{ns}-api-tls.yaml",
        f"statefulset-{ns}-redis.yaml",
        f"statefulset-{ns}-redis-sentinel.yaml",
        f"deployment-{ns}-redis-master.yaml",
        f"service-{ns}-redis-master.yaml",
        f"service-{ns}-redis-sentinel.yaml",
        f"service-{ns}-redis-headless.yaml",
        f"configmap-{ns}-redis-config.yaml",
        f"configmap-{ns}-redis-master-config.yaml",
        f"secret-{ns}-redis-auth.yaml",
        f"secret-{ns}-redis-client.yaml",
        f"servicemonitor-{ns}-redis.yaml",
        f"networkpolicy-{ns}-api-to-redis.yaml",
        f"poddisruptionbudget-{ns}-redis.yaml",
        f"poddisruptionbudget-{ns}-redis-sentinel.yaml",
        f"cluster-{ns}-postgres.yaml",
        f"pooler-{ns}-postgres-pooler-rw.yaml",
        f"pooler-{ns}-postgres-pooler-ro.yaml",
        f"objectstore-{ns}-postgres-backups.yaml",
        f"scheduledbackup-{ns}-postgres-daily.yaml",
        f"podmonitor-{ns}-postgres.yaml",
        f"podmonitor-{ns}-postgres-pooler-rw.yaml",
        f"podmonitor-{ns}-postgres-pooler-ro.yaml",
        f"secret-{ns}-postgres-app.yaml",
        f"secret-{ns}-postgres-client.yaml",
        f"networkpolicy-{ns}-api-to-postgres.yaml",
        f"rabbitmqcluster-{ns}-rabbitmq.yaml",
        f"triggerauthentication-{ns}-rabbitmq-keda.yaml",
        f"servicemonitor-{ns}-rabbitmq.yaml",
        f"secret-{ns}-rabbitmq-default-user.yaml",
        f"secret-{ns}-rabbitmq-client.yaml",
        *[f"deployment-{ns}-celery-{pool}.yaml" for pool in ("default", "ai", "data", "beat")],
        *[f"scaledobject-{ns}-celery-{pool}.yaml" for pool in ("default", "ai", "data")],
        *[f"networkpolicy-{ns}-celery-{pool}-to-rabbitmq.yaml" for pool in ("default", "ai", "data", "beat")],
        f"deployment-{ns}-flower.yaml",
        f"service-{ns}-flower.yaml",
        "priorityclass-cluster-teknofest-production-gpu.yaml",
        "priorityclass-cluster-teknofest-production-batch.yaml",
    }
    assert expected <= names


def test_files_on_disk_are_what_the_program_sends(rendered: dict[str, SynthResult]) -> None:
    result = rendered["production"]
    for name, manifest in result.manifests.items():
        on_disk = yaml.safe_load((result.out / "manifests" / name).read_text())
        assert on_disk == manifest
    sts = (result.out / "manifests" / "statefulset-teknofest-production-haproxy.yaml").read_text()
    assert "\n  replicas: 3\n" in sts  # an integer, not 3.0 or "3"
    config_map = result.manifests["configmap-teknofest-production-haproxy-config.yaml"]
    assert (result.out / "configs/load_balancer/haproxy.cfg").read_text() == config_map["data"]["haproxy.cfg"]


def test_no_secret_reaches_the_output(rendered: dict[str, SynthResult]) -> None:
    for stack, result in rendered.items():
        for path in result.out.rglob("*"):
            if path.is_file():
                # The mock engine's stand-in passwords are "mock-<name>": none may be written out.
                assert "mock-" not in path.read_text(), f"{stack}: {path} leaks a generated secret"
        for manifest in result.manifests.values():
            if manifest["kind"] == "Secret":
                assert set(manifest["stringData"].values()) == {"[secret]"}
    outputs = rendered["production"].outputs
    assert outputs["haproxyStatsCredentials"] == {"username": "admin", "password": "[secret]"}


def test_outputs_for_dashboards(rendered: dict[str, SynthResult]) -> None:
    outputs = json.loads((rendered["production"].out / "outputs.json").read_text())
    assert outputs["namespace"] == "teknofest-production"
    assert outputs["endpoints"]["loadBalancer"] == "https://api.egitim-eylemci.example.org"
    assert outputs["endpoints"]["haproxyStatsPortForward"] == (
        "kubectl -n teknofest-production port-forward svc/haproxy-stats 8404:8404"
    )
    assert outputs["pools"]["api"] == {"minReplicas": 2, "maxReplicas": 20, "autoscaler": "keda"}
    # Fixed: HAProxy 3 x (250m, 256Mi); Redis 3 x (500m + 50m exporter, 1536Mi + 64Mi); Sentinels
    # 3 x (50m, 64Mi); redis-master 2 x (50m, 64Mi); beat and Flower 1 x (100m, 256Mi) each.
    # Autoscaled at (min, max): API 2-20 and the Celery pools default 2-10, ai 2-4 (1 GPU each),
    # data 2-10, all at (500m, 1Gi). (RabbitMQ and Postgres pods are the operators'.)
    fixed_cpu, fixed_gib = 0.75 + 1.65 + 0.15 + 0.1 + 0.2, 0.75 + 4.6875 + 0.1875 + 0.125 + 0.5
    for bound, pods, gpus in (("atMinimum", 2 + 6, 2), ("atMaximum", 20 + 24, 4)):
        assert outputs["requested"][bound] == {
            "cpuCores": round(0.5 * pods + fixed_cpu, 3),
            "memoryGiB": round(1.0 * pods + fixed_gib, 3),
            "gpus": gpus,
        }
    assert outputs["endpoints"]["rabbitmqManagement"] == "http://rabbitmq.teknofest-production.svc:15672"
    assert (
        outputs["endpoints"]["flowerPortForward"] == "kubectl -n teknofest-production port-forward svc/flower 5555:5555"
    )
    assert outputs["rabbitmq"]["url"] == "[secret]" and outputs["flowerCredentials"]["password"] == "[secret]"
    assert outputs["pools"]["celery-ai"] == {"minReplicas": 2, "maxReplicas": 4, "queues": ["ai"], "gpus": 1}
    assert outputs["endpoints"]["redisMaster"] == "redis://redis-master.teknofest-production.svc:6379"
    assert outputs["endpoints"]["redisSentinel"] == "redis-sentinel.teknofest-production.svc:26379"
    assert outputs["redis"]["url"] == "[secret]" and outputs["redis"]["masterName"] == "teknofest"
    assert outputs["images"]["haproxy"] == "docker.io/library/haproxy:2.6.22"


def test_plan_lists_every_resource_with_its_parent(rendered: dict[str, SynthResult]) -> None:
    plan = json.loads((rendered["production"].out / "plan.json").read_text())
    by_type: dict[str, int] = {}
    for entry in plan:
        by_type[entry["type"]] = by_type.get(entry["type"], 0) + 1
    assert by_type["pulumi:providers:kubernetes"] == 1
    assert by_type["teknofest:platform:WorkerPool"] == 6 and by_type["teknofest:platform:LoadBalancer"] == 1
    releases = {
        e["inputs"]["chart"]: e["inputs"]["version"] for e in plan if e["type"] == "kubernetes:helm.sh/v3:Release"
    }
    assert releases == {
        "cloudnative-pg": "0.29.0",
        "plugin-barman-cloud": "0.7.0",
        "kube-prometheus-stack": "88.5.3",
        "eck-operator": "3.5.0",
        "keda": "2.20.2",
        "cert-manager": "v1.21.1",
        "vertical-pod-autoscaler": "0.11.0",
    }
    # Operators installed from their own release artifacts are in the plan, not among the manifests.
    (operator,) = [e for e in plan if e["type"] == "kubernetes:yaml/v2:ConfigFile"]
    assert operator["inputs"]["file"].endswith("/v2.22.3/cluster-operator.yml")
    installers = {"kubernetes:helm.sh/v3:Release", "kubernetes:yaml/v2:ConfigFile"}
    kubernetes_objects = [e for e in plan if e["type"].startswith("kubernetes:") and e["type"] not in installers]
    assert len(kubernetes_objects) == len(rendered["production"].manifests)
    parents = {e["parent"] for e in kubernetes_objects}
    assert parents == {
        "teknofest:platform:Namespace::namespace",
        "teknofest:platform:WorkerPool::api",
        "teknofest:platform:LoadBalancer::haproxy",
        "teknofest:platform:RedisCluster::redis",
        "teknofest:platform:PostgresCluster::postgres",
        "teknofest:platform:RabbitmqBroker::rabbitmq",
        "teknofest:platform:WorkerPool::celery-default",
        "teknofest:platform:WorkerPool::celery-ai",
        "teknofest:platform:WorkerPool::celery-data",
        "teknofest:platform:WorkerPool::celery-beat",
        "teknofest:platform:WorkerPool::flower",
        "teknofest:platform:MonitoringStack::monitoring",
        None,  # the API and Flower Secrets and the PriorityClasses, registered by the composition
    }


def test_renders_are_deterministic(rendered: dict[str, SynthResult], tmp_path: Path) -> None:
    again = synth("production", tmp_path / "again")
    first = rendered["production"].out
    for relative in ("plan.json", "outputs.json", *[f"manifests/{n}" for n in again.manifests]):
        assert (first / relative).read_text() == (again.out / relative).read_text(), relative


def test_the_command_prints_a_summary_and_diffs(
    rendered: dict[str, SynthResult], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--stack", "staging", "--out", str(tmp_path / "staging")]) == 0
    out = capsys.readouterr().out
    assert "stack staging:" in out and "validation: all manifests valid" in out
    assert "ScaledObject" in out and "CRD schema" in out
    assert main(["--diff", str(tmp_path / "staging"), str(rendered["production"].out)]) == 0
    diff = capsys.readouterr().out
    assert diff.startswith("## Synth diff") and "```diff" in diff and "teknofest-production" in diff


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "stacks.synth", *args],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
    )


def test_a_bad_value_gives_one_clear_message_and_a_non_zero_exit(tmp_path: Path) -> None:
    bad = tmp_path / "Pulumi.production.yaml"
    bad.write_text((PROJECT_ROOT / "Pulumi.production.yaml").read_text().replace("maxReplicas: 20", "maxReplicas: 0"))
    result = run_cli("--stack", "production", "--stack-file", str(bad), "--out", str(tmp_path / "out"))
    assert result.returncode == 2
    assert "teknofest-platform:api.maxReplicas = 0: Input should be greater than or equal to 1" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert not (tmp_path / "out").exists(), "nothing is written for a bad configuration"


def test_production_without_backups_or_tls_is_refused(tmp_path: Path) -> None:
    text = (PROJECT_ROOT / "Pulumi.production.yaml").read_text()
    text = text.replace("    destinationPath: s3://teknofest-backups/production\n", "")
    text = text.replace(
        "  teknofest-platform:tls:\n    enabled: true\n", "  teknofest-platform:tls:\n    enabled: false\n"
    )
    bad = tmp_path / "Pulumi.production.yaml"
    bad.write_text(text)
    result = run_cli("--stack", "production", "--stack-file", str(bad), "--out", str(tmp_path / "out"))
    assert result.returncode == 2
    assert "teknofest-platform:tls.enabled = false: must be true in production" in result.stderr
    assert "teknofest-platform:backups.destinationPath = <missing>" in result.stderr
    assert "Traceback" not in result.stderr


def test_under_pulumi_a_bad_value_is_a_run_error_without_traceback() -> None:
    """`pulumi up` prints a RunError's message alone; the program raises nothing else for bad config."""
    import pulumi

    from stacks.mock_engine import run_program

    with pytest.raises(pulumi.RunError) as caught:
        run_program("production", {"teknofest-platform:api": '{"minReplicas": 0}'})
    message = str(caught.value)
    assert "invalid configuration in Pulumi.production.yaml" in message
    assert "teknofest-platform:api.minReplicas = 0" in message
    assert "Traceback" not in message


def test_every_monitor_scrapes_exactly_one_rendered_target(rendered: dict[str, SynthResult]) -> None:
    manifests = rendered["production"].manifests
    prefixes = (
        "servicemonitor-teknofest-production-",
        "podmonitor-teknofest-production-",
        "servicemonitor-monitoring-",
    )
    targets = {}
    for name, found in monitor_targets(manifests).items():
        for prefix in prefixes:
            name = name.removeprefix(prefix)
        targets[name.removesuffix(".yaml")] = found
    assert targets == {
        # The list: HAProxy, API, Celery, RabbitMQ, Redis, CloudNativePG instances and poolers,
        # Loki, Jaeger, the collector (and the shipper), Elasticsearch.
        "celery-exporter": ["celery-exporter"],
        "loki": ["loki"],
        "jaeger": ["jaeger"],
        "otel-collector": ["otel-collector"],
        "log-shipper": ["log-shipper"],
        "elasticsearch-exporter": ["elasticsearch-exporter"],
        "api": ["api"],
        "flower": ["flower"],
        "haproxy": ["haproxy-stats"],
        "redis": ["redis-metrics"],
        "rabbitmq": ["rabbitmq"],  # the Service the RabbitMQ operator creates for the cluster
        "postgres": ["cluster-teknofest-production-postgres.yaml"],
        "postgres-pooler-rw": ["pooler-teknofest-production-postgres-pooler-rw.yaml"],
        "postgres-pooler-ro": ["pooler-teknofest-production-postgres-pooler-ro.yaml"],
    }


def test_monitors_that_miss_or_double_scrape_are_findings(rendered: dict[str, SynthResult]) -> None:
    manifests = copy.deepcopy(rendered["production"].manifests)
    api_monitor = manifests["servicemonitor-teknofest-production-api.yaml"]["spec"]
    api_monitor["selector"]["matchLabels"].pop("teknofest.org/metrics")  # now matches api and api-headless
    manifests["servicemonitor-teknofest-production-haproxy.yaml"]["spec"]["endpoints"][0]["port"] = "metrics"
    pod_monitor = manifests["podmonitor-teknofest-production-postgres.yaml"]["spec"]
    pod_monitor["selector"]["matchLabels"] = {"cnpg.io/cluster": "pg"}
    messages = {f.manifest: f.message for f in monitor_findings(manifests)}
    nothing = "selects no Service/pod that exposes its port(s)"
    assert messages == {
        "servicemonitor-teknofest-production-api.yaml": "ServiceMonitor selects 2 Services with its port: "
        "['api', 'api-headless']",
        "servicemonitor-teknofest-production-haproxy.yaml": f"ServiceMonitor {nothing}",
        "podmonitor-teknofest-production-postgres.yaml": f"PodMonitor {nothing}",
    }


def test_production_runs_the_whole_monitoring_stack(rendered: dict[str, SynthResult]) -> None:
    manifests = rendered["production"].manifests
    mon, ns = "monitoring", "teknofest-production"
    expected = {
        f"namespace-cluster-{mon}.yaml",
        f"secret-{mon}-alertmanager-platform.yaml",
        f"secret-{mon}-grafana-admin.yaml",
        f"statefulset-{mon}-loki.yaml",
        f"deployment-{mon}-jaeger.yaml",
        f"deployment-{mon}-otel-collector.yaml",
        f"daemonset-{mon}-log-shipper.yaml",
        f"elasticsearch-{mon}-elasticsearch.yaml",
        f"kibana-{mon}-kibana.yaml",
        f"deployment-{mon}-elasticsearch-exporter.yaml",
        f"cronjob-{mon}-elasticsearch-retention.yaml",
        f"secret-{mon}-elasticsearch-roles.yaml",
        *(f"secret-{mon}-elasticsearch-{user}.yaml" for user in ("writer", "reader", "monitor")),
        f"deployment-{ns}-celery-exporter.yaml",
        f"networkpolicy-{ns}-celery-exporter-ingress.yaml",
        f"networkpolicy-{ns}-celery-exporter-to-rabbitmq.yaml",
        f"prometheusrule-{ns}-platform-alerts.yaml",
        *(
            f"networkpolicy-{ns}-{p}-to-otel-collector.yaml"
            for p in ("api", "celery-default", "celery-ai", "celery-beat")
        ),
    }
    assert expected <= set(manifests), sorted(expected - set(manifests))
    dashboards = [m for m in manifests.values() if m["metadata"].get("labels", {}).get("grafana_dashboard") == "1"]
    assert len(dashboards) == 9
    namespace_labels = manifests[f"namespace-cluster-{mon}.yaml"]["metadata"]["labels"]
    assert namespace_labels["pod-security.kubernetes.io/enforce"] == "privileged"
    assert namespace_labels["pod-security.kubernetes.io/warn"] == "baseline"
    # The application sends traces to the gateway; workers emit the events the Celery exporter reads.
    for pool in ("api", "celery-default", "celery-ai", "celery-data"):
        container = manifests[f"deployment-{ns}-{pool}.yaml"]["spec"]["template"]["spec"]["containers"][0]
        env = {e["name"]: e.get("value") for e in container["env"]}
        assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://otel-collector.monitoring.svc:4317"
        assert env["OTEL_SERVICE_NAME"] == pool
        if pool != "api":
            assert "--task-events" in container["command"] and env["CELERY_WORKER_SEND_TASK_EVENTS"] == "true"
    assert manifests[f"deployment-{mon}-jaeger.yaml"]["spec"]["replicas"] == 2
    assert manifests[f"deployment-{mon}-otel-collector.yaml"]["spec"]["replicas"] == 2
    # Every Secret's values are masked in the render.
    assert set(manifests[f"secret-{mon}-alertmanager-platform.yaml"]["stringData"].values()) == {"[secret]"}
    outputs = json.loads((rendered["production"].out / "outputs.json").read_text())
    assert outputs["monitoring"]["grafana"] == {"url": "https://grafana.egitim-eylemci.example.org/"}
    assert outputs["grafanaDashboards"]["AI inference"] == (
        "https://grafana.egitim-eylemci.example.org/d/teknofest-ai-inference"
    )
    assert len(outputs["grafanaDashboards"]) == 9
    assert outputs["monitoring"]["prometheus"]["portForward"] == (
        "kubectl -n monitoring port-forward svc/kube-prometheus-stack-prometheus 9090:9090"
    )
    # Loki 0.5/1, Jaeger 2x(0.25/0.5), gateway 2x(0.2/0.25), exporters 0.05/0.0625 + 0.05/0.125 (cores/GiB);
    # Prometheus 2x(0.5/2), Elasticsearch 3x(1/4), Kibana 2x(0.25/1).
    monitoring = outputs["requested"]["monitoring"]
    assert (monitoring["cpuCores"], monitoring["memoryGiB"]) == (6.0, 20.688)
    assert monitoring["perNode"] == {"cpuCores": 0.1, "memoryGiB": 0.125}
    assert outputs["monitoringCredentials"] == {
        "grafana": {"username": "admin", "password": "[secret]"},
        "jaeger": {"username": "admin", "password": "[secret]"},
        "kibana": {
            "username": "elastic",
            "passwordCommand": "kubectl -n monitoring get secret elasticsearch-es-elastic-user "
            "-o jsonpath='{.data.elastic}' | base64 -d",
        },
    }


def test_dev_keeps_the_heavy_parts_off(rendered: dict[str, SynthResult]) -> None:
    manifests = rendered[DEV_ON_KUBERNETES].manifests
    assert not [name for name in manifests if name.startswith(("elasticsearch-", "kibana-", "ingress-"))]
    jaeger = manifests["statefulset-monitoring-jaeger.yaml"]["spec"]
    assert jaeger["replicas"] == 1
    assert jaeger["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"] == "2Gi"
    outputs = json.loads((rendered[DEV_ON_KUBERNETES].out / "outputs.json").read_text())
    assert set(outputs["monitoring"]) == {"grafana", "prometheus", "alertmanager", "jaeger"}


def test_published_uis_that_miss_their_service_or_password_are_findings(rendered: dict[str, SynthResult]) -> None:
    manifests = copy.deepcopy(rendered["production"].manifests)
    assert edge_route_findings(manifests) == []
    assert not [name for name in manifests if name.startswith("ingress-")], "no ingress controller is needed"
    config = manifests["configmap-teknofest-production-haproxy-config.yaml"]["data"]
    config["haproxy.cfg"] = (
        config["haproxy.cfg"]
        .replace("jaeger.monitoring.svc.cluster.local:16686", "jaeger.monitoring.svc.cluster.local:16687")
        .replace("kibana-kb-http.monitoring", "kibana-http.monitoring")
        .replace("grafana.monitoring.svc.cluster.local:80", "grafana.monitoring.svc.cluster.local:3000")
    )
    credentials = manifests["secret-teknofest-production-haproxy-credentials.yaml"]
    del credentials["stringData"]["ui-jaeger-password"]
    label = "configmap-teknofest-production-haproxy-config.yaml"
    assert sorted((f.manifest, f.message) for f in edge_route_findings(manifests)) == [
        (label, "HAPROXY_UI_JAEGER_PASSWORD comes from haproxy-credentials/ui-jaeger-password, which is not rendered"),
        (label, "ui_grafana reaches grafana:3000, no Service port in monitoring"),
        (label, "ui_jaeger reaches jaeger:16687, no Service port in monitoring"),
        (label, "ui_kibana reaches kibana-http:5601, no Service port in monitoring"),
    ]


def test_a_stack_can_leave_monitoring_or_its_cluster_wide_parts_out(tmp_path: Path, crds_folder: Path) -> None:
    text = (PROJECT_ROOT / "Pulumi.staging.yaml").read_text()
    off = tmp_path / "off.yaml"
    off.write_text(text + "  teknofest-platform:monitoring:\n    enabled: false\n")
    result = synth("staging", tmp_path / "off", off)
    assert result.findings == []
    assert not [name for name in result.manifests if "-monitoring-" in name or name.endswith("-celery-exporter.yaml")]
    api = result.manifests["deployment-teknofest-staging-api.yaml"]["spec"]["template"]["spec"]["containers"][0]
    assert not [e for e in api["env"] if e["name"].startswith("OTEL_")]
    # A second stack on a cluster that already runs kube-prometheus-stack and ECK.
    shared = tmp_path / "shared.yaml"
    shared.write_text(
        text + "  teknofest-platform:monitoring:\n    installStack: false\n"
        "    elasticsearch:\n      installOperator: false\n"
    )
    result = synth("staging", tmp_path / "shared", shared)
    assert result.findings == []
    plan = json.loads((result.out / "plan.json").read_text())
    assert not [e for e in plan if e["type"] == "kubernetes:helm.sh/v3:Release" and "monitoring" in (e["parent"] or "")]
    assert "elasticsearch-monitoring-elasticsearch.yaml" in result.manifests


def test_panels_and_rules_reading_unexported_metrics_are_findings(rendered: dict[str, SynthResult]) -> None:
    """The panel->metric and rule->metric cross-checks, over the rendered objects the synth validates."""
    manifests = copy.deepcopy(rendered["production"].manifests)
    exposed = exposed_metrics(monitored_platform(stack_settings("production")))
    assert metric_findings(manifests, exposed) == []
    board_file = "configmap-monitoring-dashboard-teknofest-redis.yaml"
    (key,) = manifests[board_file]["data"]
    board = json.loads(manifests[board_file]["data"][key])
    board["panels"][0]["targets"][0]["expr"] = "rate(redis_keyspace_hit_total[5m])"
    manifests[board_file]["data"][key] = json.dumps(board)
    rule_file = "prometheusrule-teknofest-production-platform-alerts.yaml"
    manifests[rule_file]["spec"]["groups"][0]["rules"][0]["expr"] = "sum(rate(haproxy_backend_http_request_total[5m]))"
    assert sorted(f.message for f in metric_findings(manifests, exposed)) == [
        "panel 'Hit rate' reads redis_keyspace_hit_total, which no deployed exporter exposes",
        "rule teknofest:api_error_ratio:rate5m reads haproxy_backend_http_request_total, "
        "which no deployed exporter exposes",
    ]


def test_each_helm_release_is_written_for_review(rendered: dict[str, SynthResult]) -> None:
    helm = rendered["production"].out / "helm"
    releases = {path.name: yaml.safe_load(path.read_text()) for path in helm.glob("*.yaml")}
    assert {name: (r["chart"], r["version"]) for name, r in releases.items()} == {
        "monitoring-kube-prometheus-stack.yaml": ("kube-prometheus-stack", "88.5.3"),
        "monitoring-eck-operator.yaml": ("eck-operator", "3.5.0"),
        "postgres-cloudnative-pg.yaml": ("cloudnative-pg", "0.29.0"),
        "postgres-plugin-barman-cloud.yaml": ("plugin-barman-cloud", "0.7.0"),
        "cluster-addons-keda.yaml": ("keda", "2.20.2"),
        "cluster-addons-cert-manager.yaml": ("cert-manager", "v1.21.1"),
        "cluster-addons-vertical-pod-autoscaler.yaml": ("vertical-pod-autoscaler", "0.11.0"),
    }
    stack = releases["monitoring-kube-prometheus-stack.yaml"]
    assert stack["repository"] == "https://prometheus-community.github.io/helm-charts"
    assert stack["values"]["prometheus"]["prometheusSpec"]["replicas"] == 2


def test_pods_pass_the_pod_security_their_namespaces_enforce_and_ours_pass_restricted(
    rendered: dict[str, SynthResult],
) -> None:
    manifests = copy.deepcopy(rendered["production"].manifests)
    assert pod_security_findings(manifests) == []
    # The monitoring namespace enforces "privileged" for the shipper and node-exporter, yet our own
    # servers there meet "restricted"; its "baseline" warning names the shipper's host paths only.
    monitoring_pods = {
        name: pod_template(m)
        for name, m in manifests.items()
        if m["metadata"].get("namespace") == "monitoring" and pod_template(m) is not None
    }
    assert len(monitoring_pods) == 6  # Loki, Jaeger, gateway, shipper, exporter, retention job
    restricted = {name: violations(pod, "restricted") for name, pod in monitoring_pods.items() if pod}
    assert {name for name, found in restricted.items() if found} == {"daemonset-monitoring-log-shipper.yaml"}
    shipper = monitoring_pods["daemonset-monitoring-log-shipper.yaml"]
    assert shipper is not None
    assert violations(shipper, "baseline") == [
        "volume 'pod-logs' is a hostPath",
        "volume 'checkpoints' is a hostPath",
    ]
    # A pod the API server would refuse fails the synth.
    api = manifests["deployment-teknofest-production-api.yaml"]["spec"]["template"]["spec"]
    api["securityContext"]["runAsUser"] = 0
    api["containers"][0]["securityContext"]["capabilities"] = {"add": ["NET_ADMIN"]}
    api["volumes"].append({"name": "host", "hostPath": {"path": "/"}})
    assert sorted(f.message for f in pod_security_findings(manifests)) == [
        "Pod Security restricted: container 'api' adds ['NET_ADMIN'] (restricted allows NET_BIND_SERVICE only)",
        "Pod Security restricted: container 'api' adds capabilities ['NET_ADMIN']",
        "Pod Security restricted: container 'api' does not drop ALL capabilities",
        "Pod Security restricted: pod runAsUser is 0",
        "Pod Security restricted: volume 'host' is a hostPath",
        "Pod Security restricted: volume 'host' is of type ['hostPath']",
    ]


@pytest.mark.parametrize("stack", KUBERNETES_STACKS)
def test_custom_resources_wait_for_the_release_that_installs_their_crd(
    rendered: dict[str, SynthResult], stack: str
) -> None:
    plan = json.loads((rendered[stack].out / "plan.json").read_text())
    assert ordering_findings(plan) == []
    deps = effective_dependencies(plan)
    installers = crd_installers(plan)
    custom = [
        e for e in plan if (g := api_group(e["type"])) and g in {g for gs in CRD_GROUPS_BY_CHART.values() for g in gs}
    ]
    assert custom, "the stack declares custom resources"
    # This stack installs every operator it uses, so every custom resource has an installer to wait for.
    for entry in custom:
        group = api_group(entry["type"])
        assert installers.get(group or ""), f"{entry['name']}: nothing in the plan installs {group}"
    if stack == "production":
        scaled = "kubernetes:keda.sh/v1alpha1:ScaledObject::teknofest-production/api"
        assert {
            "kubernetes:helm.sh/v3:Release::cluster-addons-keda",
            "kubernetes:apps/v1:Deployment::teknofest-production/api",
        } <= deps[scaled]
        # The Barman Cloud plugin's chart issues certificates: cert-manager first.
        plugin = "kubernetes:helm.sh/v3:Release::postgres-plugin-barman-cloud"
        assert "kubernetes:helm.sh/v3:Release::cluster-addons-cert-manager" in deps[plugin]


def test_add_ons_the_cluster_already_has_are_left_out(tmp_path: Path, crds_folder: Path) -> None:
    text = (PROJECT_ROOT / "Pulumi.staging.yaml").read_text()
    shared = tmp_path / "shared.yaml"
    shared.write_text(
        text + "  teknofest-platform:clusterAddons:\n    keda:\n      install: false\n"
        "    certManager:\n      install: false\n    verticalPodAutoscaler:\n      install: false\n"
    )
    result = synth("staging", tmp_path / "shared", shared)
    assert result.findings == []
    plan = json.loads((result.out / "plan.json").read_text())
    charts = {e["inputs"]["chart"] for e in plan if e["type"] == "kubernetes:helm.sh/v3:Release"}
    assert charts.isdisjoint({"keda", "cert-manager", "vertical-pod-autoscaler"})
    assert "scaledobject-teknofest-staging-api.yaml" in result.manifests


def test_dev_installs_only_the_add_ons_it_uses(rendered: dict[str, SynthResult]) -> None:
    """Dev scales with an HPA and keeps no VPA: neither KEDA nor the VPA, and no KEDA object."""
    plan = json.loads((rendered[DEV_ON_KUBERNETES].out / "plan.json").read_text())
    charts = {e["inputs"]["chart"] for e in plan if e["type"] == "kubernetes:helm.sh/v3:Release"}
    assert "keda" not in charts and "vertical-pod-autoscaler" not in charts
    assert "cert-manager" in charts  # the Barman Cloud plugin needs it
    assert not [
        name
        for name in rendered[DEV_ON_KUBERNETES].manifests
        if name.startswith(("scaledobject-", "triggerauthentication-"))
    ]


def test_every_helm_value_is_a_key_its_chart_knows(rendered: dict[str, SynthResult], charts_folder: Path) -> None:
    for stack in KUBERNETES_STACKS:
        assert rendered[stack].charts_folder == charts_folder
        releases = {p.name: yaml.safe_load(p.read_text()) for p in (rendered[stack].out / "helm").glob("*.yaml")}
        assert helm_values_findings(releases, charts_folder) == []
    # A misspelt key, in the parent chart and in the Grafana subchart, is caught.
    releases = {p.name: yaml.safe_load(p.read_text()) for p in (rendered["production"].out / "helm").glob("*.yaml")}
    stack = releases["monitoring-kube-prometheus-stack.yaml"]["values"]
    stack["prometheus"]["prometheusSpec"]["retentionSise"] = "40GB"
    stack["grafana"]["sidecar"]["dashboard"] = {"enabled": True}
    releases["cluster-addons-cert-manager.yaml"]["values"]["replicaCount"] = "two"
    assert [f.message for f in helm_values_findings(releases, charts_folder)] == [
        "values schema: replicaCount: 'two' is not of type 'number'",
        "grafana.sidecar.dashboard.enabled: no such value in the chart",
        "prometheus.prometheusSpec.retentionSise: no such value in the chart",
    ]


def _talks(stack: str, result: SynthResult) -> list[Talk]:
    return stack_talks(stack_settings(stack), result.manifests)


def _releases(result: SynthResult) -> dict[str, Any]:
    return {p.name: yaml.safe_load(p.read_text()) for p in (result.out / "helm").glob("*.yaml")}


@pytest.mark.parametrize("stack", KUBERNETES_STACKS)
def test_every_pair_that_talks_is_admitted_by_the_network_policies(
    rendered: dict[str, SynthResult], stack: str
) -> None:
    result = rendered[stack]
    talks = _talks(stack, result)
    assert reachability_findings(talks, result.manifests, chart_network_policies(_releases(result))) == []
    servers = {(t.server.name, t.port, t.protocol) for t in talks}
    # The table covers the clustered parts' gossip, and every monitor's targets.
    assert {("redis-sentinel", 26379, "TCP"), ("rabbitmq", 25672, "TCP"), ("postgres", 5432, "TCP")} <= servers
    if stack == "production":
        assert {
            ("alertmanager", 9094, "UDP"),
            ("elasticsearch", 9300, "TCP"),
            ("haproxy-stats", 8404, "TCP"),
        } <= servers


def test_a_missing_rule_is_a_reachability_finding(rendered: dict[str, SynthResult]) -> None:
    result = rendered["production"]
    talks, manifests, releases = _talks("production", result), copy.deepcopy(result.manifests), _releases(result)
    # The Alertmanager replicas' gossip rule, the edge's way to Jaeger, Sentinel's gossip.
    releases["monitoring-kube-prometheus-stack.yaml"]["values"]["alertmanager"]["networkPolicy"][
        "additionalIngress"
    ].pop()
    edge = manifests["networkpolicy-teknofest-production-haproxy.yaml"]["spec"]["egress"]
    edge[:] = [rule for rule in edge if rule["ports"][0]["port"] != 16686]
    sentinel = manifests["networkpolicy-teknofest-production-redis-sentinel.yaml"]["spec"]["ingress"][0]["from"]
    sentinel.pop(0)
    findings = reachability_findings(talks, manifests, chart_network_policies(releases))
    assert sorted((f.manifest, f.message) for f in findings) == [
        (
            "alertmanager -> alertmanager:9094/TCP",
            "no NetworkPolicy lets alertmanager receive (cluster gossip (memberlist))",
        ),
        (
            "alertmanager -> alertmanager:9094/UDP",
            "no NetworkPolicy lets alertmanager receive (cluster gossip probes (memberlist))",
        ),
        ("haproxy -> jaeger:16686/TCP", "no NetworkPolicy lets haproxy send (jaeger UI)"),
        (
            "redis-sentinel -> redis-sentinel:26379/TCP",
            "no NetworkPolicy lets redis-sentinel receive (Sentinels gossip and vote)",
        ),
    ]


def test_a_new_pool_is_a_client_everywhere_at_once(tmp_path: Path, crds_folder: Path) -> None:
    """Clients come from the one table: a pool added in the stack file gets its policies and is
    admitted by the database, Redis and the broker without any other change."""
    text = (PROJECT_ROOT / "Pulumi.staging.yaml").read_text()
    extra = tmp_path / "extra.yaml"
    extra.write_text(
        text + "  teknofest-platform:celery:\n    pools:\n"
        "      default: {queues: [default]}\n      ai: {queues: [ai], gpu: {enabled: true}}\n"
        "      data: {queues: [data]}\n      reports: {queues: [reports]}\n"
        "    routes: {src.tasks.reports.*: reports}\n"
    )
    result = synth("staging", tmp_path / "extra", extra)
    assert result.findings == []
    ns = "teknofest-staging"
    for target in ("postgres", "redis", "rabbitmq"):
        assert f"networkpolicy-{ns}-celery-reports-to-{target}.yaml" in result.manifests
    admitted = result.manifests[f"networkpolicy-{ns}-rabbitmq.yaml"]["spec"]["ingress"][0]["from"]
    assert {"podSelector": {"matchLabels": lbl.selector_labels("celery-reports")}} in admitted


def test_identities_hold_what_their_clients_use_and_nothing_more(
    rendered: dict[str, SynthResult],
) -> None:
    for stack in KUBERNETES_STACKS:
        result = rendered[stack]
        assert grant_findings(stack_settings(stack), result.configs, result.manifests, _releases(result)) == []
