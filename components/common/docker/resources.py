"""Turns the pure container specs into pulumi-docker resources (Network, Volume, Container)."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_docker as docker
import pulumi_random as random

from components.common.docker.containers import ContainerSpec, LocalImage, NetworkSpec, Upload, VolumeSpec

MANAGED_BY = ("org.teknofest.managed-by", "teknofest-platform")
# Which service a container is, copied by the json-file driver into each log line.
SERVICE_LABEL = "org.teknofest.service"
# On a container that only carries another's files (never started): whose they are.
FILES_OF_LABEL = "org.teknofest.files-of"
# On a container given files: a keyed digest of them, so that a changed file replaces it.
FILES_DIGEST_LABEL = "org.teknofest.files-digest"


@dataclass(frozen=True)
class DockerLogging:
    """json-file rotation for every container; the log shipper reads the same files."""

    max_size: str = "10m"
    max_files: int = 3

    # Container labels the driver copies into every line: the log shipper names the service by it.
    labels: str = "org.teknofest.service"

    @property
    def options(self) -> dict[str, str]:
        return {"max-size": self.max_size, "max-file": str(self.max_files), "labels": self.labels}


@dataclass
class DockerContext:
    """What a docker component's containers refer to: the networks and images it was given, the
    secrets its uploads fill in, and the containers already registered (for `after`)."""

    networks: Mapping[str, docker.Network]
    # Image resources by the reference the specs use: containers take their ID and wait for them.
    images: Mapping[str, docker.Image | docker.RemoteImage] = field(default_factory=dict)
    secrets: dict[str, pulumi.Output[str]] = field(default_factory=dict)
    containers: dict[str, docker.Container] = field(default_factory=dict)
    logging: DockerLogging = field(default_factory=DockerLogging)
    # The key of the files digests (a generated secret: a digest of a secret file reveals nothing).
    digest_key: pulumi.Output[str] | None = None


def image_reference(image: docker.Image | docker.RemoteImage) -> pulumi.Output[str]:
    """What a container runs: the pulled image's ID, or the name of the one built here."""
    return image.image_id if isinstance(image, docker.RemoteImage) else image.image_name


def remote_image(component: str, reference: str, opts: pulumi.ResourceOptions) -> docker.RemoteImage:
    """A pinned image, pulled; kept on the host when the stack no longer uses it (another
    component may run it too)."""
    name = reference.split("@")[0].split("/")[-1].replace(":", "-")
    return docker.RemoteImage(f"{component}-{name}", name=reference, keep_locally=True, opts=opts)


def network(spec: NetworkSpec, opts: pulumi.ResourceOptions) -> docker.Network:
    return docker.Network(
        spec.name,
        name=spec.name,
        driver="bridge",
        internal=spec.internal,
        # The bridge's own address is not a gateway to other networks of the host.
        options={"com.docker.network.bridge.enable_icc": "true"},
        labels=[docker.NetworkLabelArgs(label=MANAGED_BY[0], value=MANAGED_BY[1])],
        opts=opts,
    )


def local_image(spec: LocalImage, opts: pulumi.ResourceOptions) -> docker.Image:
    """Built by the engine of the host from the repository's Dockerfile; pushed only for a Swarm
    whose other nodes must pull it."""
    return docker.Image(
        spec.name.split("/")[-1].replace(":", "-"),
        image_name=spec.name,
        build=docker.DockerBuildArgs(context=spec.context, dockerfile=spec.dockerfile, args=dict(spec.args) or None),
        skip_push=not spec.push,
        opts=opts,
    )


def volume(spec: VolumeSpec, opts: pulumi.ResourceOptions) -> docker.Volume:
    return docker.Volume(
        spec.name,
        name=spec.name,
        labels=[
            docker.VolumeLabelArgs(label=MANAGED_BY[0], value=MANAGED_BY[1]),
            docker.VolumeLabelArgs(label="org.teknofest.purpose", value=spec.purpose),
        ],
        # A volume holds state: `pulumi destroy` leaves it on the host (docker volume rm takes it).
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(retain_on_delete=True)),
    )


def _upload(
    spec: ContainerSpec, upload: Upload, secrets: Mapping[str, pulumi.Output[str]]
) -> docker.ContainerUploadArgs:
    uid = spec.user.split(":", 1)[0]
    if upload.is_secret:
        missing = [name for name in upload.secrets if name not in secrets]
        if missing:
            raise ValueError(f"container {spec.name}: no value for secrets {missing} of {upload.path}")
        values = {name: secrets[name] for name in upload.secrets}
        content: pulumi.Input[str] = pulumi.Output.secret(pulumi.Output.all(**values).apply(upload.filled))
    else:
        content = upload.content
    return docker.ContainerUploadArgs(
        file=upload.path,
        content=content,
        permissions=f"0{upload.mode:o}",
        # Secret files belong to the process that reads them; config files to root, read by all.
        owner=uid if upload.is_secret else "0",
        group="0",
        executable=bool(upload.mode & 0o111),
    )


