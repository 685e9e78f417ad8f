"""Settings: the guide's numbers as defaults, per-environment shapes, and one clear error per bad value."""

from __future__ import annotations

from typing import Any

import pytest

from stacks.config_source import decode_config_value, load_settings, project_config
from stacks.errors import SettingsError
from stacks.policy import environment_warnings
from stacks.settings import PlatformSettings

PRODUCTION_MINIMUM: dict[str, Any] = {"backups": {"destinationPath": "s3://teknofest-backups/production"}}


def production(**overrides: Any) -> PlatformSettings:
    return load_settings({**PRODUCTION_MINIMUM, **overrides}, "production", "Pulumi.production.yaml")


def problems_of(config: dict[str, Any], stack: str = "production") -> list[str]:
    with pytest.raises(SettingsError) as caught:
        load_settings(
            {**PRODUCTION_MINIMUM, **config} if stack == "production" else config, stack, f"Pulumi.{stack}.yaml"
        )
    return [p.render() for p in caught.value.problems]


def test_production_defaults_are_the_guides_numbers() -> None:
    s = production()
    api = s.api
    assert (api.min_replicas, api.max_replicas) == (2, 20)
    assert (api.autoscaling.cpu_utilization, api.autoscaling.memory_utilization) == (70, 80)
    assert api.autoscaling.http_requests_per_second == 100
    up, down = api.autoscaling.scale_up, api.autoscaling.scale_down
    assert (up.percent, up.period_seconds, up.stabilization_window_seconds) == (100, 30, 60)
    assert (down.percent, down.period_seconds, down.stabilization_window_seconds) == (50, 60, 300)
    pools = s.celery.pools
    assert {name: (p.min_replicas, p.max_replicas) for name, p in pools.items()} == {
        "default": (2, 10),
        "ai": (2, 4),
        "data": (2, 10),
    }
    assert pools["ai"].gpu.enabled and not pools["default"].gpu.enabled
    assert s.load_balancer.rate_limit.requests_per_second == 100
    assert s.load_balancer.replicas >= 2
    assert (api.probes.live_path, api.probes.ready_path, api.probes.startup_path) == (
        "/health/live",
        "/health/ready",
        "/health/startup",
    )


def test_each_environment_has_its_own_shape() -> None:
    dev = load_settings({}, "dev", "Pulumi.dev.yaml")
    staging = load_settings({}, "staging", "Pulumi.staging.yaml")
    assert dev.namespace == "teknofest-dev" and staging.namespace == "teknofest-staging"
    assert dev.load_balancer.replicas == 1 and not dev.tls.enabled
    assert dev.api.autoscaling.engine == "hpa"
    assert not dev.celery.pools["ai"].gpu.enabled
    assert staging.tls.enabled and staging.api.max_replicas == 6
    # The security posture does not shrink with the environment.
    assert dev.network_policies and staging.network_policies


def test_overriding_one_pool_keeps_the_others() -> None:
    s = production(celery={"pools": {"ai": {"maxReplicas": 6}}})
    assert s.celery.pools["ai"].max_replicas == 6
    assert s.celery.pools["ai"].gpu.enabled
    assert set(s.celery.pools) == {"default", "ai", "data"}


