"""Pure renderers for Redis with Sentinel: redis.conf, sentinel.conf and the two start-up scripts.

Passwords are never rendered: the start-up scripts write them, from the environment (Kubernetes
Secrets), into a runtime file beside the config. The same text serves Kubernetes (hostnames of the
StatefulSet pods) and the integration tests (127.0.0.1 and other ports).
"""

from __future__ import annotations

from dataclasses import dataclass

MASTER_NAME = "teknofest"


@dataclass(frozen=True)
class AclUser:
    """A Redis ACL user: its password comes from `password_env` at start-up, never from a file."""

    name: str
    password_env: str
    rules: str
    why: str


# Each client signs in as the user for what it does; the default user is off.
APP_USER = AclUser(
    "app",
    "REDIS_PASSWORD",
    "~* &* +@all -@admin -@dangerous",
    "the application and Celery: every key and channel, no administration, no dangerous commands",
)
REPLICA_USER = AclUser(
    "replica", "REDIS_REPLICATION_PASSWORD", "+psync +replconf +ping", "replicas replicating from the master"
)
SENTINEL_USER = AclUser(
    "sentinel",
    "REDIS_SENTINEL_AUTH_PASSWORD",
    "&* +multi +slaveof +ping +exec +subscribe +config|rewrite +role +publish +info +client|setname +client|kill"
    " +script|kill",
    "Sentinel monitoring Redis and reconfiguring it on a failover (Redis's documented Sentinel ACL)",
)
MONITOR_USER = AclUser(
    "monitor",
    "REDIS_MONITOR_PASSWORD",
    # No CONFIG GET: it would read masterauth, and with it the whole data set through replication.
    "+ping +info +role +quit +client|setname +slowlog|len +latency|latest +select +dbsize",
    "probes, the redis-master health check and the exporter: server state only, no keys, no config",
)
ACL_USERS = (APP_USER, REPLICA_USER, SENTINEL_USER, MONITOR_USER)


@dataclass(frozen=True)
class RedisInputs:
    maxmemory_bytes: int
    maxmemory_policy: str
    min_replicas_to_write: int
    min_replicas_max_lag_seconds: int
    quorum: int
    down_after_milliseconds: int
    failover_timeout_milliseconds: int
    parallel_syncs: int
    port: int = 6379
    sentinel_port: int = 26379
    # In a pod: every address of its own network namespace; in tests: 127.0.0.1.
    bind: str = "0.0.0.0"
    data_dir: str = "/data"
    runtime_dir: str = "/run/redis"


def render_redis_conf(cfg: RedisInputs) -> str:
    return "\n".join(
        [
            "# Rendered by teknofest-platform (components/redis/redis_config.py); do not edit by hand.",
            f"port {cfg.port}",
            f"bind {cfg.bind}",
            "protected-mode yes",
            f"dir {cfg.data_dir}",
            # AOF every second bounds the loss of a crash to about one second of writes.
            "appendonly yes",
            "appendfsync everysec",
            "aof-use-rdb-preamble yes",
            "save 3600 1 300 100 60 10000",
            f"maxmemory {cfg.maxmemory_bytes}",
            f"maxmemory-policy {cfg.maxmemory_policy}",
            # A master cut off from its replicas stops taking writes: bounded loss on a partition.
            f"min-replicas-to-write {cfg.min_replicas_to_write}",
            f"min-replicas-max-lag {cfg.min_replicas_max_lag_seconds}",
            "replica-read-only yes",
            "replica-serve-stale-data yes",
            "repl-diskless-sync yes",
            "tcp-keepalive 60",
            "timeout 0",
            # Dangerous administrative commands are not for application clients.
            'rename-command FLUSHALL ""',
            'rename-command DEBUG ""',
            # Passwords, announced address and the replicaof line, written by redis-start.sh.
            f"include {cfg.runtime_dir}/runtime.conf",
            "",
        ]
    )


def render_sentinel_conf(cfg: RedisInputs) -> str:
    """A template: redis-start finds the current master and fills @MASTER_HOST@ @MASTER_PORT@."""
    return "\n".join(
        [
            "# Rendered by teknofest-platform (components/redis/redis_config.py); do not edit by hand.",
            f"port {cfg.sentinel_port}",
            f"bind {cfg.bind}",
            f"dir {cfg.runtime_dir}",
            # Pods come and go with new IPs: Sentinel tracks and announces their stable DNS names.
            "sentinel resolve-hostnames yes",
            "sentinel announce-hostnames yes",
            f"sentinel monitor {MASTER_NAME} @MASTER_HOST@ @MASTER_PORT@ {cfg.quorum}",
            f"sentinel down-after-milliseconds {MASTER_NAME} {cfg.down_after_milliseconds}",
            f"sentinel failover-timeout {MASTER_NAME} {cfg.failover_timeout_milliseconds}",
            f"sentinel parallel-syncs {MASTER_NAME} {cfg.parallel_syncs}",
            "",
        ]
    )


