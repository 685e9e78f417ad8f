"""The swarm applier's mapping of a Service onto the engine's API, from literal inputs (no engine
needed): IDs mapped to the engine's, durations, reservations, modes, and unmapped fields refused."""

from __future__ import annotations

from typing import Any

import pytest

from tests.engine.applier import PlanError
from tests.engine.swarm_applier import SCHEMA, SERVICE, check_schema, service_request, unmapped_fields

SERVICE_INPUTS: dict[str, Any] = {
    "name": "teknofest-swarm-api",
    "labels": [{"label": "org.teknofest.managed-by", "value": "teknofest-platform"}],
    "taskSpec": {
        "containerSpec": {
            "image": "ghcr.io/teknofest/egitim-eylemci-api:1.3.0",
            "commands": ["/bin/sh", "/etc/teknofest/secret-env.sh"],
            "args": ["gunicorn", "src.app:app"],
            "env": {"PORT": "8000", "APP_ENV": "dev"},
            "user": "10001:10001",
            "readOnly": True,
            "capDrops": ["ALL"],
            "init": True,
            "hostname": "api",
            "stopGracePeriod": "30s",
            "healthcheck": {"tests": ["CMD", "true"], "interval": "10s", "timeout": "5s", "retries": 3},
            "mounts": [{"type": "tmpfs", "target": "/tmp", "tmpfsOptions": {"sizeBytes": 1048576, "mode": 1023}}],
            "configs": [{"configId": "api-conf-id", "configName": "api-conf-1", "fileName": "/etc/x", "fileMode": 292}],
            "secrets": [
                {"secretId": "api-key-id", "secretName": "api-key-1", "fileName": "/etc/k", "fileUid": "10001"}
            ],
        },
        "networksAdvanceds": [{"id": "backend-id", "aliases": ["api"]}],
        "placement": {"constraints": ["node.labels.teknofest.gpu==true"], "maxReplicas": 3},
        "resources": {
            "limits": {"memoryBytes": 1073741824, "nanoCpus": 1000000000},
            "reservation": {
                "memoryBytes": 268435456,
                "nanoCpus": 100000000,
                "genericResources": {"discreteResourcesSpecs": ["NVIDIA-GPU=1"]},
            },
        },
        "restartPolicy": {"condition": "any", "delay": "5s", "maxAttempts": 0, "window": "1m"},
        "logDriver": {"name": "json-file", "options": {"max-size": "10m"}},
    },
    "mode": {"replicated": {"replicas": 2}},
    "updateConfig": {
        "parallelism": 1,
        "delay": "5s",
        "failureAction": "rollback",
        "monitor": "30s",
        "order": "start-first",
    },
    "endpointSpec": {"mode": "dnsrr", "ports": [{"targetPort": 8080, "publishedPort": 80, "publishMode": "host"}]},
    "convergeConfig": {"delay": "5s", "timeout": "10m"},
}
IDS = {"backend-id": "n1", "api-conf-id": "c1", "api-key-id": "s1"}


def test_a_service_is_sent_as_the_provider_sends_it() -> None:
    body = service_request(SERVICE_INPUTS, "teknofest-standin/api:x", IDS)
    task = body["TaskTemplate"]
    container = task["ContainerSpec"]
    assert (container["Image"], container["Command"], container["Args"]) == (
        "teknofest-standin/api:x",
        ["/bin/sh", "/etc/teknofest/secret-env.sh"],
        ["gunicorn", "src.app:app"],
    )
    assert container["Env"] == ["APP_ENV=dev", "PORT=8000"]
    assert (container["Hostname"], container["StopGracePeriod"], container["Init"]) == ("api", 30 * 10**9, True)
    assert container["Configs"] == [
        {
            "File": {"Name": "/etc/x", "UID": "0", "GID": "0", "Mode": 0o444},
            "ConfigID": "c1",
            "ConfigName": "api-conf-1",
        }
    ]
    assert container["Secrets"][0]["SecretID"] == "s1" and container["Secrets"][0]["File"]["UID"] == "10001"
    assert container["Mounts"] == [
        {"Type": "tmpfs", "Target": "/tmp", "ReadOnly": False, "TmpfsOptions": {"SizeBytes": 1048576, "Mode": 0o1777}}
    ]
    assert task["Networks"] == [{"Target": "n1", "Aliases": ["api"]}]
    assert task["Placement"] == {"Constraints": ["node.labels.teknofest.gpu==true"], "MaxReplicas": 3}
    assert task["Resources"]["Reservations"]["GenericResources"] == [
        {"DiscreteResourceSpec": {"Kind": "NVIDIA-GPU", "Value": 1}}
    ]
    assert task["RestartPolicy"] == {"Condition": "any", "Delay": 5 * 10**9, "MaxAttempts": 0, "Window": 60 * 10**9}
    assert body["Mode"] == {"Replicated": {"Replicas": 2}}
    assert body["UpdateConfig"]["Order"] == "start-first" and body["UpdateConfig"]["FailureAction"] == "rollback"
    assert body["EndpointSpec"] == {
        "Mode": "dnsrr",
        "Ports": [{"Protocol": "tcp", "TargetPort": 8080, "PublishedPort": 80, "PublishMode": "host"}],
    }
    global_body = service_request({**SERVICE_INPUTS, "mode": {"global": True}}, "x", IDS)
    assert global_body["Mode"] == {"Global": {}}


def test_a_reference_to_an_object_not_created_yet_fails_the_apply() -> None:
    with pytest.raises(PlanError, match=r"refers to \S+-id, which is not created yet"):
        service_request(SERVICE_INPUTS, "x", {})


def test_a_field_the_applier_does_not_map_fails_the_apply() -> None:
    assert unmapped_fields(SERVICE_INPUTS, SCHEMA[SERVICE]) == []
    changed = {**SERVICE_INPUTS, "taskSpec": {**SERVICE_INPUTS["taskSpec"], "runtime": "nvidia"}}
    with pytest.raises(PlanError, match=r"fields the applier does not map: \['taskSpec.runtime'\]"):
        check_schema(SERVICE, "api", changed)
    with pytest.raises(PlanError, match="a resource type the swarm applier does not implement"):
        check_schema("docker:index/plugin:Plugin", "p", {})
