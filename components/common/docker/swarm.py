"""Turns service specs (services.py) into pulumi-docker Swarm resources: overlay networks, a
Secret per secret file and a ServiceConfig per other file (each named after its content, so that
a changed file is a new object and the service rolls to it: Swarm refuses to change an object's
data in place), and the Service itself."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_docker as docker

from components.common.docker.containers import CONFIG_DIR, ContainerSpec, NetworkSpec, Upload
from components.common.docker.resources import (
    MANAGED_BY,
    SERVICE_LABEL,
    DockerLogging,
    exception_labels,
    generated_passwords,
)
from components.common.docker.services import ServiceSpec, SwarmPolicy, service_specs

VolumeLabel = docker.ServiceTaskSpecContainerSpecMountVolumeOptionsLabelArgs
# Swarm object names: at most 64 characters (the digest is always kept whole).
_NAME_LIMIT = 64
_DIGEST_LENGTH = 12
# On a service placed by a member label: which label (the operators put it on one node).
NODE_LABEL = "org.teknofest.node-label"
# How long `pulumi up` waits for a service's tasks to run (healthy, where they have a check).
CONVERGE_TIMEOUT = "10m"


@dataclass
class SwarmContext:
    """What a component's services refer to: the overlay networks, the secrets its files fill
    in, the key of the secret files' names, and what the composition decided about placement."""

    networks: Mapping[str, docker.Network]
    policy: SwarmPolicy
    secrets: Mapping[str, pulumi.Output[str]] = field(default_factory=dict)
    logging: DockerLogging = field(default_factory=DockerLogging)
    digest_key: pulumi.Output[str] | None = None
    # Images by the reference the specs use (a locally built one: its name).
    images: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)


def overlay_network(spec: NetworkSpec, opts: pulumi.ResourceOptions) -> docker.Network:
    """An overlay network across the swarm's nodes; its traffic between nodes is encrypted (IPsec),
    and only services join it (not attachable: no `docker run` container on a node can)."""
    return docker.Network(
        spec.name,
        name=spec.name,
        driver="overlay",
        internal=spec.internal,
        attachable=False,
        options={"encrypted": "true"},
        labels=[docker.NetworkLabelArgs(label=MANAGED_BY[0], value=MANAGED_BY[1])],
        opts=opts,
    )


def object_name(service: str, path: str, digest: str) -> str:
    """ "<service>-<file>-<digest>": a content change is a new name; cut to Swarm's limit."""
    stem = re.sub(r"[^a-zA-Z0-9_.-]", "-", path.removeprefix(CONFIG_DIR + "/"))
    base = f"{service}-{stem}"[: _NAME_LIMIT - _DIGEST_LENGTH - 1].rstrip("-_.")
    return f"{base}-{digest[:_DIGEST_LENGTH]}"


def content_digest(content: str) -> str:
    return hashlib.sha256(content.encode()).hexdigest()


def keyed_digest(key: str, content: str) -> str:
    """A secret file's name must change with it without saying anything about it: keyed."""
    return hmac.new(key.encode(), content.encode(), hashlib.sha256).hexdigest()


def _logical(spec: ContainerSpec, upload: Upload) -> str:
    return f"{spec.name}-{upload.path.removeprefix(CONFIG_DIR + '/').replace('/', '-')}"


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def file_config(
    spec: ContainerSpec, upload: Upload, opts: pulumi.ResourceOptions
) -> docker.ServiceTaskSpecContainerSpecConfigArgs:
    created = docker.ServiceConfig(
        _logical(spec, upload),
        name=object_name(spec.name, upload.path, content_digest(upload.content)),
        data=_b64(upload.content),
        labels=[docker.ServiceConfigLabelArgs(label=MANAGED_BY[0], value=MANAGED_BY[1])],
        opts=opts,
    )
    return docker.ServiceTaskSpecContainerSpecConfigArgs(
        config_id=created.id,
        config_name=created.name,
        file_name=upload.path,
        # Config files belong to root and are read by all (as on one host).
        file_uid="0",
        file_gid="0",
        file_mode=upload.mode,
    )


