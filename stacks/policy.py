"""Rules that depend on the environment, checked after each value is valid on its own."""

from __future__ import annotations

from components.postgres.server_config import daily_time
from stacks.errors import Problem
from stacks.settings import Access, PlatformSettings, UiAccess

# Targets whose composition exists.
BUILT_TARGETS = ("kubernetes", "docker", "swarm")


def environment_warnings(settings: PlatformSettings) -> list[str]:
    """Allowed, but worth saying before `pulumi up`."""
    warnings = []
    ai = settings.celery.pools.get("ai")
    if settings.target in ("docker", "swarm") and ai is not None and ai.gpu.enabled and not settings.docker.gpu:
        warnings.append(
            "teknofest-platform:docker.gpu = false: the ai pool runs on the host's CPU; inference will be slow "
            "(set it to true where the host has NVIDIA GPUs and the container toolkit)"
        )
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
    if settings.target in ("docker", "swarm"):
        problems += docker_problems(settings)
    if settings.target == "swarm":
        problems += swarm_problems(settings)
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
    if not settings.monitoring.enabled:
        problems.append(
            Problem("monitoring.enabled", "false", "must be true in production: alerts, logs and traces are required")
        )
    if settings.target == "docker":
        # One host is one failure domain: replica counts cannot buy availability there. TLS,
        # backups and monitoring (above) still hold.
        return problems
    at_least(
        "loadBalancer.replicas", settings.load_balancer.replicas, 2, "one load balancer is a single point of failure"
    )
    if settings.target == "swarm":
        at_least("swarm.apiReplicas", api_tasks(settings), 2, "the guide's lower bound; survives a node loss")
        if not settings.swarm.reservations:
            problems.append(
                Problem("swarm.reservations", "false", "must be true in production: nothing would be guaranteed")
            )
        if settings.swarm.colocate_members:
            problems.append(
                Problem(
                    "swarm.colocateMembers",
                    "true",
                    "must be false in production: a primary and its replica on one node fail together",
                )
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
    if m.enabled and settings.target == "kubernetes":
        # The container targets run one Prometheus and one Alertmanager (design.md).
        at_least(
            "monitoring.prometheus.replicas", m.prometheus.replicas, 2, "alerts must keep firing while one is down"
        )
        at_least(
            "monitoring.alertmanager.replicas",
            m.alertmanager.replicas,
            2,
            "notifications must go out while one is down; 3 survive a node loss during a rollout",
        )
    return problems


def docker_problems(settings: PlatformSettings) -> list[Problem]:
    """What the docker target cannot do with these settings, before anything is registered."""
    problems: list[Problem] = []
    if settings.tls.enabled and settings.docker.tls_certificate_pem is None:
        problems.append(
            Problem(
                "docker.tlsCertificatePem",
                "<missing>",
                "tls.enabled needs the PEM (chain and key) HAProxy serves: "
                '`pulumi config set --secret --path docker.tlsCertificatePem "$(cat fullchain.pem privkey.pem)"`',
            )
        )
    destination = settings.backups.destination_path
    if destination is not None and not destination.startswith("s3://"):
        problems.append(
            Problem(
                "backups.destinationPath",
                destination,
                "the docker target's pgBackRest writes to 's3://bucket/path' (S3 or S3-compatible, with "
                "backups.endpointUrl), or, unset, to a local volume",
            )
        )
    try:
        daily_time(settings.backups.schedule)
    except ValueError:
        problems.append(
            Problem(
                "backups.schedule", settings.backups.schedule, "the docker target takes a daily time: 'S M H * * *'"
            )
        )
    es = settings.monitoring.elasticsearch
    if settings.monitoring.enabled and es.enabled and es.nodes != 1:
        problems.append(
            Problem(
                "monitoring.elasticsearch.nodes",
                str(es.nodes),
                "the docker and swarm targets run one Elasticsearch node: set it to 1",
            )
        )
    if settings.postgres.instances > 3:
        problems.append(Problem("postgres.instances", str(settings.postgres.instances), "at most 3 on one host"))
    return problems


def api_tasks(settings: PlatformSettings) -> int:
    return settings.swarm.api_replicas or settings.api.min_replicas


def swarm_problems(settings: PlatformSettings) -> list[Problem]:
    """What a Swarm of several hosts cannot do with these settings."""
    problems: list[Problem] = []
    s = settings.swarm
    if settings.backups.destination_path is None and not s.colocate_members:
        problems.append(
            Problem(
                "backups.destinationPath",
                "<missing>",
                "the swarm target needs 's3://bucket/path': a local repository is a volume on one node, which "
                "the primary and its replica on other nodes cannot share (or swarm.colocateMembers on one node)",
            )
        )
    if s.registry is None and not s.colocate_members:
        problems.append(
            Problem(
                "swarm.registry",
                "<missing>",
                "the PostgreSQL image is built on the manager; the other nodes pull it from a registry such as "
                "'registry.example.com/teknofest' (or swarm.colocateMembers on a one-node swarm)",
            )
        )
    return problems
