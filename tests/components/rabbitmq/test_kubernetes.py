"""RabbitmqBroker under Pulumi's mock engine, from literal args."""

from __future__ import annotations

import json

from components.rabbitmq.kubernetes import RabbitmqBroker, RabbitmqBrokerArgs
from components.rabbitmq.manifests import RabbitmqSpec
from components.rabbitmq.settings import Rabbitmq
from stacks.mock_engine import SECRET_SIG, SIG_KEY, run_under_mocks, unwrap
from tests.components.conftest import API_CLIENT, NAMESPACE, children_of, object_names


def broker_spec(name: str = "rabbitmq", install_operator: bool = True) -> RabbitmqSpec:
    return RabbitmqSpec(
        settings=Rabbitmq(replicas=3, install_operator=install_operator),
        namespace=NAMESPACE,
        environment="production",
        image="docker.io/library/rabbitmq:4.1.4-management",
        clients=(API_CLIENT,),
        keda_namespace="keda",
        keda_trigger_authentication=True,
        monitoring_namespace="monitoring",
        name=name,
    )


def test_rabbitmq_broker_owns_its_credentials() -> None:
    render = run_under_mocks(lambda: RabbitmqBroker("rabbitmq", RabbitmqBrokerArgs(broker_spec())))
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
    assert any(r.type.endswith(":TriggerAuthentication") for r in children)
    assert sum(r.type.endswith(":RandomPassword") for r in children) == 2
    # The operator's default user administers; the clients' URL carries the application user and vhost.
    default_user = unwrap(secrets["rabbitmq-default-user"].inputs, mask=False)["stringData"]
    assert default_user["username"] == "teknofest-admin"
    url = unwrap(secrets["rabbitmq-client"].inputs, mask=False)["stringData"]["url"]
    assert url == "amqp://teknofest:mock-rabbitmq-password@rabbitmq.shop.svc:5672/teknofest"
    imported = json.loads(unwrap(secrets["rabbitmq-definitions"].inputs, mask=False)["stringData"]["definitions.json"])
    assert {u["name"]: u["tags"] for u in imported["users"]} == {"teknofest-admin": ["administrator"], "teknofest": []}
    assert [(p["user"], p["vhost"]) for p in imported["permissions"]] == [
        ("teknofest-admin", "teknofest"),
        ("teknofest", "teknofest"),
    ]
    (operator,) = [unwrap(r.inputs) for r in children if r.type == "kubernetes:yaml/v2:ConfigFile"]
    assert operator["file"].endswith("/v2.22.3/cluster-operator.yml")


def test_two_brokers_coexist() -> None:
    def program() -> None:
        RabbitmqBroker("events", RabbitmqBrokerArgs(broker_spec("events")))
        RabbitmqBroker("jobs", RabbitmqBrokerArgs(broker_spec("jobs", install_operator=False)))

    render = run_under_mocks(program)
    names = object_names(render)
    assert len(names) == len(set(names))
    auth = next(
        unwrap(r.inputs)
        for r in render.resources
        if r.name == "shop/jobs-keda" and r.type.endswith(":TriggerAuthentication")
    )
    assert auth["spec"]["secretTargetRef"][0]["name"] == "jobs-client"