def file_secret(
    spec: ContainerSpec, upload: Upload, ctx: SwarmContext, opts: pulumi.ResourceOptions
) -> docker.ServiceTaskSpecContainerSpecSecretArgs:
    missing = [name for name in upload.secrets if name not in ctx.secrets]
    if missing:
        raise ValueError(f"service {spec.name}: no value for secrets {missing} of {upload.path}")
    if ctx.digest_key is None:
        raise ValueError(f"service {spec.name}: secret files need a digest key in its SwarmContext")
    values = {name: ctx.secrets[name] for name in upload.secrets}
    content = pulumi.Output.all(**values).apply(upload.filled)
    name: pulumi.Output[str] = pulumi.Output.all(ctx.digest_key, content).apply(
        lambda v: object_name(spec.name, upload.path, keyed_digest(v[0], v[1]))
    )
    data: pulumi.Input[str] = pulumi.Output.secret(content.apply(_b64))
    created = docker.Secret(
        _logical(spec, upload),
        # Keyed: the name is not a secret, and reviewers see it change when the content does.
        name=pulumi.Output.unsecret(name),
        data=data,
        labels=[docker.SecretLabelArgs(label=MANAGED_BY[0], value=MANAGED_BY[1])],
        opts=opts,
    )
    uid, _, gid = spec.user.partition(":")
    return docker.ServiceTaskSpecContainerSpecSecretArgs(
        secret_id=created.id,
        secret_name=created.name,
        file_name=upload.path,
        # Readable by the container's own user only.
        file_uid=uid,
        file_gid=gid or uid,
        file_mode=upload.mode,
    )


def tmpfs_size_bytes(options: str) -> int | None:
    """The size of a tmpfs from its mount options ("rw,noexec,size=16m")."""
    for option in options.split(","):
        if option.startswith("size="):
            number, unit = re.fullmatch(r"size=(\d+)([kmg]?)", option).groups()  # type: ignore[union-attr]
            return int(number) * {"": 1, "k": 2**10, "m": 2**20, "g": 2**30}[unit]
    return None


def _mounts(spec: ContainerSpec) -> list[docker.ServiceTaskSpecContainerSpecMountArgs]:
    mounts = [
        docker.ServiceTaskSpecContainerSpecMountArgs(
            type="volume",
            source=m.volume,
            target=m.path,
            read_only=m.read_only,
            volume_options=docker.ServiceTaskSpecContainerSpecMountVolumeOptionsArgs(
                labels=[
                    docker.ServiceTaskSpecContainerSpecMountVolumeOptionsLabelArgs(
                        label=MANAGED_BY[0], value=MANAGED_BY[1]
                    )
                ]
            ),
        )
        for m in spec.volumes
    ]
    mounts += [
        docker.ServiceTaskSpecContainerSpecMountArgs(
            type="tmpfs",
            target=path,
            # Swarm's tmpfs takes a size and a mode only (no owner); Docker mounts it nosuid,
            # nodev, noexec. Where the image has the directory, its mode wins (copied up).
            tmpfs_options=docker.ServiceTaskSpecContainerSpecMountTmpfsOptionsArgs(
                size_bytes=tmpfs_size_bytes(options), mode=0o1777
            ),
        )
        for path, options in spec.tmpfs
    ]
    mounts += [
        docker.ServiceTaskSpecContainerSpecMountArgs(type="bind", source=host, target=path, read_only=True)
        for host, path in spec.host_mounts
    ]
    return mounts


def _duration(seconds: int) -> str:
    return f"{seconds}s"


