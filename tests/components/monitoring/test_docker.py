"""MonitoringContainers (the docker target) from literal args: the rules select what Prometheus
scrapes, and Elasticsearch/Kibana run with the ECK cluster's users, HTTPS and clients."""

from __future__ import annotations

import re
from dataclasses import replace

import pulumi
import pulumi_docker as docker
import pytest
import yaml

from components.common.docker.containers import ContainerSpec
from components.monitoring import elastic
from components.monitoring.alert_rules import rule_groups
from components.monitoring.containers import MonitoringHostArgs, monitoring_containers, prometheus_inputs
from components.monitoring.docker import MonitoringContainers, MonitoringContainersArgs
from components.monitoring.elastic_containers import (
    ADMIN,
    KIBANA_USER,
    hash_secret,
    render_users,
    render_users_roles,
)
from components.monitoring.prometheus_config import PrometheusInputs, ScrapeJob
from components.monitoring.settings import Monitoring
from stacks.mock_engine import SECRET_SIG, SIG_KEY, run_under_mocks, unwrap
from tests.components.conftest import children_of, kinds
from tests.components.monitoring.test_kubernetes import platform

PREFIX = "shop"
WITHOUT_ELASTICSEARCH = Monitoring.model_validate(
    {"elasticsearch": {"enabled": False}, "tracing": {"storage": "badger"}}
)
WITH_ELASTICSEARCH = Monitoring.model_validate({"elasticsearch": {"nodes": 1}, "tracing": {"storage": "elasticsearch"}})
PLATFORM_JOBS = (
    ScrapeJob("api", dns_name="api", port=8000),
    ScrapeJob("haproxy-stats", ("haproxy:8404",)),
    ScrapeJob("redis-metrics", ("redis-exporter:9121",)),
    ScrapeJob("postgres", ("postgres-exporter:9187",)),
    ScrapeJob("rabbitmq", ("rabbitmq:15692",)),
)


def host(monitoring: Monitoring) -> MonitoringHostArgs:
    return MonitoringHostArgs(
        replace(platform(monitoring), kubernetes=False),
        "docker.io/prom/prometheus:v3.7.3",
        "docker.io/prom/alertmanager:v0.28.1",
        "docker.io/grafana/grafana:13.2.0",
        "backend",
        "edge",
        PREFIX,
        "127.0.0.1",
        scrape_jobs=PLATFORM_JOBS,
    )


def specs_of(monitoring: Monitoring) -> dict[str, ContainerSpec]:
    return {s.name.removeprefix(PREFIX + "-"): s for s in monitoring_containers(host(monitoring))}


_SELECTOR = re.compile(r"\{([^}]*)\}")
_LABEL = re.compile(r'(\w+)="([^"]*)"')


def selected(args: MonitoringHostArgs) -> set[tuple[str, str | None]]:
    """(namespace, job) of every selector of every rule that names a namespace."""
    found: set[tuple[str, str | None]] = set()
    for group in rule_groups(args.platform):
        for rule in group["rules"]:
            for selector in _SELECTOR.findall(rule["expr"]):
                labels = dict(_LABEL.findall(selector))
                if "namespace" in labels:
                    found.add((labels["namespace"], labels.get("job")))
    return found


def scraped(inputs: PrometheusInputs) -> set[tuple[str, str | None]]:
    """(namespace, job) of every target, and (namespace, None): a rule without a job."""
    pairs = {(job.namespace or inputs.namespace, job.job) for job in inputs.jobs}
    return pairs | {(namespace, None) for namespace, _ in pairs}


def unmatched(args: MonitoringHostArgs, inputs: PrometheusInputs) -> set[tuple[str, str | None]]:
    return selected(args) - scraped(inputs)


@pytest.mark.parametrize("monitoring", [WITHOUT_ELASTICSEARCH, WITH_ELASTICSEARCH], ids=["loki", "elasticsearch"])
def test_every_rule_selects_labels_some_target_carries(monitoring: Monitoring) -> None:
    """A rule on `up{namespace=...,job=...}` whose target carries other labels never fires, or
    (with absent()) always does: LokiDown fired for good while every job carried the platform's namespace."""
    args = host(monitoring)
    assert unmatched(args, prometheus_inputs(args)) == set()
    assert ("monitoring", "loki") in selected(args)