def test_structured_values_arrive_as_json_text() -> None:
    raw = {"teknofest-platform:api": '{"minReplicas": 3}', "teknofest-platform:namespace": "ns-a", "aws:region": "x"}
    config = project_config(raw)
    assert config == {"api": {"minReplicas": 3}, "namespace": "ns-a"}
    assert decode_config_value("[1, 2]") == [1, 2]
    assert decode_config_value("{not json") == "{not json"


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        (
            {"api": {"minReplicas": 30}},
            "teknofest-platform:api.minReplicas = 30: minReplicas (30) must not exceed maxReplicas (20)",
        ),
        (
            {"api": {"maxReplica": 3}},
            "teknofest-platform:api.maxReplica = 3: unknown setting; allowed here: appModule,",
        ),
        (
            {"images": {"api": "ghcr.io/teknofest/api:latest"}},
            "images.api = 'ghcr.io/teknofest/api:latest': must not use the tag 'latest'",
        ),
        (
            {"images": {"api": "ghcr.io/teknofest/api"}},
            "images.api = 'ghcr.io/teknofest/api': must pin a tag or a digest",
        ),
        ({"images": {"haproxy": "Not An Image"}}, "images.haproxy = 'Not An Image': must be an image reference"),
        (
            {"api": {"autoscaling": {"cpuUtilization": 130}}},
            "api.autoscaling.cpuUtilization = 130: Input should be less than or equal to 100",
        ),
        (
            {"api": {"autoscaling": {"engine": "cron"}}},
            "api.autoscaling.engine = 'cron': Input should be 'keda' or 'hpa'",
        ),
        (
            {
                "api": {
                    "autoscaling": {
                        "scaleDown": {"percent": 150, "periodSeconds": 60, "stabilizationWindowSeconds": 300}
                    }
                }
            },
            "api.autoscaling.scaleDown",
        ),
        ({"tls": {"enabled": False}}, "tls.enabled = false: must be true in production"),
        ({"backups": {}}, "backups.destinationPath = <missing>: production needs a backup destination"),
        ({"loadBalancer": {"replicas": 1}}, "loadBalancer.replicas = 1: must be at least 2 in production"),
        ({"postgres": {"poolerInstances": 1}}, "postgres.poolerInstances = 1: must be at least 2 in production"),
        (
            {"loadBalancer": {"serviceType": "Ingress"}},
            "loadBalancer.serviceType = 'Ingress': Input should be 'LoadBalancer', 'NodePort' or 'ClusterIP'",
        ),
        ({"loadBalancer": {"loadBalancerSourceRanges": ["10.0.0.300/8"]}}, "loadBalancer.loadBalancerSourceRanges.0"),
        ({"api": {"env": {"DB_PASSWORD": "hunter2"}}}, "looks like a credential"),
        (
            {
                "api": {
                    "resources": {"requests": {"cpu": "4", "memory": "1Gi"}, "limits": {"cpu": "2", "memory": "2Gi"}}
                }
            },
            "requests.cpu 4 exceeds limits.cpu 2",
        ),
        (
            {
                "api": {
                    "resources": {"requests": {"cpu": "lots", "memory": "1Gi"}, "limits": {"cpu": "2", "memory": "2Gi"}}
                }
            },
            "api.resources.requests.cpu = 'lots'",
        ),
        ({"rabbitmq": {"replicas": 4}}, "rabbitmq.replicas = 4: must be odd"),
        ({"redis": {"quorum": 4}}, "redis.quorum = 4: quorum (4) must not exceed sentinels (3)"),
        ({"namespace": "Teknofest_Prod"}, "namespace = 'Teknofest_Prod': must be a DNS-1123 label"),
        ({"target": "nomad"}, "target = 'nomad': Input should be 'kubernetes', 'docker' or 'swarm'"),
        (
            {"target": "swarm", "swarm": {"publishMode": "routing-mesh"}},
            "swarm.publishMode = 'routing-mesh': Input should be 'host' or 'ingress'",
        ),
        (
            {"target": "swarm", "swarm": {"colocateMembers": True}},
            "swarm.colocateMembers = true: must be false in production",
        ),
        (
            {"target": "swarm", "backups": {"destinationPath": None}},
            "backups.destinationPath = <missing>: the swarm target needs 's3://bucket/path'",
        ),
        ({"target": "swarm"}, "swarm.registry = <missing>: the PostgreSQL image is built on the manager"),
        # Single-host production keeps production's rules: TLS needs a certificate to serve.
        ({"target": "docker"}, "docker.tlsCertificatePem = <missing>: tls.enabled needs the PEM"),
        (
            {"target": "docker", "backups": {"destinationPath": "gs://bucket/x"}},
            "backups.destinationPath = gs://bucket/x: the docker target's pgBackRest writes to 's3://bucket/path'",
        ),
        (
            {"target": "docker", "backups": {"schedule": "0 0 2 * * 1"}},
            "backups.schedule = 0 0 2 * * 1: the docker target takes a daily time",
        ),
        ({"docker": {"publishAddress": "localhost"}}, "docker.publishAddress = 'localhost': must be an IP address"),
        (
            {"target": "docker", "monitoring": {"elasticsearch": {"nodes": 3}}},
            "monitoring.elasticsearch.nodes = 3: the docker and swarm targets run one Elasticsearch node",
        ),
        (
            {"backups": {"destinationPath": "s3://b/p", "schedule": "0 2 * * *"}},
            "backups.schedule = '0 2 * * *': must be a six-field cron",
        ),
        ({"kubernetes": {"version": "1.12"}}, "kubernetes.version = '1.12'"),
        (
            {"monitoring": {"elasticsearch": {"enabled": False}}},
            "tracing.storage is 'elasticsearch' but elasticsearch.enabled is false: "
            "enable Elasticsearch or set tracing.storage to 'badger'",
        ),
        ({"monitoring": {"elasticsearch": {"nodes": 2}}}, "monitoring.elasticsearch.nodes = 2: must be odd"),
        (
            {"monitoring": {"prometheus": {"replicas": 1}}},
            "monitoring.prometheus.replicas = 1: must be at least 2 in production",
        ),
        ({"monitoring": {"enabled": False}}, "monitoring.enabled = false: must be true in production"),
        ({"monitoring": {"loki": {"retention": "31 days"}}}, "monitoring.loki.retention = '31 days'"),
        ({"monitoring": {"loki": {"retention": "36h"}}}, "monitoring.loki.retention = '36h'"),
        (
            {"monitoring": {"tracing": {"storage": "cassandra"}}},
            "monitoring.tracing.storage = 'cassandra': Input should be 'elasticsearch' or 'badger'",
        ),
        ({"monitoring": {"access": {"grafana": {"host": "Grafana!"}}}}, "monitoring.access.grafana.host = 'Grafana!'"),
        (
            {"monitoring": {"prometheusReplicas": 2}},
            "monitoring.prometheusReplicas = 2: unknown setting; allowed here: access, alerting, alertmanager",
        ),
    ],
)
def test_bad_values_name_the_key_the_value_and_what_is_allowed(config: dict[str, Any], expected: str) -> None:
    rendered = "\n".join(problems_of(config))
    assert expected in rendered