def service(svc: ServiceSpec, ctx: SwarmContext, opts: pulumi.ResourceOptions) -> docker.Service:
    """One service; `pulumi up` waits until its tasks run (converge_config)."""
    spec = svc.container
    configs, secrets = [], []
    for upload in spec.all_uploads:
        if upload.is_secret:
            secrets.append(file_secret(spec, upload, ctx, opts))
        else:
            configs.append(file_config(spec, upload, opts))
    hc = spec.healthcheck
    nano_cpus = int(spec.cpus * 1e9)
    memory = spec.memory_mb * 2**20
    # Without a request in the settings (the fixed-size sidecars): the memory limit, which an
    # overcommitted node cannot give back, and a tenth of the CPU limit, which it only slows.
    reserved_memory = (spec.memory_reservation_mb or spec.memory_mb) * 2**20
    reserved_cpus = int((spec.cpu_reservation or spec.cpus / 10) * 1e9)
    labels = [(MANAGED_BY[0], MANAGED_BY[1]), (SERVICE_LABEL, spec.name), *spec.labels, *exception_labels(spec)]
    if svc.member_label:
        labels.append((NODE_LABEL, svc.member_label))
    update = svc.update
    return docker.Service(
        spec.name,
        name=spec.name,
        labels=[docker.ServiceLabelArgs(label=k, value=v) for k, v in labels],
        task_spec=docker.ServiceTaskSpecArgs(
            container_spec=docker.ServiceTaskSpecContainerSpecArgs(
                image=ctx.images.get(spec.image, spec.image),
                commands=list(spec.entrypoint),
                args=list(spec.arguments),
                env=dict(spec.env) or None,
                user=spec.user,
                read_only=spec.read_only,
                cap_drops=["ALL"],
                cap_adds=list(spec.capabilities_add) or None,
                init=True,
                hostname=spec.hostname,
                stop_grace_period=_duration(spec.stop_grace_seconds),
                labels=[docker.ServiceTaskSpecContainerSpecLabelArgs(label=k, value=v) for k, v in labels],
                healthcheck=docker.ServiceTaskSpecContainerSpecHealthcheckArgs(
                    tests=list(hc.test),
                    interval=_duration(hc.interval_seconds),
                    timeout=_duration(hc.timeout_seconds),
                    retries=hc.retries,
                    start_period=_duration(hc.start_period_seconds),
                )
                if hc
                else None,
                mounts=_mounts(spec) or None,
                configs=configs or None,
                secrets=secrets or None,
            ),
            networks_advanceds=[
                docker.ServiceTaskSpecNetworksAdvancedArgs(
                    id=ctx.networks[a.network].id, aliases=list(a.aliases) or None
                )
                for a in spec.networks
            ],
            placement=docker.ServiceTaskSpecPlacementArgs(
                constraints=list(svc.constraints) or None, max_replicas=svc.max_replicas_per_node
            ),
            resources=docker.ServiceTaskSpecResourcesArgs(
                limits=docker.ServiceTaskSpecResourcesLimitsArgs(memory_bytes=memory, nano_cpus=nano_cpus),
                reservation=docker.ServiceTaskSpecResourcesReservationArgs(
                    memory_bytes=reserved_memory if ctx.policy.reservations else None,
                    nano_cpus=reserved_cpus if ctx.policy.reservations else None,
                    generic_resources=docker.ServiceTaskSpecResourcesReservationGenericResourcesArgs(
                        discrete_resources_specs=list(svc.generic_resources)
                    )
                    if svc.generic_resources
                    else None,
                ),
            ),
            # Restarted whatever its exit, after a pause; never given up on (as "unless-stopped").
            restart_policy=docker.ServiceTaskSpecRestartPolicyArgs(
                condition="any", delay=_duration(svc.restart_delay_seconds), max_attempts=0, window="60s"
            ),
            log_driver=docker.ServiceTaskSpecLogDriverArgs(
                name=spec.log_driver,
                options=ctx.logging.options if spec.log_driver == "json-file" else {"max-size": ctx.logging.max_size},
            ),
        ),
        mode=docker.ServiceModeArgs(global_=True)
        if svc.global_mode
        else docker.ServiceModeArgs(replicated=docker.ServiceModeReplicatedArgs(replicas=svc.replicas)),
        update_config=docker.ServiceUpdateConfigArgs(
            parallelism=update.parallelism,
            delay=_duration(update.delay_seconds),
            failure_action=update.failure_action,
            monitor=_duration(update.monitor_seconds),
            max_failure_ratio="0",
            order=update.order,
        ),
        # A rollback goes back as carefully as the update came: one task at a time, in the same
        # order; if it fails too the service pauses for the operators.
        rollback_config=docker.ServiceRollbackConfigArgs(
            parallelism=update.parallelism,
            delay="0s",
            failure_action="pause",
            monitor=_duration(update.monitor_seconds),
            max_failure_ratio="0",
            order=update.order,
        ),
        endpoint_spec=docker.ServiceEndpointSpecArgs(
            mode=svc.endpoint_mode,
            ports=[
                docker.ServiceEndpointSpecPortArgs(
                    target_port=p.target, published_port=p.published, publish_mode=p.mode, protocol=p.protocol
                )
                for p in svc.ports
            ]
            or None,
        ),
        converge_config=docker.ServiceConvergeConfigArgs(delay="5s", timeout=CONVERGE_TIMEOUT),
        opts=opts,
    )


def deploy_services(
    component: str,
    specs: list[ContainerSpec],
    ctx: SwarmContext,
    opts: pulumi.ResourceOptions,
) -> list[docker.Service]:
    """A component's services in spec order; one waits for those it names in `after`."""
    if ctx.digest_key is None:
        key = generated_passwords(component, ("files-digest-key",), opts)["files-digest-key"]
        ctx = SwarmContext(ctx.networks, ctx.policy, ctx.secrets, ctx.logging, key, ctx.images)
    made: dict[str, docker.Service] = {}
    for svc in service_specs(specs, ctx.policy):
        after = [made[name] for name in svc.container.after if name in made]
        made[svc.name] = service(svc, ctx, pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=after)))
    return list(made.values())
