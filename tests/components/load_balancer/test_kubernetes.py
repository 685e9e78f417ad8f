"""LoadBalancer under Pulumi's mock engine, from literal args."""

from __future__ import annotations

from typing import Any

from components.load_balancer.kubernetes import CertManagerRef, LoadBalancer, LoadBalancerArgs
from components.load_balancer.manifests import LoadBalancerSpec, PublicRoute
from components.load_balancer.settings import LoadBalancer as LoadBalancerSettings
from stacks.mock_engine import SECRET_SIG, SIG_KEY, run_under_mocks, unwrap
from tests.components.conftest import NAMESPACE, children_of, kinds, object_names

JAEGER = PublicRoute(
    key="jaeger",
    host="jaeger.example.org",
    namespace="monitoring",
    service="jaeger",
    service_port=16686,
    pod_selector={"app.kubernetes.io/name": "jaeger"},
    pod_port=16686,
    needs_auth=True,
)


def lb_spec(name: str = "haproxy", routes: tuple[PublicRoute, ...] = (JAEGER,)) -> LoadBalancerSpec:
    return LoadBalancerSpec(
        settings=LoadBalancerSettings(replicas=2),
        namespace=NAMESPACE,
        environment="production",
        image="docker.io/library/haproxy:2.6.22",
        cluster_domain="cluster.local",
        api_headless_service="api-headless",
        api_port=8000,
        api_max_servers=20,
        api_ready_path="/health/ready",
        api_selector={"app.kubernetes.io/name": "api"},
        public_host="api.example.org",
        tls_secret_name="api-tls",
        monitoring_namespace="monitoring",
        require_distinct_nodes=True,
        ui_routes=routes,
        name=name,
    )


def test_load_balancer_generates_its_credentials_as_secrets() -> None:
    args = LoadBalancerArgs(lb_spec(), CertManagerRef("ClusterIssuer", "le"))
    render = run_under_mocks(lambda: LoadBalancer("haproxy", args))
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
    # Jaeger has no login of its own: its basic-auth password is generated here too.
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
    assert certificate["spec"]["dnsNames"] == ["api.example.org", "jaeger.example.org"]


def test_without_cert_manager_an_existing_secret_is_expected() -> None:
    render = run_under_mocks(lambda: LoadBalancer("haproxy", LoadBalancerArgs(lb_spec(routes=()))))
    assert not any(r.type.endswith(":Certificate") for r in render.resources)
    sts = next(unwrap(r.inputs) for r in render.resources if r.type.endswith(":StatefulSet"))
    volumes = {v["name"]: v for v in sts["spec"]["template"]["spec"]["volumes"]}
    assert volumes["tls"]["secret"]["secretName"] == "api-tls"


def test_two_load_balancers_coexist() -> None:
    def program() -> None:
        LoadBalancer("public", LoadBalancerArgs(lb_spec("public")))
        LoadBalancer("partners", LoadBalancerArgs(lb_spec("partners", routes=())))

    render = run_under_mocks(program)
    names = object_names(render)
    assert len(names) == len(set(names))
    sts = next(
        unwrap(r.inputs) for r in render.resources if r.name == "shop/partners" and r.type.endswith("StatefulSet")
    )
    assert sts["spec"]["serviceName"] == "partners-peers"
