"""Grants held to what their clients do, read from the render (pure).

For every identity the program creates: what it is granted covers what its clients (as rendered:
their configs, environment and Helm values) read and write, and nothing more. Elasticsearch's roles
are compared index by index; the database role, the broker's users and the UIs' basic-auth users
and Redis's ACL users by what they can reach. A finding names the identity and what is missing or
extra.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from components.monitoring import elastic
from components.rabbitmq import manifests as broker
from stacks.instances import RABBITMQ
from stacks.monitored import monitored_platform
from stacks.settings import PlatformSettings
from stacks.validate import Finding

# An index name of each daily pattern, to match grants against (dates as each writer formats them).
_SAMPLE_DAY = {"logstash": "2026.12.02", "jaeger": "2026-12-02"}


@dataclass(frozen=True)
class IndexUse:
    client: str
    username: str
    index: str  # a concrete name, or a pattern the client lists or deletes by


def _find(value: Any, key: str) -> list[Any]:
    """Every value under `key` anywhere in a nested structure."""
    found = []
    if isinstance(value, Mapping):
        for k, item in value.items():
            if k == key:
                found.append(item)
            found += _find(item, key)
    elif isinstance(value, list):
        for item in value:
            found += _find(item, key)
    return found


def _env(manifest: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    template = manifest["spec"].get("jobTemplate", {}).get("spec", manifest["spec"])["template"]
    return [e for c in template["spec"]["containers"] for e in c.get("env", [])]


def index_uses(
    configs: Mapping[str, str], manifests: Mapping[str, Mapping[str, Any]], releases: Mapping[str, Mapping[str, Any]]
) -> list[IndexUse]:
    """What each client does in Elasticsearch, as which user, read from what the program renders."""
    users_by_secret = {user.secret_name: user.username for user in elastic.USERS}
    uses: list[IndexUse] = []
    shipper = yaml.safe_load(configs.get("log_shipper/config.yaml", "")) or {}
    for name, exporter in (shipper.get("exporters") or {}).items():
        if name.startswith("elasticsearch"):
            authenticator = exporter["auth"]["authenticator"]
            username = shipper["extensions"][authenticator]["client_auth"]["username"]
            day = _SAMPLE_DAY["logstash"] if exporter.get("logstash_format", {}).get("enabled") else ""
            uses.append(
                IndexUse("log-shipper", username, f"{exporter['logs_index']}-{day}" if day else exporter["logs_index"])
            )
    jaeger = yaml.safe_load(configs.get("jaeger/config.yaml", "")) or {}
    for storage in _find(jaeger, "elasticsearch"):
        prefix = storage["indices"]["index_prefix"]
        username = storage["auth"]["basic"]["username"]
        uses += [
            IndexUse("jaeger", username, f"{prefix}-jaeger-{kind}-{_SAMPLE_DAY['jaeger']}")
            for kind in ("span", "service")
        ]
    for m in manifests.values():
        env = {e["name"]: e for e in _env(m)} if m["kind"] in ("CronJob", "Deployment") else {}
        if m["kind"] == "CronJob" and "ES_USERNAME" in env:
            username = env["ES_USERNAME"]["value"]
            uses += [
                IndexUse(m["metadata"]["name"], username, env[key]["value"]) for key in ("LOG_PATTERN", "TRACE_PATTERN")
            ]
        elif m["kind"] == "Deployment" and "ES_USERNAME" in env:
            secret = env["ES_USERNAME"]["valueFrom"]["secretKeyRef"]["name"]
            # --es.indices: statistics of every index.
            uses.append(IndexUse(m["metadata"]["name"], users_by_secret.get(secret, secret), "*"))
    for release in releases.values():
        for source in _find(release.get("values") or {}, "additionalDataSources"):
            for datasource in source:
                if datasource.get("type") == "elasticsearch":
                    uses.append(IndexUse("grafana", datasource["basicAuthUser"], datasource["jsonData"]["index"]))
    return uses


def _covers(pattern: str, index: str) -> bool:
    """Whether a grant's index pattern covers a used name or every name of a used pattern."""
    return fnmatch.fnmatchcase(index.replace("*", "x"), pattern)