def test_the_check_catches_a_target_labelled_with_the_wrong_namespace() -> None:
    args = host(WITHOUT_ELASTICSEARCH)
    inputs = prometheus_inputs(args)
    flattened = replace(inputs, jobs=tuple(replace(job, namespace=None) for job in inputs.jobs))
    assert ("monitoring", "loki") in unmatched(args, flattened)


def test_grafana_reaches_every_datasource_by_its_network_alias() -> None:
    grafana = specs_of(WITH_ELASTICSEARCH)["grafana"]
    text = next(u.content for u in grafana.uploads if u.path.endswith("datasources/platform.yaml"))
    sources = {s["name"]: s for s in yaml.safe_load(text)["datasources"]}
    assert {s["url"] for s in sources.values()} == {
        "http://prometheus:9090",
        "http://loki:3100",
        "http://jaeger:16686",
        "https://elasticsearch:9200",
    }
    # The reader's password and the CA from its own 0400 files, never in the provisioning file.
    secure = sources["Elasticsearch"]["secureJsonData"]
    assert secure == {
        "basicAuthPassword": "$__file{/etc/teknofest/secrets/elasticsearch-reader}",
        "tlsCACert": "$__file{/etc/teknofest/secrets/elasticsearch-ca.crt}",
    }
    files = {u.path: u for u in grafana.uploads}
    assert files["/etc/teknofest/secrets/elasticsearch-reader"].mode == 0o400


def test_without_elasticsearch_nothing_of_it_runs() -> None:
    specs = specs_of(WITHOUT_ELASTICSEARCH)
    assert not {"elasticsearch", "kibana", "elasticsearch-exporter", "elasticsearch-retention"} & set(specs)
    assert all("elasticsearch" not in u.path for s in specs.values() for u in s.uploads)


def test_the_file_realm_holds_every_signed_in_user_as_a_hash_with_one_role() -> None:
    p = host(WITH_ELASTICSEARCH).platform
    lines = render_users(p).splitlines()
    assert lines == [
        "platform-writer:@@elasticsearch-writer-hash@@",
        "platform-reader:@@elasticsearch-reader-hash@@",
        "platform-monitor:@@elasticsearch-monitor-hash@@",
        "platform-kibana:@@elasticsearch-kibana-hash@@",
        "platform-admin:@@elasticsearch-admin-hash@@",
    ]
    assert render_users_roles(p).splitlines() == [
        "kibana_system:platform-kibana",
        "platform_monitor:platform-monitor",
        "platform_reader:platform-reader",
        "platform_writer:platform-writer",
        "superuser:platform-admin",
    ]


def test_elasticsearch_serves_https_with_the_eck_roles_on_one_node() -> None:
    specs = specs_of(WITH_ELASTICSEARCH)
    es = specs["elasticsearch"]
    files = {u.path.rsplit("/", 1)[-1]: u for u in es.uploads}
    config = yaml.safe_load(files["elasticsearch.yml"].content)
    assert config["discovery.type"] == "single-node" and config["transport.host"] == "127.0.0.1"
    assert config["xpack.security.http.ssl.enabled"] and config["xpack.security.transport.ssl.enabled"]
    assert yaml.safe_load(files["roles.yml"].content) == elastic.roles(host(WITH_ELASTICSEARCH).platform)
    assert files["users"].is_secret and files["elasticsearch-tls-key"].mode == 0o400
    # Every file the start-up script installs is uploaded.
    script = files["start-elasticsearch.sh"].content
    for path in re.findall(r"/etc/teknofest/\S+", script):
        assert any(u.path == path for u in es.uploads), path
    assert dict(es.env)["ES_JAVA_OPTS"] == "-Xms2048m -Xmx2048m"
    assert es.image == "docker.elastic.co/elasticsearch/elasticsearch:8.19.3"
    assert not es.ports, "Elasticsearch is reached on the internal network only"