def test_every_problem_is_reported_at_once() -> None:
    problems = problems_of({"tls": {"enabled": False}, "backups": {}, "api": {"minReplicas": 1}})
    assert len(problems) == 3


def test_unknown_environment_from_the_stack_name_says_how_to_fix_it() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({}, "prod-eu", "Pulumi.prod-eu.yaml")
    message = str(caught.value)
    assert "teknofest-platform:environment = 'prod-eu': must be one of dev, staging, production" in message
    assert "set it explicitly" in message
    # A custom stack name works once the environment is set.
    s = load_settings({"environment": "staging"}, "staging-eu", "Pulumi.staging-eu.yaml")
    assert s.environment == "staging"


def test_secret_values_are_never_echoed() -> None:
    with pytest.raises(SettingsError) as caught:
        production(
            backups={
                "destinationPath": "s3://b/p",
                "credentials": {"accessKeyId": 12345678, "secretAccessKey": "s3cr3t-value"},
            }
        )
    message = str(caught.value)
    assert "backups.credentials.accessKeyId = <secret>" in message
    assert "12345678" not in message and "s3cr3t-value" not in message


def test_credentials_are_secret_strings() -> None:
    s = production(
        backups={
            "destinationPath": "s3://b/p",
            "credentials": {"accessKeyId": "AKIA", "secretAccessKey": "very-secret"},
        }
    )
    assert s.backups.credentials is not None
    assert "very-secret" not in repr(s)
    assert s.backups.credentials.secret_access_key.get_secret_value() == "very-secret"


def test_image_references_with_registry_port_and_digest_are_accepted() -> None:
    digest = "sha256:" + "a" * 64
    s = production(images={"api": f"registry.internal:5000/team/api@{digest}", "haproxy": "haproxy:2.6.22"})
    assert s.images.api.endswith(digest)
    assert s.worker_image == s.images.api


def test_a_ui_published_without_tls_is_warned_about() -> None:
    settings = load_settings(
        {"monitoring": {"access": {"prometheus": {"host": "prometheus.dev.localhost"}}}}, "dev", "Pulumi.dev.yaml"
    )
    warnings = environment_warnings(settings)
    assert any(w.startswith("teknofest-platform:monitoring.access.prometheus.host = prometheus.dev") for w in warnings)
    assert not [w for w in environment_warnings(production()) if "monitoring.access" in w]


def test_a_credential_in_plain_text_is_refused_with_the_command_that_makes_it_a_secret() -> None:
    config = {**PRODUCTION_MINIMUM, "monitoring": {"alerting": {"slackWebhookUrl": "https://hooks.example/T/B/x"}}}
    with pytest.raises(SettingsError) as caught:
        load_settings(config, "production", "Pulumi.production.yaml", secret_keys=[])
    rendered = [p.render() for p in caught.value.problems]
    assert rendered == [
        "teknofest-platform:monitoring.alerting.slackWebhookUrl = <plain text, not shown>: a credential must be a "
        "Pulumi secret: `pulumi config set --secret --path monitoring.alerting.slackWebhookUrl <value>`"
    ]
    assert "hooks.example" not in str(caught.value)
    # Held as a secret (`pulumi config set --secret`), it is accepted.
    settings = load_settings(config, "production", "Pulumi.production.yaml", ["teknofest-platform:monitoring"])
    assert settings.monitoring.alerting.slack_webhook_url is not None
