"""The grants check: identities hold what their rendered clients use, and nothing more."""

from __future__ import annotations

from typing import Any

from stacks.grants_check import IndexUse, basic_auth_findings, elasticsearch_grant_findings, postgres_grant_findings
from stacks.kubernetes_specs import rabbitmq_spec, redis_spec
from stacks.settings import PlatformSettings

USES = [
    IndexUse("log-shipper", "platform-writer", "platform-logs-2026.12.02"),
    IndexUse("jaeger", "platform-writer", "jaeger-jaeger-span-2026-12-02"),
    IndexUse("elasticsearch-retention", "platform-writer", "platform-logs-*"),
    IndexUse("elasticsearch-retention", "platform-writer", "jaeger-*"),
    IndexUse("elasticsearch-exporter", "platform-monitor", "*"),
    IndexUse("grafana", "platform-reader", "platform-logs-*"),
]


def test_uses_within_their_rows_pass(production_settings: PlatformSettings) -> None:
    assert elasticsearch_grant_findings(production_settings, USES) == []


def test_an_index_outside_the_grant_and_a_grant_nobody_uses_are_findings(production_settings: PlatformSettings) -> None:
    # What the roles granted before: logs-* while the shipper wrote platform-logs-YYYY.MM.DD.
    uses = [u for u in USES if u.client != "log-shipper"] + [
        IndexUse("log-shipper", "platform-writer", "logs-2026.12.02")
    ]
    assert [f.message for f in elasticsearch_grant_findings(production_settings, uses)] == [
        "log-shipper uses logs-2026.12.02, which its grants ['platform-logs-*'] do not cover",
        "grants log-shipper platform-logs-*, which it never reads or writes",
    ]


def test_the_wrong_user_and_an_unknown_user_are_findings(production_settings: PlatformSettings) -> None:
    uses = [*USES, IndexUse("grafana", "platform-writer", "platform-logs-*"), IndexUse("kibana", "elastic", "*")]
    messages = [f.message for f in elasticsearch_grant_findings(production_settings, uses)]
    assert messages == [
        "grafana uses it, but no access row grants grafana anything",
        "kibana signs in as a user the program does not create",
    ]


def test_a_row_without_a_client_is_a_finding(production_settings: PlatformSettings) -> None:
    uses = [u for u in USES if u.client != "jaeger"]
    assert [f.message for f in elasticsearch_grant_findings(production_settings, uses)] == [
        "grants jaeger access that no rendered client of that name uses"
    ]


def test_the_database_role_is_no_superuser() -> None:
    cluster: dict[str, Any] = {
        "kind": "Cluster",
        "apiVersion": "postgresql.cnpg.io/v1",
        "spec": {"enableSuperuserAccess": False, "bootstrap": {"initdb": {"owner": "app", "database": "app"}}},
    }
    assert postgres_grant_findings({"c": cluster}) == []
    cluster["spec"] |= {"enableSuperuserAccess": True, "managed": {"roles": [{"name": "admin", "superuser": True}]}}
    assert [f.message for f in postgres_grant_findings({"c": cluster})] == [
        "the superuser is reachable (enableSuperuserAccess)",
        "managed roles beyond the application's owner role",
    ]


def test_each_basic_auth_user_opens_its_own_ui_only() -> None:
    good = (
        "userlist ui_a\n    user admin insecure-password x\n"
        "frontend f\n    http-request auth if host_ui_a !{ http_auth(ui_a) }\n"
    )
    assert basic_auth_findings({"load_balancer/haproxy.cfg": good}) == []
    shared = good + "    http-request auth if host_ui_b !{ http_auth(ui_a) }\n"
    assert [f.message for f in basic_auth_findings({"load_balancer/haproxy.cfg": shared})] == [
        "used by ['http-request auth if host_ui_a !{ http_auth(ui_a) }', "
        "'http-request auth if host_ui_b !{ http_auth(ui_a) }']; only its own host may ask for it"
    ]


def test_the_broker_administrator_reaches_no_pod(production_settings: PlatformSettings) -> None:
    from components.rabbitmq.manifests import rabbitmq_manifests
    from stacks.grants_check import rabbitmq_grant_findings

    manifests = {f"m{i}": m for i, m in enumerate(rabbitmq_manifests(rabbitmq_spec(production_settings, ())))}
    assert rabbitmq_grant_findings(manifests) == []
    leaky = {
        "kind": "Deployment",
        "metadata": {"name": "debug"},
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {
                            "name": "c",
                            "env": [
                                {
                                    "name": "U",
                                    "valueFrom": {"secretKeyRef": {"name": "rabbitmq-default-user", "key": "x"}},
                                }
                            ],
                        }
                    ]
                }
            }
        },
    }
    cluster = next(m for m in manifests.values() if m["kind"] == "RabbitmqCluster")
    cluster["spec"]["rabbitmq"]["additionalConfig"] = "default_queue_type = quorum\n"
    assert [(f.manifest, f.message) for f in rabbitmq_grant_findings({**manifests, "debug": leaky})] == [
        ("rabbitmq user teknofest-admin", "debug reads the administrator's Secret"),
        ("rabbitmq user teknofest", "the broker does not import the rendered definitions"),
    ]


def test_redis_users_are_checked_as_the_start_up_script_writes_them(production_settings: PlatformSettings) -> None:
    from components.redis.manifests import config_files
    from stacks.grants_check import redis_grant_findings

    script = config_files(redis_spec(production_settings, ()))["redis-start.sh"]
    assert redis_grant_findings({"redis/redis-start.sh": script}, {}) == []
    loose = script.replace('echo "user default off"', 'echo "user default on nopass +@all"').replace(
        "+ping +info +role", "~* +@all +ping +info +role"
    )
    api = {
        "kind": "Deployment",
        "metadata": {"name": "api"},
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {"env": [{"name": "P", "valueFrom": {"secretKeyRef": {"name": "redis-auth", "key": "k"}}}]}
                    ]
                }
            }
        },
    }
    assert [f.manifest for f in redis_grant_findings({"redis/redis-start.sh": loose}, {"api": api})] == [
        "redis default user",
        "redis user monitor",
        "redis users",
    ]
