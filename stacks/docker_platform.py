"""Composition of the docker and swarm targets: the same capabilities as on Kubernetes from the
same renderers, as containers on one host (private bridge networks) or as services on a Swarm
(encrypted overlay networks, placed by node labels); settings in, components wired, outputs out."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pulumi
import pulumi_docker as docker
import pulumi_random as random

from components.common.docker.containers import Healthcheck, NetworkSpec, PortBinding, with_secret_env
from components.common.docker.deployment import SwarmDeployment
from components.common.docker.resources import DockerLogging, network
from components.common.docker.services import SwarmPolicy
from components.common.docker.swarm import overlay_network
from components.common.values import ResourceAmounts, Resources
from components.load_balancer.containers import LoadBalancerHostArgs, UiRoute
from components.load_balancer.docker import LoadBalancerContainer, LoadBalancerContainerArgs
from components.monitoring import elastic, jaeger, otel
from components.monitoring.containers import ALERTMANAGER_PORT, GRAFANA_PORT, PROMETHEUS_PORT, MonitoringHostArgs
from components.monitoring.docker import MonitoringContainers, MonitoringContainersArgs
from components.monitoring.elastic_containers import ADMIN as KIBANA_ADMIN
from components.monitoring.otel import application_env
from components.monitoring.platform import MonitoredPlatform
from components.monitoring.prometheus_config import ScrapeJob
from components.postgres.containers import EXPORTER_PORT as POSTGRES_EXPORTER_PORT
from components.postgres.containers import PostgresHostArgs
from components.postgres.docker import PostgresServers, PostgresServersArgs
from components.rabbitmq.containers import RabbitmqHostArgs
from components.rabbitmq.docker import RabbitmqServer, RabbitmqServerArgs
from components.rabbitmq.manifests import PROMETHEUS_PORT as RABBITMQ_METRICS_PORT
from components.redis.containers import EXPORTER_PORT as REDIS_EXPORTER_PORT
from components.redis.containers import RedisHostArgs
from components.redis.docker import RedisServers, RedisServersArgs
from components.redis.redis_config import APP_USER, MASTER_NAME
from components.worker_pool.commands import (
    FLOWER_PORT,
    api_env,
    celery_beat_command,
    celery_env,
    celery_pool_env,
    celery_worker_command,
    celery_worker_ping,
    flower_command,
    gunicorn_command,
)
from components.worker_pool.containers import PoolContainersArgs, http_healthcheck
from components.worker_pool.docker import PoolArgs, PoolContainers
from stacks.instances import LOAD_BALANCER, POSTGRES, RABBITMQ, REDIS
from stacks.monitored import monitored_platform
from stacks.outputs import docker_image_versions
from stacks.pools import API_NAME, pool_name
from stacks.settings import PlatformSettings

# What every Celery process and the API read from secrets (values from the backing services).
APP_SECRET_ENV = (
    "SECRET_KEY",
    "DATABASE_URL",
    "DATABASE_READ_ONLY_URL",
    "REDIS_URL",
    "REDIS_PASSWORD",
    "REDIS_SENTINEL_PASSWORD",
    "CELERY_BROKER_URL",
    "CELERY_RESULT_BACKEND",
)
# Beat and Flower: one small container each.
SINGLE_CONTAINER = Resources(
    requests=ResourceAmounts(cpu="100m", memory="256Mi"), limits=ResourceAmounts(cpu="500m", memory="512Mi")
)
WORKER_SECRET_ENV = ("SECRET_KEY", "DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND")


def networks_of(settings: PlatformSettings) -> tuple[NetworkSpec, NetworkSpec]:
    """The internal network of every backend, and the edge network of what publishes a port."""
    prefix = settings.namespace
    return NetworkSpec(f"{prefix}-backend", internal=True), NetworkSpec(f"{prefix}-edge", internal=False)


def scrape_jobs(settings: PlatformSettings) -> tuple[ScrapeJob, ...]:
    """The platform's targets under the job names the Kubernetes ServiceMonitors give them; on a
    Swarm every task of the API, of HAProxy and every RabbitMQ node."""
    api = ScrapeJob(API_NAME, dns_name=API_NAME, port=settings.api.port, metrics_path=settings.api.metrics_path)
    haproxy = ScrapeJob("haproxy-stats", (f"{LOAD_BALANCER}:8404",))
    rabbitmq = ScrapeJob(RABBITMQ.instance, (f"{RABBITMQ.instance}:{RABBITMQ_METRICS_PORT}",))
    if settings.target == "swarm":
        api = replace(api, dns_name=tasks_of(settings, API_NAME))
        haproxy = ScrapeJob("haproxy-stats", dns_name=tasks_of(settings, LOAD_BALANCER), port=8404)
        nodes = rabbitmq_host_args(settings)
        rabbitmq = ScrapeJob(
            RABBITMQ.instance,
            tuple(f"{nodes.node_host(i)}:{RABBITMQ_METRICS_PORT}" for i in range(nodes.nodes)),
        )
    return (
        api,
        haproxy,
        ScrapeJob("redis-metrics", (f"{REDIS.instance}-exporter:{REDIS_EXPORTER_PORT}",)),
        ScrapeJob("postgres", (f"{POSTGRES.instance}-exporter:{POSTGRES_EXPORTER_PORT}",)),
        rabbitmq,
    )


def tasks_of(settings: PlatformSettings, name: str) -> str:
    """Swarm's DNS name of every task of a service (its own name answers only one address)."""
    return f"tasks.{settings.namespace}-{name}"


