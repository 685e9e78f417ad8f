"""Elasticsearch and Kibana on one Docker host (pure): one Elasticsearch node with the same roles and
least-privilege users as the ECK cluster (file realm, bcrypt hashes the component generates), HTTPS
with a CA of the stack's own, Kibana over HTTPS signed in as a `kibana_system` user, the exporter
and the daily retention loop. What ECK does on Kubernetes is spelt out here: the users file, the
certificates and the start-up that assembles the node's config directory."""

from __future__ import annotations

from dataclasses import dataclass

from components.common.docker.containers import (
    CONFIG_DIR,
    SECRETS_DIR,
    ContainerSpec,
    Healthcheck,
    NetworkAttachment,
    PortBinding,
    Upload,
    VolumeMount,
    VolumeSpec,
    placeholder,
    secret_file,
    sized,
)
from components.common.yaml_text import to_yaml
from components.monitoring import elastic, retention
from components.monitoring.platform import MonitoredPlatform

# The images' own user (uid 1000, group root: what their directories are writable by).
ELASTIC_UID = "1000:0"
ES_HOME = "/usr/share/elasticsearch"
KIBANA_HOME = "/usr/share/kibana"
# Assembled at every start on the container's tmpfs: the image's defaults, then ours.
ES_CONFIG = "/tmp/elasticsearch-config"

# Users only the docker target has: ECK makes Kibana's own and the operators' "elastic" itself.
KIBANA_USER = elastic.ElasticUser("elasticsearch-kibana", "platform-kibana", "kibana_system")
ADMIN = elastic.ElasticUser("elasticsearch-admin", "platform-admin", "superuser")
# Kibana's keys for saved objects, sessions and reports (32+ characters each; generated).
KIBANA_KEYS = ("kibana-encrypted-saved-objects-key", "kibana-security-key", "kibana-reporting-key")
# Certificates: the CA's certificate (public, but uploaded like a secret: the component makes it),
# and each server's key and certificate.
ES_TLS = ("elasticsearch-tls-key", "elasticsearch-tls-cert")
KIBANA_TLS = ("kibana-tls-key", "kibana-tls-cert")


def hash_secret(user: elastic.ElasticUser) -> str:
    """The secret holding the bcrypt hash of a user's password (the file realm stores hashes)."""
    return f"{user.secret_name}-hash"


def users(platform: MonitoredPlatform) -> tuple[elastic.ElasticUser, ...]:
    """Everyone who signs in: the deployed clients' users, Kibana's and the operators'."""
    return (*elastic.deployed_users(platform), KIBANA_USER, ADMIN)


def elasticsearch_image(version: str) -> str:
    return f"docker.elastic.co/elasticsearch/elasticsearch:{version}"


def kibana_image(version: str) -> str:
    return f"docker.elastic.co/kibana/kibana:{version}"


@dataclass(frozen=True)
class ElasticHostArgs:
    platform: MonitoredPlatform
    # The internal network (every client) and the edge network (Kibana's published port).
    network: str
    edge_network: str
    prefix: str
    publish_address: str
    kibana_port: int = elastic.KIBANA_PORT
    # Kibana's public URL when the load balancer serves it on a host (links it generates).
    kibana_public_url: str | None = None

    def container(self, name: str) -> str:
        return f"{self.prefix}-{name}"

    @property
    def secrets(self) -> tuple[str, ...]:
        """Every secret the containers' uploads name; the component supplies each."""
        names = [elastic.DOCKER_CA_SECRET, *ES_TLS, *KIBANA_TLS, *KIBANA_KEYS]
        for user in users(self.platform):
            names += [user.secret_name, hash_secret(user)]
        return tuple(names)


def ca_upload(platform: MonitoredPlatform, capability: str) -> Upload:
    """The CA's certificate, where every container that speaks HTTPS to these servers reads it."""
    secret = elastic.DOCKER_CA_SECRET
    return Upload(elastic.ca_file(platform), placeholder(secret), 0o400, (secret,), capability)


def client_uploads(platform: MonitoredPlatform, user: elastic.ElasticUser, capability: str) -> tuple[Upload, ...]:
    """What a client of Elasticsearch is given: the CA and its user's password, as 0400 files."""
    return (ca_upload(platform, capability), secret_file(user.secret_name, capability))