# Labels that say, on the container itself, why a rule does not hold for it.
ROOT_BECAUSE = "org.teknofest.root-because"
UNCHECKED_BECAUSE = "org.teknofest.unchecked-because"


def exception_labels(spec: ContainerSpec) -> tuple[tuple[str, str], ...]:
    found = []
    if spec.root_because:
        found.append((ROOT_BECAUSE, spec.root_because))
    if spec.unchecked_because:
        found.append((UNCHECKED_BECAUSE, spec.unchecked_because))
    return tuple(found)


def _image(spec: ContainerSpec, ctx: DockerContext) -> pulumi.Input[str]:
    """The image resource's reference where the component pulled or built it, else the pin."""
    return image_reference(ctx.images[spec.image]) if spec.image in ctx.images else spec.image


def files_digest(key: str, contents: list[str]) -> str:
    """A keyed digest of a container's files: a changed file changes it, and without the key it
    says nothing about a secret file's content."""
    mac = hmac.new(key.encode(), digestmod=hashlib.sha256)
    for content in contents:
        mac.update(hashlib.sha256(content.encode()).digest())
    return mac.hexdigest()


def files_container(
    spec: ContainerSpec,
    ctx: DockerContext,
    uploads: list[docker.ContainerUploadArgs],
    opts: pulumi.ResourceOptions,
) -> docker.Container:
    """A container that is created and never started, only to carry `spec`'s uploads into its
    files volume. The provider extracts an upload at the root of the container's filesystem,
    which the engine refuses for a read-only one ("container rootfs is marked read-only", seen on
    the engine tier): this one has a writable root and no network, and runs nothing."""
    files_mount = next(m for m in spec.all_volumes if m.volume == spec.files_volume)
    return docker.Container(
        spec.files_volume,
        name=spec.files_volume,
        image=_image(spec, ctx),
        # Never run; set so that creating it never depends on the image's own entrypoint.
        entrypoints=list(spec.entrypoint),
        user=spec.user,
        network_mode="none",
        start=False,
        must_run=False,
        capabilities=docker.ContainerCapabilitiesArgs(drops=["ALL"]),
        security_opts=["no-new-privileges:true"],
        labels=[
            docker.ContainerLabelArgs(label=key, value=value)
            for key, value in (MANAGED_BY, (FILES_OF_LABEL, spec.name))
        ],
        volumes=[docker.ContainerVolumeArgs(volume_name=files_mount.volume, container_path=files_mount.path)],
        uploads=uploads,
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(delete_before_replace=True)),
    )


def _digest_label(
    spec: ContainerSpec, ctx: DockerContext, uploads: list[docker.ContainerUploadArgs]
) -> docker.ContainerLabelArgs:
    if ctx.digest_key is None:
        raise ValueError(f"container {spec.name}: files need a digest key in its DockerContext")
    contents = [u.content for u in uploads]
    digest = pulumi.Output.all(ctx.digest_key, *contents).apply(lambda v: files_digest(v[0], list(v[1:])))
    # Keyed by a generated secret: the digest itself is not one, and reviewers see it change.
    return docker.ContainerLabelArgs(label=FILES_DIGEST_LABEL, value=pulumi.Output.unsecret(digest))