def api_replicas(settings: PlatformSettings) -> int:
    """API containers on one host, API tasks on a Swarm: set counts either way (no autoscaler)."""
    if settings.target == "swarm":
        return settings.swarm.api_replicas or settings.api.min_replicas
    return settings.docker.api_containers


def swarm_deployment(settings: PlatformSettings) -> SwarmDeployment | None:
    """How the swarm target places and updates each service; None on the docker target."""
    if settings.target != "swarm":
        return None
    s, prefix = settings.swarm, settings.namespace
    api, lb = f"{prefix}-{API_NAME}", f"{prefix}-{LOAD_BALANCER}"
    pools = {f"{prefix}-{pool_name(name)}": pool for name, pool in settings.celery.pools.items()}
    redis = redis_host_args(settings)
    policy = SwarmPolicy(
        prefix,
        label_prefix=s.label_prefix,
        colocate_members=s.colocate_members,
        publish_mode=s.publish_mode,
        replicas=(
            (api, api_replicas(settings)),
            (lb, settings.load_balancer.replicas),
            *sorted((name, max(pool.min_replicas, 1)) for name, pool in pools.items()),
        ),
        max_replicas_per_node=((api, s.api_max_replicas_per_node), (lb, s.load_balancer_max_replicas_per_node)),
        gpus=tuple(
            sorted((name, pool.gpu.count) for name, pool in pools.items() if pool.gpu.enabled and settings.docker.gpu)
        ),
        global_services=(f"{prefix}-{otel.AGENT}",),
        placed=tuple(redis.container(sentinel) for sentinel in redis.sentinels),
        publishers=(lb,),
        update_delay_seconds=s.update_delay_seconds,
        update_monitor_seconds=s.update_monitor_seconds,
        reservations=s.reservations,
    )
    return SwarmDeployment(policy, s.registry)


def docker_monitored(settings: PlatformSettings) -> MonitoredPlatform:
    """The monitoring facts of the platform on one host: network aliases, no kube-state-metrics."""
    return replace(monitored_platform(settings), kubernetes=False)