def elasticsearch_grant_findings(settings: PlatformSettings, uses: list[IndexUse]) -> list[Finding]:
    rows = elastic.index_access(monitored_platform(settings))
    usernames = {user.username for user in elastic.USERS}
    findings = []
    for use in uses:
        label = f"elasticsearch user {use.username}"
        if use.username not in usernames:
            findings.append(Finding(label, f"{use.client} signs in as a user the program does not create"))
            continue
        row = next((r for r in rows if r.client == use.client and r.user.username == use.username), None)
        if row is None:
            findings.append(Finding(label, f"{use.client} uses it, but no access row grants {use.client} anything"))
        elif not any(_covers(pattern, use.index) for pattern in row.indices):
            findings.append(
                Finding(label, f"{use.client} uses {use.index}, which its grants {list(row.indices)} do not cover")
            )
    for row in rows:
        label = f"elasticsearch user {row.user.username}"
        mine = [use for use in uses if use.client == row.client and use.username == row.user.username]
        if not mine:
            findings.append(Finding(label, f"grants {row.client} access that no rendered client of that name uses"))
        for pattern in row.indices:
            if mine and not any(_covers(pattern, use.index) for use in mine):
                findings.append(Finding(label, f"grants {row.client} {pattern}, which it never reads or writes"))
    return findings


def postgres_grant_findings(manifests: Mapping[str, Mapping[str, Any]]) -> list[Finding]:
    """The application role owns its one database and nothing else: no superuser, no managed roles;
    every pod that reaches the database does so with the client Secret's URL."""
    findings = []
    for label, m in manifests.items():
        if m["kind"] != "Cluster" or not m["apiVersion"].startswith("postgresql.cnpg.io/"):
            continue
        spec = m["spec"]
        if spec.get("enableSuperuserAccess", True):
            findings.append(Finding(label, "the superuser is reachable (enableSuperuserAccess)"))
        if spec.get("managed", {}).get("roles"):
            findings.append(Finding(label, "managed roles beyond the application's owner role"))
        bootstrap = spec["bootstrap"].get("initdb") or spec["bootstrap"].get("recovery") or {}
        if not bootstrap.get("owner") or not bootstrap.get("database"):
            findings.append(Finding(label, "no application owner and database"))
    return findings


def basic_auth_findings(configs: Mapping[str, str]) -> list[Finding]:
    """Each UI's basic-auth users open that UI and nothing else: one userlist per published UI, with
    one user, checked only where the request is for that UI's host."""
    text = configs.get("load_balancer/haproxy.cfg", "")
    findings = []
    userlists: dict[str, list[str]] = {}
    current = None
    for line in text.splitlines():
        if line.startswith("userlist "):
            current = line.split()[1]
            userlists[current] = []
        elif not line.startswith(" "):
            current = None
        elif current is not None:
            userlists[current].append(line.strip())
    for name, users in sorted(userlists.items()):
        label = f"haproxy userlist {name}"
        if len(users) != 1:
            findings.append(Finding(label, f"{len(users)} users; one generated user per UI"))
        uses = [line.strip() for line in text.splitlines() if f"http_auth({name})" in line]
        expected = f"if host_{name} !{{ http_auth({name}) }}"
        if len(uses) != 1 or not uses[0].endswith(expected):
            findings.append(Finding(label, f"used by {uses or 'no rule'}; only its own host may ask for it"))
    return findings


def _secret_refs(manifests: Mapping[str, Mapping[str, Any]]) -> list[tuple[str, str]]:
    """(pod owner or KEDA authentication, Secret name) of every Secret a pod's env or KEDA reads."""
    refs = []
    for label, m in manifests.items():
        if m["kind"] in ("Deployment", "StatefulSet", "DaemonSet", "CronJob"):
            refs += [
                (label, e["valueFrom"]["secretKeyRef"]["name"])
                for e in _env(m)
                if "secretKeyRef" in e.get("valueFrom", {})
            ]
        elif m["kind"] == "TriggerAuthentication":
            refs += [(label, ref["name"]) for ref in m["spec"].get("secretTargetRef", [])]
    return refs