def container(spec: ContainerSpec, ctx: DockerContext, opts: pulumi.ResourceOptions) -> docker.Container:
    """One container, healthy before `pulumi up` moves on (`wait`), and deleted before it is
    replaced: its name and published ports would collide with the old one's otherwise. Its files
    come in its files volume, from a container that carries them (files_container)."""
    depends: list[pulumi.Resource] = [ctx.containers[name] for name in spec.after]
    uploads = [_upload(spec, upload, ctx.secrets) for upload in spec.all_uploads]
    if uploads:
        depends.append(files_container(spec, ctx, uploads, opts))
    options = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(delete_before_replace=True, depends_on=depends))
    hc = spec.healthcheck
    created = docker.Container(
        spec.name,
        name=spec.name,
        image=_image(spec, ctx),
        entrypoints=list(spec.entrypoint),
        command=list(spec.arguments),
        envs=[f"{name}={value}" for name, value in spec.env],
        user=spec.user,
        hostname=spec.hostname,
        read_only=spec.read_only,
        tmpfs=dict(spec.tmpfs) or None,
        capabilities=docker.ContainerCapabilitiesArgs(drops=["ALL"], adds=list(spec.capabilities_add) or None),
        security_opts=["no-new-privileges:true"],
        memory=spec.memory_mb,
        memory_swap=spec.memory_mb,
        cpus=str(spec.cpus),
        restart=spec.restart,
        destroy_grace_seconds=spec.stop_grace_seconds,
        stop_timeout=spec.stop_grace_seconds,
        init=True,
        log_driver=spec.log_driver,
        log_opts=ctx.logging.options if spec.log_driver == "json-file" else {"max-size": ctx.logging.max_size},
        labels=[
            *(
                docker.ContainerLabelArgs(label=key, value=value)
                for key, value in (MANAGED_BY, (SERVICE_LABEL, spec.name), *spec.labels, *exception_labels(spec))
            ),
            *([_digest_label(spec, ctx, uploads)] if uploads else []),
        ],
        networks_advanced=[
            docker.ContainerNetworksAdvancedArgs(
                name=ctx.networks[attachment.network].name, aliases=list(attachment.aliases) or None
            )
            for attachment in spec.networks
        ],
        ports=[
            docker.ContainerPortArgs(internal=p.internal, external=p.external, ip=p.ip, protocol=p.protocol)
            for p in spec.ports
        ],
        volumes=[
            *(
                docker.ContainerVolumeArgs(volume_name=m.volume, container_path=m.path, read_only=m.read_only)
                for m in spec.all_volumes
            ),
            *(
                docker.ContainerVolumeArgs(host_path=host, container_path=path, read_only=True)
                for host, path in spec.host_mounts
            ),
        ],
        healthcheck=docker.ContainerHealthcheckArgs(
            tests=list(hc.test),
            interval=f"{hc.interval_seconds}s",
            timeout=f"{hc.timeout_seconds}s",
            retries=hc.retries,
            start_period=f"{hc.start_period_seconds}s",
        )
        if hc
        else None,
        device_requests=[docker.ContainerDeviceRequestArgs(driver="nvidia", count=spec.gpus, capabilities=["gpu"])]
        if spec.gpus
        else None,
        ulimits=[docker.ContainerUlimitArgs(name="nofile", soft=spec.open_files, hard=spec.open_files)]
        if spec.open_files
        else None,
        wait=hc is not None,
        wait_timeout=max(60, hc.start_period_seconds + hc.interval_seconds * (hc.retries + 1)) if hc else None,
        opts=options,
    )
    ctx.containers[spec.name] = created
    return created


def files_volumes(specs: list[ContainerSpec]) -> list[VolumeSpec]:
    """Each container's own volume for its uploads (see containers.py)."""
    return [VolumeSpec(spec.files_volume, f"uploaded files of {spec.name}") for spec in specs if spec.all_uploads]


def register(
    specs: list[ContainerSpec],
    volumes: list[VolumeSpec],
    ctx: DockerContext,
    opts: pulumi.ResourceOptions,
) -> list[docker.Container]:
    """The volumes (theirs and each container's files volume), then the containers in order: a
    container waits for the volumes it mounts and the containers it names in `after`."""
    made = {v.name: volume(v, opts) for v in [*volumes, *files_volumes(specs)]}
    containers = []
    for spec in specs:
        mounts = [made[m.volume] for m in spec.all_volumes if m.volume in made]
        images = [ctx.images[spec.image]] if isinstance(ctx.images.get(spec.image), pulumi.Resource) else []
        containers.append(
            container(
                spec, ctx, pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[*mounts, *images]))
            )
        )
    return containers


def generated_passwords(
    component: str, names: tuple[str, ...], opts: pulumi.ResourceOptions
) -> dict[str, pulumi.Output[str]]:
    """One random password per secret name, kept in the state encrypted (a Pulumi secret)."""
    result: dict[str, pulumi.Output[str]] = {}
    for name in names:
        password = random.RandomPassword(f"{component}-{name}", length=40, special=False, opts=opts)
        result[name] = pulumi.Output.secret(password.result)
    return result


def pulled_images(
    component: str, specs: list[ContainerSpec], opts: pulumi.ResourceOptions
) -> dict[str, docker.RemoteImage]:
    """Each pinned image the component's containers run, pulled once."""
    return {image: remote_image(component, image, opts) for image in sorted({spec.image for spec in specs})}


def deploy(
    component: str,
    specs: list[ContainerSpec],
    volumes: list[VolumeSpec],
    networks: Mapping[str, docker.Network],
    secrets: dict[str, pulumi.Output[str]],
    logging: DockerLogging,
    opts: pulumi.ResourceOptions,
    built: Mapping[str, docker.Image] | None = None,
) -> list[docker.Container]:
    """A component's containers and volumes: the images built on the host it is given, and every
    other image its containers run pulled (a container whose image is not on the host fails)."""
    given: dict[str, docker.Image | docker.RemoteImage] = dict(built or {})
    pulled = pulled_images(component, [spec for spec in specs if spec.image not in given], opts)
    digest_key = generated_passwords(component, ("files-digest-key",), opts)["files-digest-key"]
    ctx = DockerContext(networks, {**given, **pulled}, secrets, logging=logging, digest_key=digest_key)
    return register(specs, volumes, ctx, opts)