def monitoring_host_args(settings: PlatformSettings) -> MonitoringHostArgs:
    d, images = settings.docker, settings.images
    backend, edge = networks_of(settings)
    return MonitoringHostArgs(
        docker_monitored(settings),
        images.prometheus,
        images.alertmanager,
        images.grafana,
        backend.name,
        edge.name,
        settings.namespace,
        d.publish_address,
        grafana_port=d.ports.grafana,
        prometheus_port=d.ports.prometheus,
        alertmanager_port=d.ports.alertmanager,
        jaeger_port=d.ports.jaeger,
        kibana_port=d.ports.kibana,
        kibana_public_url=kibana_public_url(settings),
        scrape_jobs=scrape_jobs(settings),
    )


def redis_host_args(settings: PlatformSettings) -> RedisHostArgs:
    images = settings.images
    backend, _ = networks_of(settings)
    return RedisHostArgs(
        settings.redis,
        images.redis,
        images.haproxy,
        backend.name,
        settings.namespace,
        images.redis_exporter if settings.monitoring.enabled else None,
        REDIS.instance,
    )


def rabbitmq_host_args(settings: PlatformSettings) -> RabbitmqHostArgs:
    d = settings.docker
    backend, edge = networks_of(settings)
    return RabbitmqHostArgs(
        settings.rabbitmq,
        settings.images.rabbitmq,
        backend.name,
        settings.namespace,
        management_address=d.publish_address,
        management_port=d.ports.rabbitmq_management,
        edge_network=edge.name,
        name=RABBITMQ.instance,
        # A cluster on a Swarm's nodes; one node on one host.
        nodes=settings.rabbitmq.replicas if settings.target == "swarm" else 1,
    )


def kibana_public_url(settings: PlatformSettings) -> str | None:
    host = settings.monitoring.access.kibana.host
    return f"{'https' if settings.tls.enabled else 'http'}://{host}" if host else None


def load_balancer_host_args(settings: PlatformSettings) -> LoadBalancerHostArgs:
    d, api = settings.docker, settings.api
    backend, edge = networks_of(settings)
    swarm = settings.target == "swarm"
    return LoadBalancerHostArgs(
        settings.load_balancer,
        settings.images.haproxy,
        backend.name,
        edge.name,
        settings.namespace,
        # On a Swarm: every API task's address (the service's own name answers one of them).
        api_alias=tasks_of(settings, API_NAME) if swarm else API_NAME,
        api_port=api.port,
        # Room for a start-first update's extra task on each node.
        api_max_servers=api_replicas(settings) * 2 if swarm else d.api_containers,
        api_ready_path=api.probes.ready_path,
        public_host=settings.domains.api,
        # A Swarm publishes on every address of the nodes HAProxy runs on (services.py).
        edge_address="0.0.0.0" if swarm else d.edge_address,
        stats_address=d.publish_address,
        http_port=d.ports.http,
        https_port=d.ports.https,
        stats_port=d.ports.haproxy_stats,
        tls=settings.tls.enabled,
        ui_routes=ui_routes(settings),
        name=LOAD_BALANCER,
    )


def ui_routes(settings: PlatformSettings) -> tuple[UiRoute, ...]:
    """The monitoring UIs with a public host, served by HAProxy (basic auth where they have no login)."""
    if not settings.monitoring.enabled:
        return ()
    access = settings.monitoring.access
    candidates = (
        ("grafana", access.grafana.host, f"grafana:{GRAFANA_PORT}", False),
        ("prometheus", access.prometheus.host, f"prometheus:{PROMETHEUS_PORT}", True),
        ("alertmanager", access.alertmanager.host, f"alertmanager:{ALERTMANAGER_PORT}", True),
        ("jaeger", access.jaeger.host, f"{jaeger.NAME}:{jaeger.UI_PORT}", True),
    )
    routes = [UiRoute(key, host, server, auth) for key, host, server, auth in candidates if host]
    if settings.monitoring.elasticsearch.enabled and access.kibana.host:
        # Kibana has its own login, and serves HTTPS only.
        routes.append(
            UiRoute("kibana", access.kibana.host, f"{elastic.KIBANA}:{elastic.KIBANA_PORT}", tls_backend=True)
        )
    return tuple(routes)


