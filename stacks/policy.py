"""Rules that depend on the environment, checked after each value is valid on its own."""

from __future__ import annotations

from stacks.errors import Problem
from stacks.settings import Access, PlatformSettings, UiAccess

# Targets whose composition exists; the settings already describe the docker target (design.md).
BUILT_TARGETS = ("kubernetes",)


def environment_warnings(settings: PlatformSettings) -> list[str]:
    """Allowed, but worth saying before `pulumi up`."""
    warnings = []
    ai = settings.celery.pools.get("ai")
    if ai is not None and not ai.gpu.enabled:
        warnings.append(
            "teknofest-platform:celery.pools.ai.gpu.enabled = false: the ai pool runs on CPU nodes; "
            "inference will be slow (set it to true where the cluster has GPU nodes)"
        )
    backups = settings.backups
    if backups.destination_path and backups.credentials is None and not backups.service_account_annotations:
        warnings.append(
            f"teknofest-platform:backups.destinationPath = {backups.destination_path}: no credentials and no "
            "backups.serviceAccountAnnotations, so backups rely on the nodes' own cloud identity; set "
            "'eks.amazonaws.com/role-arn' (EKS IRSA) or 'iam.gke.io/gcp-service-account' (GKE Workload Identity)"
        )
    if not settings.tls.enabled:
        for field, access in settings.monitoring.access:
            host = access.host if isinstance(access, UiAccess) else None
            if host is not None:
                ui = Access.model_fields[field].alias or field
                warnings.append(
                    f"teknofest-platform:monitoring.access.{ui}.host = {host}: tls.enabled is false, so the "
                    "UI's login or basic-auth password crosses the network in clear text"
                )
    return warnings


def environment_problems(settings: PlatformSettings) -> list[Problem]:
    problems: list[Problem] = []
    if settings.target not in BUILT_TARGETS:
        problems.append(
            Problem(
                "target",
                repr(settings.target),
                f"this target is not built yet; allowed now: {', '.join(BUILT_TARGETS)}",
            )
        )
    if settings.environment != "production":
        return problems

    def at_least(key: str, value: int, minimum: int, why: str) -> None:
        if value < minimum:
            problems.append(Problem(key, str(value), f"must be at least {minimum} in production ({why})"))

    if not settings.tls.enabled:
        problems.append(Problem("tls.enabled", "false", "must be true in production: the public endpoint serves HTTPS"))
    if settings.backups.destination_path is None:
        problems.append(
            Problem(
                "backups.destinationPath",
                "<missing>",
                "production needs a backup destination such as 's3://bucket/path' (RPO < 15 min needs WAL archiving)",
            )
        )
    at_least(
        "loadBalancer.replicas", settings.load_balancer.replicas, 2, "one load balancer is a single point of failure"
    )
    at_least("api.minReplicas", settings.api.min_replicas, 2, "the guide's lower bound; survives a node loss")
    at_least(
        "postgres.instances", settings.postgres.instances, 2, "a primary needs a streaming replica to fail over to"
    )
    at_least(
        "postgres.poolerInstances", settings.postgres.pooler_instances, 2, "one pooler is a single point of failure"
    )
    at_least("redis.replicas", settings.redis.replicas, 1, "Sentinel needs a replica to promote")
    at_least("rabbitmq.replicas", settings.rabbitmq.replicas, 3, "quorum queues need three nodes to survive one loss")
    m = settings.monitoring
    if m.enabled:
        at_least(
            "monitoring.prometheus.replicas", m.prometheus.replicas, 2, "alerts must keep firing while one is down"
        )
        at_least(
            "monitoring.alertmanager.replicas",
            m.alertmanager.replicas,
            2,
            "notifications must go out while one is down; 3 survive a node loss during a rollout",
        )
    else:
        problems.append(
            Problem("monitoring.enabled", "false", "must be true in production: alerts, logs and traces are required")
        )
    return problems
