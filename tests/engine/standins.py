"""Stand-ins for the pinned images of the docker target, built from Debian's packages.

No image registry is reachable here, so each pinned image the engine tier runs is replaced by an
image built on a debootstrapped Debian that reproduces what the program relies on from it: the
binaries at the paths the rendered commands name, the user and uid the containers run as, the
directories the volumes mount over and the image's own entrypoint and environment. The versions
differ (Debian's), and the table printed by the tier says by how much. Images Debian cannot
stand in for are listed in NOT_EXERCISED with the reason; their containers are left out.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

APP_SOURCE = Path(__file__).resolve().parent / "standin_app"
# A stand-in's tag: its name and a digest of its recipe (the base image included), so that a
# changed recipe builds anew and an unchanged one is found in the engine's cache.
REPOSITORY = "teknofest-standin"


@dataclass(frozen=True)
class StandIn:
    """What to build in place of one pinned image."""

    name: str
    # The pinned references it stands in for (a prefix match: tags and digests of one image).
    pins: tuple[str, ...]
    packages: tuple[str, ...]
    # Shell run before the packages are installed (users with the image's uid, so that the
    # packages' own maintainer scripts find them) and after (paths, directories).
    before: tuple[str, ...] = ()
    after: tuple[str, ...] = ()
    user: str = ""
    workdir: str = ""
    env: tuple[tuple[str, str], ...] = ()
    entrypoint: tuple[str, ...] = ()
    # The command that prints the stand-in's version, for the table.
    version_command: str = ""
    # The stand-in API's sources are copied in (the application image's /app).
    app: bool = False
    relies_on: str = ""

    def dockerfile(self, base: str) -> str:
        lines = [f"FROM {base}", "ENV DEBIAN_FRONTEND=noninteractive"]
        if self.before:
            lines.append("RUN " + " \\\n && ".join(self.before))
        lines.append(
            "RUN apt-get update -qq \\\n && apt-get install -y -qq --no-install-recommends "
            + " ".join(self.packages)
            + " >/dev/null \\\n && rm -rf /var/lib/apt/lists/*"
        )
        if self.after:
            lines.append("RUN " + " \\\n && ".join(self.after))
        if self.app:
            lines.append("COPY src /app/src")
        for key, value in self.env:
            lines.append(f"ENV {key}={value}")
        if self.workdir:
            lines.append(f"WORKDIR {self.workdir}")
        if self.user:
            lines.append(f"USER {self.user}")
        if self.entrypoint:
            lines.append("ENTRYPOINT [" + ", ".join(f'"{part}"' for part in self.entrypoint) + "]")
        return "\n".join(lines) + "\n"

    def context_files(self) -> dict[str, bytes]:
        """The build context: the Dockerfile and, for the API, the stand-in application."""
        files: dict[str, bytes] = {}
        if self.app:
            for path in sorted(APP_SOURCE.rglob("*.py")):
                files[str(path.relative_to(APP_SOURCE))] = path.read_bytes()
        return files

    def tag(self, base: str) -> str:
        digest = hashlib.sha256(self.dockerfile(base).encode())
        for name, content in sorted(self.context_files().items()):
            digest.update(name.encode() + b"\0" + content)
        return f"{REPOSITORY}/{self.name}:{digest.hexdigest()[:16]}"


def _user(name: str, uid: int, home: str) -> str:
    return f"groupadd -r -g {uid} {name} && useradd -r -g {name} -u {uid} -d {home} -s /usr/sbin/nologin {name}"


STANDINS: tuple[StandIn, ...] = (
    StandIn(
        "haproxy",
        ("docker.io/library/haproxy:",),
        ("haproxy", "ca-certificates"),
        # The package makes a system user (uid 100-999) and refuses an existing one outside that
        # range: the image's uid is given to it afterwards.
        after=(
            "groupmod -g 99 haproxy && usermod -u 99 -g 99 haproxy && chown -R haproxy:haproxy /var/lib/haproxy",
            "ln -s /usr/sbin/haproxy /usr/local/sbin/haproxy",
            "mkdir -p /usr/local/etc/haproxy",
        ),
        user="haproxy",
        workdir="/var/lib/haproxy",
        version_command="haproxy -v | head -1",
        relies_on="haproxy on PATH, /bin/sh, user haproxy 99:99",
    ),
    StandIn(
        "redis",
        ("docker.io/library/redis:",),
        ("redis-server", "redis-sentinel", "redis-tools"),
        before=(_user("redis", 999, "/data"),),
        after=(
            "ln -s /usr/bin/redis-server /usr/local/bin/redis-server",
            "ln -s /usr/bin/redis-sentinel /usr/local/bin/redis-sentinel",
            "ln -s /usr/bin/redis-cli /usr/local/bin/redis-cli",
            "install -d -o redis -g redis /data",
        ),
        user="redis",
        workdir="/data",
        version_command="redis-server --version",
        relies_on="redis-server, redis-sentinel, redis-cli on PATH, /bin/sh, user redis 999:999, /data",
    ),
    StandIn(
        "rabbitmq",
        ("docker.io/library/rabbitmq:",),
        ("rabbitmq-server",),
        before=(_user("rabbitmq", 999, "/var/lib/rabbitmq"),),
        after=(
            "install -d -o rabbitmq -g rabbitmq /var/lib/rabbitmq /etc/rabbitmq",
            # 3.10 still writes an upgrade log file (4.x logs to the console only): onto /tmp.
            "rm -rf /var/log/rabbitmq && ln -s /tmp /var/log/rabbitmq",
            # 3.10 refuses settings of 4.x (the pinned version): a wrapper drops those lines into
            # a copy on /tmp, as the daemon tier does (test_rabbitmq_definitions.py), and runs it.
            "printf '%s\\n' '#!/bin/sh' 'set -eu' "
            '\'grep -v "^default_queue_type" "$RABBITMQ_CONFIG_FILE.conf" > /tmp/rabbitmq-3.10.conf\' '
            "'RABBITMQ_CONFIG_FILE=/tmp/rabbitmq-3.10; export RABBITMQ_CONFIG_FILE' "
            "'exec /usr/lib/rabbitmq/bin/rabbitmq-server \"$@\"' > /usr/local/bin/rabbitmq-server",
            "chmod 0755 /usr/local/bin/rabbitmq-server",
        ),
        # The image runs the server itself (PATH /opt/rabbitmq/sbin), not Debian's su wrapper.
        env=(
            ("PATH", "/usr/local/bin:/usr/lib/rabbitmq/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin"),
            ("RABBITMQ_LOGS", "-"),
            ("HOME", "/var/lib/rabbitmq"),
        ),
        user="rabbitmq",
        version_command="dpkg-query -W -f='rabbitmq-server ${Version}\\n' rabbitmq-server",
        relies_on="rabbitmq-server and rabbitmq-diagnostics on PATH, user rabbitmq 999:999, /var/lib/rabbitmq "
        "(3.10 lacks 4.x's default_queue_type: dropped by the stand-in's wrapper; clients declare quorum queues)",
    ),
    StandIn(
        "postgres",
        ("docker.io/library/postgres:",),
        ("postgresql-15", "postgresql-client-15", "ca-certificates"),
        before=(_user("postgres", 999, "/var/lib/postgresql"),),
        after=(
            # The official image's layout: its version's bin directory on PATH, PGDATA, sockets.
            "install -d -o postgres -g postgres -m 0700 /var/lib/postgresql/data",
            "install -d -o postgres -g postgres -m 2777 /var/run/postgresql",
            # Debian's PgBouncer is 1.18 (the image's, from PGDG, is newer): a wrapper drops the
            # 1.21+ max_prepared_statements into a copy on /tmp, as the daemon tier does.
            "printf '%s\\n' '#!/bin/sh' 'set -eu' "
            "'grep -v \"^max_prepared_statements\" \"$1\" > /tmp/pgbouncer-1.18.ini' 'shift' "
            "'exec /usr/sbin/pgbouncer /tmp/pgbouncer-1.18.ini \"$@\"' > /usr/local/bin/pgbouncer",
            "chmod 0755 /usr/local/bin/pgbouncer",
        ),
        env=(
            ("PATH", "/usr/lib/postgresql/15/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"),
            ("PGDATA", "/var/lib/postgresql/data"),
        ),
        version_command="postgres --version",
        relies_on="postgres, initdb, pg_ctl, pg_basebackup, psql on PATH, user postgres 999:999, PGDATA "
        "(PgBouncer 1.18 lacks max_prepared_statements: dropped by the stand-in's wrapper)",
    ),
    StandIn(
        "prometheus",
        ("quay.io/prometheus/prometheus:",),
        ("prometheus", "wget"),
        after=("install -d -o nobody -g nogroup /prometheus",),
        user="nobody",
        workdir="/prometheus",
        entrypoint=("/bin/prometheus",),
        version_command="prometheus --version 2>&1 | head -1",
        relies_on="/bin/prometheus, wget (busybox in the image), user nobody 65534, /prometheus",
    ),
    StandIn(
        "alertmanager",
        ("quay.io/prometheus/alertmanager:",),
        ("prometheus-alertmanager", "wget"),
        after=("ln -s /usr/bin/prometheus-alertmanager /bin/alertmanager", "install -d -o nobody /alertmanager"),
        user="nobody",
        workdir="/alertmanager",
        entrypoint=("/bin/alertmanager",),
        version_command="alertmanager --version 2>&1 | head -1",
        relies_on="/bin/alertmanager, wget, user nobody 65534, /alertmanager",
    ),
    StandIn(
        "postgres-exporter",
        ("quay.io/prometheuscommunity/postgres-exporter:",),
        ("prometheus-postgres-exporter", "wget"),
        after=("ln -s /usr/bin/prometheus-postgres-exporter /bin/postgres_exporter",),
        user="nobody",
        entrypoint=("/bin/postgres_exporter",),
        version_command="postgres_exporter --version 2>&1 | head -1",
        relies_on="/bin/postgres_exporter, wget, user nobody 65534",
    ),
    StandIn(
        "redis-exporter",
        ("docker.io/oliver006/redis_exporter:",),
        ("prometheus-redis-exporter",),
        before=(_user("exporter", 59000, "/"),),
        after=("ln -s /usr/bin/prometheus-redis-exporter /redis_exporter",),
        user="59000:59000",
        entrypoint=("/redis_exporter",),
        version_command="dpkg-query -W -f='redis_exporter ${Version}\\n' prometheus-redis-exporter",
        relies_on="/redis_exporter, user 59000:59000",
    ),
    StandIn(
        "api",
        ("ghcr.io/teknofest/egitim-eylemci-api:",),
        (
            "python3",
            "python-is-python3",
            "gunicorn",
            "python3-uvicorn",
            "python3-celery",
            "python3-redis",
            "python3-psycopg2",
        ),
        before=(_user("app", 10001, "/app"),),
        # Debian packages the module without the `celery` program the image has on PATH.
        after=(
            "printf '#!/bin/sh\\nexec python3 -m celery \"$@\"\\n' > /usr/local/bin/celery",
            "chmod 0755 /usr/local/bin/celery",
        ),
        user="10001:10001",
        workdir="/app",
        env=(("PYTHONDONTWRITEBYTECODE", "1"), ("PYTHONUNBUFFERED", "1")),
        app=True,
        version_command="python -c 'import celery, gunicorn, uvicorn; "
        'print("gunicorn", gunicorn.__version__, "uvicorn", uvicorn.__version__, "celery", celery.__version__)\'',
        relies_on="gunicorn, celery, python on PATH, src.app:app and src.celery_app in /app, user 10001",
    ),
)

# Pinned images no Debian package stands in for: their containers are not run on the engine.
NOT_EXERCISED: dict[str, str] = {
    "docker.io/grafana/grafana:": "Grafana is not packaged by Debian",
    "docker.io/grafana/loki:": "Loki is not packaged by Debian",
    "docker.io/jaegertracing/jaeger:": "Jaeger is not packaged by Debian",
    "docker.io/otel/opentelemetry-collector-contrib:": "the OpenTelemetry Collector is not packaged by Debian",
    "docker.io/danihodovic/celery-exporter:": "celery-exporter is not packaged by Debian",
    "docker.io/mher/flower:": "Flower is not packaged by Debian (bookworm)",
    "docker.elastic.co/": "Elasticsearch and Kibana are not packaged by Debian",
}


def standin_for(reference: str) -> StandIn | None:
    for standin in STANDINS:
        if reference.startswith(standin.pins):
            return standin
    return None


def not_exercised_because(reference: str) -> str | None:
    for prefix, reason in NOT_EXERCISED.items():
        if reference.startswith(prefix):
            return reason
    return None