def build_docker_platform(settings: PlatformSettings) -> dict[str, Any]:
    """Register every resource of the stack on one Docker host; return the stack outputs."""
    d = settings.docker
    prefix = settings.namespace
    provider = docker.Provider("docker", host=d.host) if d.host else docker.Provider("docker")
    opts = pulumi.ResourceOptions(providers=[provider])
    logging = DockerLogging(d.log_max_size, d.log_max_files)
    backend_spec, edge_spec = networks_of(settings)
    swarm = swarm_deployment(settings)
    make_network = overlay_network if swarm else network
    nets = {spec.name: make_network(spec, opts) for spec in (backend_spec, edge_spec)}
    backend, edge = backend_spec.name, edge_spec.name
    monitoring = settings.monitoring.enabled
    images = settings.images

    postgres = PostgresServers(
        POSTGRES.instance,
        PostgresServersArgs(
            PostgresHostArgs(
                settings.postgres,
                settings.backups,
                images.postgres_server,
                backend,
                prefix,
                images.postgres_exporter if monitoring else None,
                POSTGRES.instance,
                swarm=swarm is not None,
            ),
            nets,
            logging,
            swarm,
        ),
        opts,
    )
    redis = RedisServers(REDIS.instance, RedisServersArgs(redis_host_args(settings), nets, logging, swarm), opts)
    broker = RabbitmqServer(
        RABBITMQ.instance, RabbitmqServerArgs(rabbitmq_host_args(settings), nets, logging, swarm), opts
    )
    secret_key = random.RandomPassword("api-secret-key", length=64, special=False, opts=opts)
    app_secrets: dict[str, pulumi.Output[str]] = {
        "SECRET_KEY": pulumi.Output.secret(secret_key.result),
        "DATABASE_URL": postgres.url,
        "DATABASE_READ_ONLY_URL": postgres.read_only_url,
        "REDIS_URL": redis.url,
        "REDIS_PASSWORD": redis.password,
        "REDIS_SENTINEL_PASSWORD": redis.sentinel_password,
        "CELERY_BROKER_URL": broker.url,
        "CELERY_RESULT_BACKEND": redis.result_backend_url,
    }
    backing = pulumi.ResourceOptions(providers=[provider], depends_on=[postgres, redis, broker])
    monitored = docker_monitored(settings)
    egress = (edge,) if d.application_egress else ()

    def tracing(name: str) -> dict[str, str]:
        return application_env(monitored, name) if monitoring else {}

    api = settings.api
    celery = settings.celery
    celery_task_env = celery_env(settings.environment, celery.default_queue, celery.routes)
    api_extra = {
        # For clients that speak Sentinel; REDIS_URL reaches the master through the master endpoint.
        "REDIS_SENTINELS": _sentinels(settings),
        "REDIS_MASTER_NAME": MASTER_NAME,
        "REDIS_USERNAME": APP_USER.name,
    }
    pools = [
        PoolContainersArgs(
            name=API_NAME,
            image=images.api,
            command=gunicorn_command(api),
            # On a Swarm one service of that many tasks.
            count=1 if swarm else d.api_containers,
            network=backend,
            prefix=prefix,
            resources=api.resources,
            # A Swarm replaces a task whose check fails: there the check is liveness, and HAProxy's
            # own checks of the ready path take a task out of rotation (on one host: readiness).
            healthcheck=http_healthcheck(api.port, api.probes.live_path if swarm else api.probes.ready_path),
            # The API sends Celery tasks: it routes them and declares their queues as the workers do.
            env=_env(tracing(API_NAME), celery_task_env, api_env(settings.environment, api), api_extra, api.env),
            secret_env=APP_SECRET_ENV,
            alias=API_NAME,
            extra_networks=egress,
            stop_grace_seconds=api.termination_grace_period_seconds,
        )
    ]
    common = celery_task_env
    gpu_pools: dict[str, int] = {}
    for name, pool in sorted(celery.pools.items()):
        gpus = pool.gpu.count if pool.gpu.enabled and d.gpu else 0
        gpu_pools[pool_name(name)] = gpus
        pools.append(
            PoolContainersArgs(
                name=pool_name(name),
                image=settings.worker_image,
                command=celery_worker_command(celery.app, name, pool),
                count=1 if swarm else max(pool.min_replicas, 1),
                network=backend,
                prefix=prefix,
                resources=pool.resources,
                # Through the secrets wrapper: the ping loads the app, which needs the broker's URL
                # (without it the check failed for good on the engine tier).
                healthcheck=Healthcheck.shell(
                    with_secret_env(celery_worker_ping(celery.app, name)),
                    interval_seconds=60,
                    start_period_seconds=60,
                ),
                env=_env(tracing(pool_name(name)), common, celery_pool_env(pool)),
                secret_env=WORKER_SECRET_ENV,
                extra_networks=egress,
                # A Swarm reserves the NVIDIA-GPU generic resource instead (swarm_deployment).
                gpus=0 if swarm else gpus,
                stop_grace_seconds=pool.termination_grace_period_seconds,
            )
        )
    if celery.beat:
        pools.append(
            PoolContainersArgs(
                name="celery-beat",
                image=settings.worker_image,
                command=celery_beat_command(celery.app),
                count=1,
                network=backend,
                prefix=prefix,
                resources=SINGLE_CONTAINER,
                healthcheck=Healthcheck.shell("ls /tmp/celerybeat-schedule* >/dev/null 2>&1", start_period_seconds=60),
                env=_env(tracing("celery-beat"), common),
                secret_env=WORKER_SECRET_ENV,
            )
        )
    flower_password: pulumi.Output[str] | None = None
    if celery.flower:
        password = random.RandomPassword("flower-password", length=32, special=False, opts=opts)
        flower_password = pulumi.Output.secret(password.result)
        app_secrets["FLOWER_BASIC_AUTH"] = pulumi.Output.secret(password.result.apply(lambda pw: f"admin:{pw}"))
        pools.append(
            PoolContainersArgs(
                name="flower",
                image=images.flower,
                command=flower_command(),
                count=1,
                network=backend,
                prefix=prefix,
                resources=SINGLE_CONTAINER,
                healthcheck=http_healthcheck(FLOWER_PORT, "/healthcheck"),
                secret_env=("CELERY_BROKER_URL", "FLOWER_BASIC_AUTH"),
                extra_networks=(edge,),
                ports=(PortBinding(FLOWER_PORT, d.ports.flower, d.publish_address),),
            )
        )
    for args in pools:
        PoolContainers(args.name, PoolArgs(args, nets, app_secrets, logging, swarm), backing)
    replicas = dict(swarm.policy.replicas) if swarm else {}
    pool_counts = {
        args.name: replicas.get(f"{prefix}-{args.name}", args.count) for args in pools if args.name in gpu_pools
    }

    tls = settings.tls.enabled
    lb = LoadBalancerContainer(
        LOAD_BALANCER,
        LoadBalancerContainerArgs(
            load_balancer_host_args(settings),
            nets,
            pulumi.Output.secret(d.tls_certificate_pem.get_secret_value()) if tls and d.tls_certificate_pem else None,
            logging,
            swarm,
        ),
        opts,
    )
    mon: MonitoringContainers | None = None
    if monitoring:
        mon = MonitoringContainers(
            "monitoring",
            MonitoringContainersArgs(
                monitoring_host_args(settings),
                nets,
                broker.url,
                logging,
                swarm,
            ),
            opts,
        )
    return outputs(settings, postgres, redis, broker, lb, mon, flower_password, gpu_pools, pool_counts)