def test_every_client_gets_the_ca_and_its_own_users_password_only() -> None:
    specs = specs_of(WITH_ELASTICSEARCH)
    expected = {
        "log-shipper": elastic.WRITER,
        "jaeger": elastic.WRITER,
        "elasticsearch-retention": elastic.WRITER,
        "grafana": elastic.READER,
        "elasticsearch-exporter": elastic.MONITOR,
    }
    user_files = {f"/etc/teknofest/secrets/{u.secret_name}" for u in (*elastic.USERS, KIBANA_USER, ADMIN)}
    for name, user in expected.items():
        paths = {u.path for u in specs[name].uploads}
        assert "/etc/teknofest/secrets/elasticsearch-ca.crt" in paths, name
        assert paths & user_files == {f"/etc/teknofest/secrets/{user.secret_name}"}, name
    shipper = yaml.safe_load(next(u.content for u in specs["log-shipper"].uploads if u.path.endswith("config.yaml")))
    assert shipper["exporters"]["elasticsearch"]["endpoints"] == ["https://elasticsearch:9200"]
    assert shipper["exporters"]["elasticsearch"]["tls"]["ca_file"] == "/etc/teknofest/secrets/elasticsearch-ca.crt"
    exporter = specs["elasticsearch-exporter"]
    assert dict(exporter.secret_env) == {"ES_PASSWORD": "/etc/teknofest/secrets/elasticsearch-monitor"}
    assert "--web.listen-address=:9114" in exporter.command


def test_kibana_signs_in_as_kibana_system_and_keeps_its_keys_in_a_secret_file() -> None:
    kibana = specs_of(WITH_ELASTICSEARCH)["kibana"]
    config = next(u for u in kibana.uploads if u.path.endswith("kibana.yml"))
    assert config.is_secret and config.mode == 0o400
    values = yaml.safe_load(config.content)
    assert values["elasticsearch.username"] == "platform-kibana"
    assert values["elasticsearch.hosts"] == ["https://elasticsearch:9200"]
    assert values["server.ssl.enabled"] is True
    for key in ("xpack.encryptedSavedObjects.encryptionKey", "xpack.security.encryptionKey", "elasticsearch.password"):
        assert values[key].startswith("@@"), key
    assert [(p.internal, p.external, p.ip) for p in kibana.ports] == [(5601, 5601, "127.0.0.1")]
    assert kibana.after == ("shop-elasticsearch",)


def test_the_component_generates_hashes_keys_and_certificates_as_secrets() -> None:
    def program() -> None:
        nets = {name: docker.Network(name, name=name) for name in ("backend", "edge")}
        MonitoringContainers(
            "monitoring",
            MonitoringContainersArgs(host(WITH_ELASTICSEARCH), nets, pulumi.Output.secret("amqp://x")),
        )

    render = run_under_mocks(program)
    children = children_of(render, "teknofest:platform:MonitoringContainers")
    by_kind = kinds(children)
    # Grafana's admin, five Elasticsearch users, Kibana's three keys and the files digests' key.
    assert by_kind.count("RandomPassword") == 10
    assert by_kind.count("PrivateKey") == 3 and by_kind.count("LocallySignedCert") == 2
    requests = {r.name: unwrap(r.inputs)["dnsNames"] for r in children if r.type == "tls:index/certRequest:CertRequest"}
    assert requests == {
        "monitoring-elastic-elasticsearch-request": ["elasticsearch", "localhost"],
        "monitoring-elastic-kibana-request": ["kibana", "localhost"],
    }
    containers = {r.name: r for r in children if r.type == "docker:index/container:Container"}
    uploads = containers["shop-elasticsearch-files"].inputs["uploads"]
    assert uploads[SIG_KEY] == SECRET_SIG, "the uploads carry secrets: the whole list is one"
    es_files = {u["file"]: u for u in unwrap(uploads, mask=False)}
    users = es_files["/etc/teknofest/secrets/users"]["content"]
    # The hashes are filled in from the random provider's bcrypt_hash.
    assert users.splitlines()[0] == "platform-writer:$2a$10$mock-hash-of-monitoring-elasticsearch-writer"
    assert hash_secret(elastic.WRITER) == "elasticsearch-writer-hash"