_FIND_MASTER = f"""
# Prints "host port" of the master the Sentinels know, or nothing when none answers.
find_master() {{
  for address in $SENTINEL_ADDRESSES; do
    answer=$(REDISCLI_AUTH="$SENTINEL_PASSWORD" timeout 3 redis-cli -h "${{address%:*}}" -p "${{address##*:}}" \\
      --raw sentinel get-master-addr-by-name {MASTER_NAME} 2>/dev/null) || continue
    set -- $answer
    if [ $# -eq 2 ]; then
      echo "$1 $2"
      return 0
    fi
  done
}}
"""

_COMMON = """#!/bin/sh
# Environment: ANNOUNCE_HOST (this pod's stable name), REDIS_PORT, SENTINEL_PORT,
# SENTINEL_ADDRESSES ("host:port ..."), BOOTSTRAP_MASTER ("host:port" of the first master),
# REDIS_PASSWORD, REDIS_REPLICATION_PASSWORD, REDIS_SENTINEL_AUTH_PASSWORD, REDIS_MONITOR_PASSWORD
# (Redis's ACL users), SENTINEL_PASSWORD (the Sentinels' own), CONFIG_DIR (rendered files),
# RUNTIME_DIR (writable).
set -eu
umask 077
"""


def _acl_lines() -> str:
    # Quoted so that a rule's characters reach redis.conf as written.
    return "\n".join(f"  echo 'user {u.name} on '\">${u.password_env}\"' {u.rules}'" for u in ACL_USERS)


def render_redis_start(cfg: RedisInputs) -> str:
    """Asks the Sentinels for the current master before Redis starts, so a restarted old master
    rejoins as a replica instead of coming back as a second master."""
    return (
        _COMMON
        + _FIND_MASTER
        + f"""
port="${{REDIS_PORT:-{cfg.port}}}"
runtime="${{RUNTIME_DIR:-{cfg.runtime_dir}}}"
master=$(find_master)
# Users in their own file: CONFIG REWRITE (Sentinel's, on a failover) never copies them into a config.
{{
  echo "user default off"
{_acl_lines()}
}} > "$runtime/users.acl"
{{
  echo "aclfile $runtime/users.acl"
  echo "masteruser {REPLICA_USER.name}"
  echo "masterauth ${REPLICA_USER.password_env}"
  echo "replica-announce-ip $ANNOUNCE_HOST"
  echo "replica-announce-port $port"
  if [ -z "$master" ]; then
    # No Sentinel answers: a new cluster. The bootstrap pod starts as master, the others follow it.
    if [ "$ANNOUNCE_HOST:$port" != "$BOOTSTRAP_MASTER" ]; then
      echo "replicaof ${{BOOTSTRAP_MASTER%:*}} ${{BOOTSTRAP_MASTER##*:}}"
    fi
  elif [ "$master" != "$ANNOUNCE_HOST $port" ]; then
    echo "replicaof $master"
  fi
}} > "$runtime/runtime.conf"
echo "redis-start: master known to the Sentinels: ${{master:-none}}" >&2
exec redis-server "${{CONFIG_DIR:-/etc/redis}}/redis.conf" --port "$port"
"""
    )


def render_sentinel_start(cfg: RedisInputs) -> str:
    """Starts a Sentinel monitoring the master the other Sentinels know (the bootstrap master on a
    new cluster); Sentinel rewrites its config, so it runs from a copy in the runtime directory."""
    return (
        _COMMON
        + _FIND_MASTER
        + f"""
port="${{SENTINEL_PORT:-{cfg.sentinel_port}}}"
runtime="${{RUNTIME_DIR:-{cfg.runtime_dir}}}"
master=$(find_master)
[ -n "$master" ] || master="${{BOOTSTRAP_MASTER%:*}} ${{BOOTSTRAP_MASTER##*:}}"
set -- $master
template="${{CONFIG_DIR:-/etc/redis}}/sentinel.conf"
sed -e "s/@MASTER_HOST@/$1/" -e "s/@MASTER_PORT@/$2/" "$template" > "$runtime/sentinel.conf"
cat >> "$runtime/sentinel.conf" <<EOF
requirepass $SENTINEL_PASSWORD
sentinel sentinel-pass $SENTINEL_PASSWORD
sentinel auth-user {MASTER_NAME} {SENTINEL_USER.name}
sentinel auth-pass {MASTER_NAME} ${SENTINEL_USER.password_env}
sentinel announce-ip $ANNOUNCE_HOST
sentinel announce-port $port
EOF
exec redis-sentinel "$runtime/sentinel.conf" --port "$port"
"""
    )