def rabbitmq_grant_findings(manifests: Mapping[str, Mapping[str, Any]]) -> list[Finding]:
    """The broker's clients sign in as the application user, which has no tags and every permission
    on its own vhost only; the administrator (the operator's default user) reaches no pod; the
    broker imports exactly the rendered definitions."""
    clusters = [m for m in manifests.values() if m["kind"] == "RabbitmqCluster"]
    if not clusters:
        return []
    findings = []
    imported = broker.definitions("admin-placeholder", "app-placeholder")
    tags = {user["name"]: user["tags"] for user in imported["users"]}
    vhosts = {(p["user"], p["vhost"]) for p in imported["permissions"]}
    label = f"rabbitmq user {broker.APP_USER}"
    if tags.get(broker.APP_USER):
        findings.append(Finding(label, f"tags {tags[broker.APP_USER]}: the application needs none"))
    if {vhost for user, vhost in vhosts if user == broker.APP_USER} != {broker.VHOST}:
        findings.append(Finding(label, f"permissions beyond its vhost {broker.VHOST}"))
    for owner, secret in _secret_refs(manifests):
        if secret == RABBITMQ.default_user_secret:
            findings.append(Finding(f"rabbitmq user {broker.ADMIN_USER}", f"{owner} reads the administrator's Secret"))
    for cluster in clusters:
        config = cluster["spec"]["rabbitmq"]["additionalConfig"]
        mounts = [
            mount["mountPath"]
            for container in cluster["spec"]["override"]["statefulSet"]["spec"]["template"]["spec"]["containers"]
            for mount in container.get("volumeMounts", [])
        ]
        path = f"{broker.DEFINITIONS_DIR}/definitions.json"
        if f"definitions.local.path = {path}" not in config or broker.DEFINITIONS_DIR not in mounts:
            findings.append(Finding(label, "the broker does not import the rendered definitions"))
    return findings


def redis_grant_findings(configs: Mapping[str, str], manifests: Mapping[str, Mapping[str, Any]]) -> list[Finding]:
    """Redis's ACL users as the rendered start-up script writes them: the default user off, the
    application's without administration or dangerous commands, the others without any key; and
    only Redis's own pods read the users' passwords (the application gets its URL from redis-client)."""
    script = configs.get("redis/redis-start.sh", "")
    if not script:
        return []
    findings = []
    users = {}
    for line in script.splitlines():
        words = line.replace("'", " ").replace('"', " ").split()
        if len(words) > 3 and words[:2] == ["echo", "user"]:
            users[words[2]] = words[3:]
    if users.get("default") != ["off"]:
        findings.append(Finding("redis default user", "is not switched off"))
    app = users.get("app", [])
    if not {"-@admin", "-@dangerous"} <= set(app):
        findings.append(Finding("redis user app", f"may administer or run dangerous commands: {app}"))
    for name, rules in users.items():
        if name in ("default", "app"):
            continue
        if "+@all" in rules or any(rule.startswith("~") or rule == "allkeys" for rule in rules):
            findings.append(Finding(f"redis user {name}", f"reaches keys or every command: {rules}"))
    redis_pods = {"redis", "redis-sentinel", "redis-master"}
    readers = {
        manifests[owner]["metadata"]["name"] for owner, secret in _secret_refs(manifests) if secret == "redis-auth"
    }
    findings += [Finding("redis users", f"{name} reads redis-auth") for name in sorted(readers - redis_pods)]
    return findings


def grant_findings(
    settings: PlatformSettings,
    configs: Mapping[str, str],
    manifests: Mapping[str, Mapping[str, Any]],
    releases: Mapping[str, Mapping[str, Any]],
) -> list[Finding]:
    findings = [
        *postgres_grant_findings(manifests),
        *basic_auth_findings(configs),
        *rabbitmq_grant_findings(manifests),
        *redis_grant_findings(configs, manifests),
    ]
    if settings.monitoring.enabled and settings.monitoring.elasticsearch.enabled:
        findings += elasticsearch_grant_findings(settings, index_uses(configs, manifests, releases))
    return findings
