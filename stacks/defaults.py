"""Per-environment defaults, beneath whatever the stack's Pulumi config sets.

Production takes the model's own defaults, which are the deployment guide's numbers (API 2-20
replicas at CPU 70 % / memory 80 % / 100 requests/s per pod, its scale-up and scale-down
behaviour, Celery pools default 2-10, ai 2-4 on GPU nodes, data 2-10). Smaller environments
shrink replica counts and sizes, never the security posture.
"""

from __future__ import annotations

from typing import Any

from stacks.settings import Celery

_SMALL_RESOURCES = {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"cpu": "1", "memory": "1Gi"}}

DEFAULTS: dict[str, dict[str, Any]] = {
    "dev": {
        "namespace": "teknofest-dev",
        # A laptop cluster (kind, k3d) has neither KEDA nor a cloud load balancer.
        "api": {
            "minReplicas": 1,
            "maxReplicas": 3,
            "resources": _SMALL_RESOURCES,
            "autoscaling": {"engine": "hpa", "vpaRecommendations": False},
        },
        "loadBalancer": {"replicas": 1, "serviceType": "ClusterIP"},
        "celery": {
            "pools": {
                "default": {"queues": ["default"], "minReplicas": 1, "maxReplicas": 2, "resources": _SMALL_RESOURCES},
                "ai": {
                    "queues": ["ai"],
                    "minReplicas": 1,
                    "maxReplicas": 1,
                    "concurrency": 1,
                    "prefetchMultiplier": 1,
                    "lateAcks": True,
                    "resources": _SMALL_RESOURCES,
                    "gpu": {"enabled": False},
                },
                "data": {
                    "queues": ["data"],
                    "minReplicas": 1,
                    "maxReplicas": 2,
                    "prefetchMultiplier": 1,
                    "lateAcks": True,
                    "resources": _SMALL_RESOURCES,
                },
            }
        },
        "postgres": {
            "instances": 1,
            "poolerInstances": 1,
            "storageSize": "5Gi",
            "walStorageSize": "1Gi",
            "resources": {"requests": {"cpu": "250m", "memory": "512Mi"}, "limits": {"cpu": "1", "memory": "1Gi"}},
        },
        "redis": {
            "replicas": 1,
            "minReplicasToWrite": 0,
            "storageSize": "1Gi",
            "maxmemory": "256Mi",
            "resources": {"requests": {"cpu": "100m", "memory": "512Mi"}, "limits": {"cpu": "500m", "memory": "512Mi"}},
        },
        "rabbitmq": {
            "replicas": 1,
            "storageSize": "2Gi",
            "resources": {"requests": {"cpu": "250m", "memory": "512Mi"}, "limits": {"cpu": "1", "memory": "1Gi"}},
        },
        "monitoring": {
            "prometheus": {
                "replicas": 1,
                "retention": "3d",
                "retentionSize": "8GB",
                "storageSize": "10Gi",
                "resources": {
                    "requests": {"cpu": "200m", "memory": "512Mi"},
                    "limits": {"cpu": "1", "memory": "1Gi"},
                },
            },
            "alertmanager": {"replicas": 1},
            "loki": {
                "retention": "3d",
                "storageSize": "5Gi",
                "resources": {
                    "requests": {"cpu": "100m", "memory": "256Mi"},
                    "limits": {"cpu": "1", "memory": "512Mi"},
                },
            },
            # Heavy parts off on a laptop: traces go to Badger, logs to Loki only.
            "elasticsearch": {"enabled": False},
            "tracing": {"storage": "badger", "retention": "2d", "badgerStorageSize": "2Gi", "collectorReplicas": 1},
        },
        "tls": {"enabled": False},
        "domains": {"api": "api.teknofest.localhost"},
    },
    "staging": {
        "namespace": "teknofest-staging",
        "api": {"minReplicas": 2, "maxReplicas": 6},
        "loadBalancer": {"replicas": 2},
        "celery": {
            "pools": {
                "default": {"queues": ["default"], "minReplicas": 1, "maxReplicas": 4},
                "ai": {
                    "queues": ["ai"],
                    "minReplicas": 1,
                    "maxReplicas": 2,
                    "concurrency": 1,
                    "prefetchMultiplier": 1,
                    "lateAcks": True,
                    "gpu": {"enabled": True},
                },
                "data": {
                    "queues": ["data"],
                    "minReplicas": 1,
                    "maxReplicas": 4,
                    "prefetchMultiplier": 1,
                    "lateAcks": True,
                },
            }
        },
        "postgres": {"instances": 2, "storageSize": "20Gi"},
        "redis": {"replicas": 1},
        "rabbitmq": {"replicas": 1},
        "monitoring": {
            "prometheus": {"replicas": 1, "retention": "7d", "retentionSize": "16GB", "storageSize": "20Gi"},
            "alertmanager": {"replicas": 1},
            "loki": {"retention": "7d", "storageSize": "20Gi"},
            "elasticsearch": {
                "nodes": 1,
                "storageSize": "30Gi",
                "logRetention": "7d",
                "kibanaReplicas": 1,
                "resources": {"requests": {"cpu": "500m", "memory": "2Gi"}, "limits": {"cpu": "1", "memory": "2Gi"}},
            },
            "tracing": {"collectorReplicas": 1},
        },
    },
    "production": {
        "namespace": "teknofest-production",
        "loadBalancer": {"replicas": 3},
        # Spelled out so that a stack overriding one pool keeps the others.
        "celery": {"pools": Celery().model_dump(by_alias=True, mode="json")["pools"]},
    },
}


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """`override` wins; nested dicts merge key by key; lists and scalars are replaced whole."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged
