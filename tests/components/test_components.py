"""Each ComponentResource under Pulumi's mock engine: what it registers, under which parent."""

from __future__ import annotations

import json
from typing import Any

from components.load_balancer.kubernetes import CertManagerRef, LoadBalancer, LoadBalancerArgs
from components.monitoring.kubernetes import MonitoringStack, MonitoringStackArgs
from components.namespace.kubernetes import PlatformNamespace, PlatformNamespaceArgs
from components.postgres.kubernetes import PostgresCluster, PostgresClusterArgs
from components.rabbitmq.kubernetes import RabbitmqBroker, RabbitmqBrokerArgs
from components.redis.kubernetes import RedisCluster, RedisClusterArgs
from components.worker_pool.kubernetes import WorkerPool, WorkerPoolArgs
from stacks.kubernetes_specs import load_balancer_spec, platform_specs, postgres_spec, redis_spec
from stacks.mock_engine import SECRET_SIG, SIG_KEY, RegisteredResource, StackRender, run_under_mocks, unwrap
from stacks.monitored import monitored_platform
from stacks.pools import api_pool_spec
from stacks.settings import PlatformSettings


def children_of(render: StackRender, component_type: str) -> list[RegisteredResource]:
    (component,) = [r for r in render.resources if r.type == component_type]
    return [r for r in render.resources if r.parent_urn == component.urn]


def kinds(resources: list[RegisteredResource]) -> list[str]:
    return sorted(r.type.split(":")[-1] for r in resources)


def test_worker_pool_registers_its_objects_as_children(production_settings: PlatformSettings) -> None:
    spec = api_pool_spec(production_settings)
    render = run_under_mocks(lambda: WorkerPool("api", WorkerPoolArgs(spec)))
    children = children_of(render, "teknofest:platform:WorkerPool")
    assert kinds(children) == [
        "Deployment",
        "NetworkPolicy",
        "PodDisruptionBudget",
        "ScaledObject",
        "Service",
        "Service",
        "ServiceAccount",
        "ServiceMonitor",
        "VerticalPodAutoscaler",
    ]
    # Every registered object is a child: nothing escapes the component.
    assert len(render.resources) == len(children) + 1
    deployment = next(unwrap(r.inputs) for r in children if r.type == "kubernetes:apps/v1:Deployment")
    assert deployment["metadata"] == {
        "name": "api",
        "namespace": "teknofest-production",
        "labels": spec.labels,
    }
    # Integers arrive as doubles over RPC; unwrap gives them back as integers.
    port = deployment["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"]
    assert port == 8000 and isinstance(port, int)


def test_load_balancer_generates_its_credentials_as_secrets(production_settings: PlatformSettings) -> None:
    spec = load_balancer_spec(production_settings, api_pool_spec(production_settings))
    render = run_under_mocks(lambda: LoadBalancer("lb", LoadBalancerArgs(spec, CertManagerRef("ClusterIssuer", "le"))))
    children = children_of(render, "teknofest:platform:LoadBalancer")
    assert kinds(children) == [
        "Certificate",
        "ConfigMap",
        "NetworkPolicy",
        "PodDisruptionBudget",
        "RandomPassword",
        "RandomPassword",
        "RandomPassword",
        "Secret",
        "Service",
        "Service",
        "Service",
        "ServiceAccount",
        "ServiceMonitor",
        "StatefulSet",
    ]
    secret = next(r for r in children if r.type == "kubernetes:core/v1:Secret")
    raw: dict[str, Any] = secret.inputs["stringData"]
    # The whole stringData travels marked secret, so Pulumi encrypts it in state and hides it in diffs.
    assert raw.get(SIG_KEY) == SECRET_SIG
    # Production publishes Jaeger (no login of its own): its basic-auth password is generated here too.
    assert set(unwrap(secret.inputs)["stringData"]) == {
        "stats-user",
        "stats-password",
        "cookie-key",
        "ui-jaeger-password",
    }
    assert set(unwrap(secret.inputs)["stringData"].values()) == {"[secret]"}
    certificate = next(unwrap(r.inputs) for r in children if r.type.endswith(":Certificate"))
    assert certificate["spec"]["secretName"] == "api-tls"
    # One certificate for the API and every published UI: HAProxy serves them all.
    assert certificate["spec"]["dnsNames"] == [
        "api.egitim-eylemci.example.org",
        "grafana.egitim-eylemci.example.org",
        "kibana.egitim-eylemci.example.org",
        "jaeger.egitim-eylemci.example.org",
    ]