def _env(*parts: dict[str, str]) -> tuple[tuple[str, str], ...]:
    """Merged left to right (a pool's own settings last), sorted for stable renders."""
    merged: dict[str, str] = {}
    for part in parts:
        merged.update(part)
    return tuple(sorted(merged.items()))


def _sentinels(settings: PlatformSettings) -> str:
    return ",".join(f"{REDIS.instance}-sentinel-{i}:26379" for i in range(settings.redis.sentinels))


def outputs(
    settings: PlatformSettings,
    postgres: PostgresServers,
    redis: RedisServers,
    broker: RabbitmqServer,
    lb: LoadBalancerContainer,
    mon: MonitoringContainers | None,
    flower_password: pulumi.Output[str] | None,
    gpu_pools: dict[str, int],
    pool_containers: dict[str, int],
) -> dict[str, Any]:
    """The keys of the Kubernetes target's outputs where the thing exists on one host. A Swarm
    publishes nothing on loopback: its UIs are the load balancer's host routes (None where no host
    is set), and HAProxy's stats, RabbitMQ's management and Flower are not published (README)."""
    d = settings.docker
    local = d.publish_address
    scheme = "https" if settings.tls.enabled else "http"
    swarm = settings.target == "swarm"

    def published(url: str) -> str | None:
        return None if swarm else url

    ui: dict[str, str | None] = {
        "grafana": f"http://{local}:{d.ports.grafana}",
        "prometheus": f"http://{local}:{d.ports.prometheus}",
        "alertmanager": f"http://{local}:{d.ports.alertmanager}",
        "jaeger": f"http://{local}:{d.ports.jaeger}",
    }
    if mon and mon.kibana_password is not None:
        ui["kibana"] = f"https://{local}:{d.ports.kibana}"
    if swarm:
        routed = {route.key: f"{scheme}://{route.host}" for route in ui_routes(settings)}
        ui = {name: routed.get(name) for name in ui}
    return {
        "environment": settings.environment,
        "namespace": settings.namespace,
        "target": settings.target,
        "endpoints": {
            "loadBalancer": f"{scheme}://{settings.domains.api}",
            "haproxyStats": published(f"http://{local}:{d.ports.haproxy_stats}/stats"),
            "postgresPoolerRw": postgres.pooler_endpoint,
            "postgresPoolerRo": postgres.pooler_endpoint,
            "redisMaster": f"redis://{redis.master_endpoint}",
            "redisSentinel": ",".join(redis.sentinel_endpoints),
            "rabbitmqAmqp": f"amqp://{broker.amqp_endpoint}",
            "rabbitmqManagement": published(f"http://{local}:{d.ports.rabbitmq_management}"),
            "flower": published(f"http://{local}:{d.ports.flower}") if flower_password else None,
        },
        "monitoring": {name: {"url": url} for name, url in ui.items()} if mon else None,
        "monitoringCredentials": {
            "grafana": {"username": "admin", "password": mon.grafana_password},
            **(
                {"kibana": {"username": KIBANA_ADMIN.username, "password": mon.kibana_password}}
                if mon.kibana_password is not None
                else {}
            ),
        }
        if mon
        else None,
        "postgres": {"url": postgres.url, "primaryContainer": postgres.primary_container},
        "redis": {"masterName": redis.master_name, "url": redis.url},
        "haproxyStatsCredentials": {"username": "admin", "password": lb.stats_password},
        "uiCredentials": {key: {"username": "admin", "password": pw} for key, pw in sorted(lb.ui_passwords.items())},
        "rabbitmq": {
            "url": broker.url,
            "administrator": {"username": "teknofest-admin", "password": broker.admin_password},
        },
        "flowerCredentials": {"username": "admin", "password": flower_password} if flower_password else None,
        "pools": {
            "api": {"containers": api_replicas(settings)},
            "postgres": {"instances": settings.postgres.instances},
            "redis": {"instances": 1 + settings.redis.replicas, "sentinels": settings.redis.sentinels},
            **{
                name: {"containers": containers, "gpus": gpu_pools[name]}
                for name, containers in pool_containers.items()
            },
        },
        "images": docker_image_versions(settings),
    }