def render_elasticsearch_yml(platform: MonitoredPlatform) -> str:
    config = {
        "cluster.name": f"{platform.namespace}-logs",
        "node.name": elastic.NAME,
        # One host, one node: no discovery, and the transport port stays on loopback.
        "discovery.type": "single-node",
        "network.host": "0.0.0.0",
        "transport.host": "127.0.0.1",
        "http.port": elastic.HTTP_PORT,
        "path.data": f"{ES_HOME}/data",
        "path.logs": f"{ES_HOME}/logs",
        # As on Kubernetes: no mmap, so the host's vm.max_map_count need not be raised.
        "node.store.allow_mmap": False,
        # The backend network has no route out: no GeoIP database downloads.
        "ingest.geoip.downloader.enabled": False,
        "action.destructive_requires_name": True,
        "xpack.security.enabled": True,
        # The file realm (users, users_roles) alone: every user is rendered, none is made by hand.
        "xpack.security.authc.realms.file.file1.order": 0,
        "xpack.security.http.ssl.enabled": True,
        "xpack.security.http.ssl.key": "certs/tls.key",
        "xpack.security.http.ssl.certificate": "certs/tls.crt",
        "xpack.security.http.ssl.certificate_authorities": ["certs/ca.crt"],
        "xpack.security.transport.ssl.enabled": True,
        "xpack.security.transport.ssl.verification_mode": "certificate",
        "xpack.security.transport.ssl.key": "certs/tls.key",
        "xpack.security.transport.ssl.certificate": "certs/tls.crt",
        "xpack.security.transport.ssl.certificate_authorities": ["certs/ca.crt"],
    }
    return "# Rendered by teknofest-platform (components/monitoring/elastic_containers.py).\n" + to_yaml(config)


def render_users(platform: MonitoredPlatform) -> str:
    """The file realm's `users`: name:bcrypt-hash, the hashes filled in by the component."""
    return "".join(f"{user.username}:{placeholder(hash_secret(user))}\n" for user in users(platform))


def render_users_roles(platform: MonitoredPlatform) -> str:
    """`users_roles`: role:user,user (one user per role here)."""
    by_role: dict[str, list[str]] = {}
    for user in users(platform):
        by_role.setdefault(user.role, []).append(user.username)
    return "".join(f"{role}:{','.join(names)}\n" for role, names in sorted(by_role.items()))


START_SCRIPT = f"""#!/bin/bash
# Rendered by teknofest-platform (components/monitoring/elastic_containers.py); do not edit by hand.
# Assembles the node's config directory on tmpfs at every start: the image's own defaults
# (jvm.options, console logging), then the rendered settings, roles, users and certificates.
set -euo pipefail
conf={ES_CONFIG}
rm -rf "$conf"
mkdir -m 0750 "$conf" "$conf/certs"
cp -R {ES_HOME}/config/. "$conf/"
install -m 0640 {CONFIG_DIR}/elasticsearch.yml {CONFIG_DIR}/roles.yml "$conf/"
install -m 0600 {SECRETS_DIR}/users {CONFIG_DIR}/users_roles "$conf/"
install -m 0600 {SECRETS_DIR}/{ES_TLS[0]} "$conf/certs/tls.key"
install -m 0644 {SECRETS_DIR}/{ES_TLS[1]} "$conf/certs/tls.crt"
install -m 0644 {SECRETS_DIR}/{elastic.DOCKER_CA_SECRET}.crt "$conf/certs/ca.crt"
export ES_PATH_CONF="$conf"
# An empty keystore: every setting is in elasticsearch.yml, every secret a file.
[ -f "$conf/elasticsearch.keystore" ] || {ES_HOME}/bin/elasticsearch-keystore create
exec {ES_HOME}/bin/elasticsearch
"""

HEALTH_NETRC = "elasticsearch-health.netrc"