def test_load_balancer_without_cert_manager_expects_an_existing_secret(production_settings: PlatformSettings) -> None:
    spec = load_balancer_spec(production_settings, api_pool_spec(production_settings))
    render = run_under_mocks(lambda: LoadBalancer("lb", LoadBalancerArgs(spec)))
    assert not any(r.type.endswith(":Certificate") for r in render.resources)
    sts = next(unwrap(r.inputs) for r in render.resources if r.type.endswith(":StatefulSet"))
    volumes = {v["name"]: v for v in sts["spec"]["template"]["spec"]["volumes"]}
    assert volumes["tls"]["secret"]["secretName"] == "api-tls"


def test_namespace_enforces_restricted_pods_and_denies_traffic_by_default() -> None:
    render = run_under_mocks(lambda: PlatformNamespace("ns", PlatformNamespaceArgs("teknofest-test", "staging")))
    children = children_of(render, "teknofest:platform:Namespace")
    ns = next(unwrap(r.inputs) for r in children if r.type == "kubernetes:core/v1:Namespace")
    assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    policies = {
        unwrap(r.inputs)["metadata"]["name"]: unwrap(r.inputs)["spec"]
        for r in children
        if r.type.endswith(":NetworkPolicy")
    }
    assert policies["default-deny-all"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    assert policies["allow-dns-egress"]["egress"][0]["ports"] == [
        {"port": 53, "protocol": "UDP"},
        {"port": 53, "protocol": "TCP"},
    ]
    off = run_under_mocks(lambda: PlatformNamespace("ns", PlatformNamespaceArgs("t", "dev", network_policies=False)))
    assert not any(r.type.endswith(":NetworkPolicy") for r in off.resources)


def test_redis_cluster_generates_passwords_and_a_client_secret(production_settings: PlatformSettings) -> None:
    api = api_pool_spec(production_settings)
    spec = redis_spec(production_settings, (("api", api.selector),))
    render = run_under_mocks(lambda: RedisCluster("redis", RedisClusterArgs(spec)))
    children = children_of(render, "teknofest:platform:RedisCluster")
    counts: dict[str, int] = {}
    for kind in kinds(children):
        counts[kind] = counts.get(kind, 0) + 1
    assert counts == {
        "ConfigMap": 2,
        "Deployment": 1,
        "NetworkPolicy": 4,
        "PodDisruptionBudget": 3,
        # The four ACL users' (app, replica, sentinel, monitor) and the Sentinels' own.
        "RandomPassword": 5,
        "Secret": 2,
        "Service": 5,
        "ServiceAccount": 1,
        "ServiceMonitor": 1,
        "StatefulSet": 2,
    }
    secrets = {unwrap(r.inputs)["metadata"]["name"]: r for r in children if r.type.endswith(":Secret")}
    assert set(secrets) == {"redis-auth", "redis-client"}
    for secret in secrets.values():
        assert secret.inputs["stringData"].get(SIG_KEY) == SECRET_SIG
    assert set(unwrap(secrets["redis-client"].inputs)["stringData"]) == {
        "url",
        "celery-result-backend",
        "username",
        "password",
        "sentinel-password",
    }
    # Each ACL user's own, and the Sentinels' (which clients get) apart from Redis's sentinel user's.
    assert set(unwrap(secrets["redis-auth"].inputs)["stringData"]) == {
        "redis-password",
        "redis-replica-password",
        "redis-sentinel-password",
        "redis-monitor-password",
        "sentinel-password",
    }


def test_postgres_cluster_installs_pinned_operators_and_generates_the_password(
    production_settings: PlatformSettings,
) -> None:
    spec = postgres_spec(production_settings, (("api", api_pool_spec(production_settings).selector),))
    render = run_under_mocks(lambda: PostgresCluster("postgres", PostgresClusterArgs(spec)))
    children = children_of(render, "teknofest:platform:PostgresCluster")
    releases = {unwrap(r.inputs)["chart"]: unwrap(r.inputs) for r in children if r.type.endswith(":Release")}
    assert {chart: inputs["version"] for chart, inputs in releases.items()} == {
        "cloudnative-pg": "0.29.0",
        "plugin-barman-cloud": "0.7.0",
    }
    assert releases["cloudnative-pg"]["namespace"] == "cnpg-system"
    secrets = {unwrap(r.inputs)["metadata"]["name"]: r for r in children if r.type.endswith(":Secret")}
    assert set(secrets) == {"postgres-app", "postgres-client"}
    for secret in secrets.values():
        assert secret.inputs["stringData"].get(SIG_KEY) == SECRET_SIG
    assert unwrap(secrets["postgres-app"].inputs)["type"] == "kubernetes.io/basic-auth"
    kinds_present = {r.type.split(":")[-1] for r in children}
    assert {"Cluster", "Pooler", "ObjectStore", "ScheduledBackup", "PodMonitor"} <= kinds_present
    without = production_settings.model_copy(
        update={"postgres": production_settings.postgres.model_copy(update={"install_operator": False})}
    )
    render = run_under_mocks(lambda: PostgresCluster("postgres", PostgresClusterArgs(postgres_spec(without, ()))))
    assert not any(r.type.endswith(":Release") for r in render.resources)


def test_rabbitmq_broker_owns_its_credentials(production_settings: PlatformSettings) -> None:
    spec = platform_specs(production_settings).rabbitmq
    render = run_under_mocks(lambda: RabbitmqBroker("rabbitmq", RabbitmqBrokerArgs(spec)))
    children = children_of(render, "teknofest:platform:RabbitmqBroker")
    secrets = {unwrap(r.inputs)["metadata"]["name"]: r for r in children if r.type.endswith(":Secret")}
    assert set(secrets) == {"rabbitmq-default-user", "rabbitmq-client", "rabbitmq-definitions"}
    assert set(unwrap(secrets["rabbitmq-default-user"].inputs)["stringData"]) == {
        "username",
        "password",
        "default_user.conf",
        "host",
        "port",
        "provider",
        "type",
    }
    for secret in secrets.values():
        assert secret.inputs["stringData"].get(SIG_KEY) == SECRET_SIG
    assert any(r.type.endswith(":RabbitmqCluster") for r in children)
    assert sum(r.type.endswith(":RandomPassword") for r in children) == 2
    # The operator's default user administers; the clients' URL carries the application user and vhost.
    default_user = unwrap(secrets["rabbitmq-default-user"].inputs, mask=False)["stringData"]
    assert default_user["username"] == "teknofest-admin"
    url = unwrap(secrets["rabbitmq-client"].inputs, mask=False)["stringData"]["url"]
    assert url == "amqp://teknofest:mock-rabbitmq-password@rabbitmq.teknofest-production.svc:5672/teknofest"
    imported = json.loads(unwrap(secrets["rabbitmq-definitions"].inputs, mask=False)["stringData"]["definitions.json"])
    assert {u["name"]: u["tags"] for u in imported["users"]} == {"teknofest-admin": ["administrator"], "teknofest": []}
    assert [(p["user"], p["vhost"]) for p in imported["permissions"]] == [
        ("teknofest-admin", "teknofest"),
        ("teknofest", "teknofest"),
    ]
    (operator,) = [unwrap(r.inputs) for r in children if r.type == "kubernetes:yaml/v2:ConfigFile"]
    assert operator["file"].endswith("/v2.22.3/cluster-operator.yml")


def test_monitoring_stack_owns_its_children_and_keeps_every_credential_secret(
    production_settings: PlatformSettings,
) -> None:
    args = MonitoringStackArgs(
        monitored_platform(production_settings),
        broker_secret=("rabbitmq-client", "url"),
        trace_clients=(("api", {"app.kubernetes.io/name": "api"}),),
    )
    render = run_under_mocks(lambda: MonitoringStack("monitoring", args))
    children = children_of(render, "teknofest:platform:MonitoringStack")
    assert len(render.resources) == len(children) + 1, "nothing escapes the component"
    by_kind = kinds(children)
    assert by_kind.count("Release") == 2 and by_kind.count("DaemonSet") == 1 and by_kind.count("Ingress") == 0
    # Grafana's admin and three Elasticsearch users: all generated (UI basic auth lives at the edge).
    assert by_kind.count("RandomPassword") == 4
    release = next(
        unwrap(r.inputs) for r in children if r.type.endswith(":Release") and r.name.endswith("kube-prometheus-stack")
    )
    assert release["name"] == "kube-prometheus-stack" and release["version"] == "88.5.3"
    assert release["namespace"] == "monitoring"
    assert release["values"]["grafana"]["admin"]["existingSecret"] == "grafana-admin"
    secrets = [r for r in children if r.type == "kubernetes:core/v1:Secret"]
    with_credentials = {
        r.name.split("/")[-1]
        for r in secrets
        if any(isinstance(v, dict) and v.get(SIG_KEY) == SECRET_SIG for v in r.inputs["stringData"].values())
        or r.inputs["stringData"].get(SIG_KEY) == SECRET_SIG
    }
    assert {
        "grafana-admin",
        "alertmanager-platform",
        "elasticsearch-writer",
        "elasticsearch-reader",
        "elasticsearch-monitor",
    } <= with_credentials
    names = {r.name for r in children}
    assert "teknofest-production/celery-exporter" in names and "teknofest-production/platform-alerts" in names