def elasticsearch_container(args: ElasticHostArgs) -> ContainerSpec:
    p = args.platform
    size = sized(p.monitoring.elasticsearch.resources)
    # Half the container's memory to the heap, the rest to the file cache (Elastic's advice).
    heap = max(256, size["memory_mb"] // 2)
    netrc = f"machine localhost login {elastic.MONITOR.username} password {placeholder(elastic.MONITOR.secret_name)}\n"
    return ContainerSpec(
        name=args.container(elastic.NAME),
        image=elasticsearch_image(p.monitoring.elasticsearch.version),
        command=("/bin/bash", f"{CONFIG_DIR}/start-elasticsearch.sh"),
        networks=(NetworkAttachment(args.network, (elastic.NAME,)),),
        **size,
        # Yellow is healthy for one node (no replica has a second node to go to).
        healthcheck=Healthcheck.shell(
            f"curl --silent --fail --cacert {ES_CONFIG}/certs/ca.crt --netrc-file {SECRETS_DIR}/{HEALTH_NETRC} "
            f"'https://localhost:{elastic.HTTP_PORT}/_cluster/health?wait_for_status=yellow&timeout=5s'",
            interval_seconds=15,
            timeout_seconds=10,
            retries=5,
            start_period_seconds=180,
        ),
        user=ELASTIC_UID,
        env=(("ES_JAVA_OPTS", f"-Xms{heap}m -Xmx{heap}m"),),
        uploads=(
            Upload(f"{CONFIG_DIR}/start-elasticsearch.sh", START_SCRIPT, 0o555, capability="elasticsearch"),
            Upload(f"{CONFIG_DIR}/elasticsearch.yml", render_elasticsearch_yml(p), capability="elasticsearch"),
            Upload(f"{CONFIG_DIR}/roles.yml", to_yaml(elastic.roles(p)), capability="elasticsearch"),
            Upload(
                f"{SECRETS_DIR}/users",
                render_users(p),
                0o400,
                tuple(hash_secret(user) for user in users(p)),
                "elasticsearch",
            ),
            # Names and roles only: readable, installed 0600 into the config directory.
            Upload(f"{CONFIG_DIR}/users_roles", render_users_roles(p), capability="elasticsearch"),
            *(secret_file(name, "elasticsearch") for name in ES_TLS),
            ca_upload(p, "elasticsearch"),
            Upload(f"{SECRETS_DIR}/{HEALTH_NETRC}", netrc, 0o400, (elastic.MONITOR.secret_name,), "elasticsearch"),
        ),
        volumes=(VolumeMount(f"{args.container(elastic.NAME)}-data", f"{ES_HOME}/data"),),
        # The JVM maps its native code from /tmp (no noexec); the GC log goes to logs/.
        tmpfs=(("/tmp", "rw,nosuid,size=256m"), (f"{ES_HOME}/logs", "rw,noexec,nosuid,size=256m")),
        stop_grace_seconds=120,
        capability="elasticsearch",
    )


def render_kibana_yml(args: ElasticHostArgs) -> str:
    p = args.platform
    config: dict[str, object] = {
        "server.name": elastic.KIBANA,
        "server.host": "0.0.0.0",
        "server.port": elastic.KIBANA_PORT,
        "server.ssl.enabled": True,
        "server.ssl.key": f"{SECRETS_DIR}/{KIBANA_TLS[0]}",
        "server.ssl.certificate": f"{SECRETS_DIR}/{KIBANA_TLS[1]}",
        "elasticsearch.hosts": [elastic.url(p)],
        "elasticsearch.username": KIBANA_USER.username,
        "elasticsearch.password": placeholder(KIBANA_USER.secret_name),
        "elasticsearch.ssl.certificateAuthorities": [elastic.ca_file(p)],
        "xpack.encryptedSavedObjects.encryptionKey": placeholder(KIBANA_KEYS[0]),
        "xpack.security.encryptionKey": placeholder(KIBANA_KEYS[1]),
        "xpack.reporting.encryptionKey": placeholder(KIBANA_KEYS[2]),
        "path.data": f"{KIBANA_HOME}/data",
        "telemetry.optIn": False,
        "telemetry.allowChangingOptInStatus": False,
        "newsfeed.enabled": False,
    }
    if args.kibana_public_url:
        config["server.publicBaseUrl"] = args.kibana_public_url
    return "# Rendered by teknofest-platform (components/monitoring/elastic_containers.py).\n" + to_yaml(config)


def kibana_container(args: ElasticHostArgs) -> ContainerSpec:
    p = args.platform
    # Kibana's whole config holds its user's password and keys: one secret file.
    secrets = (KIBANA_USER.secret_name, *KIBANA_KEYS)
    return ContainerSpec(
        name=args.container(elastic.KIBANA),
        image=kibana_image(p.monitoring.elasticsearch.version),
        command=(f"{KIBANA_HOME}/bin/kibana", f"--config={SECRETS_DIR}/kibana.yml"),
        networks=(
            NetworkAttachment(args.network, (elastic.KIBANA,)),
            NetworkAttachment(args.edge_network, (elastic.KIBANA,)),
        ),
        **sized(elastic.KIBANA_RESOURCES),
        # 503 while Kibana starts (migrations); 200 or 401 (it asks for a login) once it serves.
        healthcheck=Healthcheck.shell(
            f"curl --silent --output /dev/null --write-out '%{{http_code}}' --cacert {elastic.ca_file(p)} "
            f"https://localhost:{elastic.KIBANA_PORT}/api/status | grep -qE '^(200|401)$'",
            interval_seconds=15,
            timeout_seconds=10,
            retries=5,
            start_period_seconds=300,
        ),
        user=ELASTIC_UID,
        uploads=(
            Upload(f"{SECRETS_DIR}/kibana.yml", render_kibana_yml(args), 0o400, secrets, "kibana"),
            *(secret_file(name, "kibana") for name in KIBANA_TLS),
            ca_upload(p, "kibana"),
        ),
        volumes=(VolumeMount(f"{args.container(elastic.KIBANA)}-data", f"{KIBANA_HOME}/data"),),
        tmpfs=(("/tmp", "rw,noexec,nosuid,size=128m"),),
        ports=(PortBinding(elastic.KIBANA_PORT, args.kibana_port, args.publish_address),),
        after=(args.container(elastic.NAME),),
        capability="kibana",
    )


def exporter_container(args: ElasticHostArgs) -> ContainerSpec:
    p = args.platform
    spec = elastic.exporter_spec(p)
    password = f"{SECRETS_DIR}/{elastic.MONITOR.secret_name}"
    return ContainerSpec(
        name=args.container(elastic.EXPORTER),
        image=spec.image,
        command=(
            "/bin/elasticsearch_exporter",
            *(a.replace("$(POD_IP)", "") for a in spec.args),
        ),
        networks=(NetworkAttachment(args.network, (elastic.EXPORTER,)),),
        **sized(spec.resources),
        healthcheck=Healthcheck.shell(f"wget -q -O /dev/null http://127.0.0.1:{elastic.EXPORTER_PORT}/healthz"),
        user="65534:65534",
        env=(("ES_USERNAME", elastic.MONITOR.username),),
        # The exporter reads its password from the environment only: the wrapper sets it from the file.
        secret_env=(("ES_PASSWORD", password),),
        uploads=client_uploads(p, elastic.MONITOR, "elasticsearch-exporter"),
        after=(args.container(elastic.NAME),),
        capability="elasticsearch-exporter",
    )


RETENTION_OK = "/tmp/retention-ok"


def render_retention_loop() -> str:
    """The CronJob's script, once a day; healthy while the last run succeeded within two days."""
    return f"""#!/bin/sh
# Rendered by teknofest-platform (components/monitoring/elastic_containers.py); do not edit by hand.
while :; do
  if sh {CONFIG_DIR}/retention.sh; then touch {RETENTION_OK}; else echo "retention failed" >&2; fi
  sleep 86400
done
"""


def retention_container(args: ElasticHostArgs) -> ContainerSpec:
    p = args.platform
    return ContainerSpec(
        name=args.container(retention.NAME),
        image=p.images.curl,
        command=("/bin/sh", f"{CONFIG_DIR}/retention-loop.sh"),
        networks=(NetworkAttachment(args.network),),
        memory_mb=64,
        cpus=0.2,
        healthcheck=Healthcheck.shell(
            f"find {RETENTION_OK} -mmin -2880 | grep -q .", interval_seconds=60, start_period_seconds=120
        ),
        user=f"{retention.CURL_USER}:{retention.CURL_USER}",
        env=tuple(sorted(retention.retention_env(p).items())),
        uploads=(
            Upload(f"{CONFIG_DIR}/retention.sh", retention.RETENTION_SCRIPT, 0o555, capability="elasticsearch"),
            Upload(f"{CONFIG_DIR}/retention-loop.sh", render_retention_loop(), 0o555, capability="elasticsearch"),
            *client_uploads(p, elastic.WRITER, "elasticsearch"),
        ),
        tmpfs=(("/tmp", "rw,noexec,nosuid,size=16m"),),
        after=(args.container(elastic.NAME),),
        capability="elasticsearch",
    )


def elastic_containers(args: ElasticHostArgs) -> list[ContainerSpec]:
    return [
        elasticsearch_container(args),
        kibana_container(args),
        exporter_container(args),
        retention_container(args),
    ]


def elastic_volumes(args: ElasticHostArgs) -> list[VolumeSpec]:
    return [
        VolumeSpec(f"{args.container(elastic.NAME)}-data", "elasticsearch data"),
        VolumeSpec(f"{args.container(elastic.KIBANA)}-data", "kibana data"),
    ]
