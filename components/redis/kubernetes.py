"""RedisCluster: Redis master + replicas with three Sentinels, and the "redis-master" endpoint."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_random as random

from components.common.kubernetes.manifests import secret_manifest
from components.common.kubernetes.resources import NO_CRD_INSTALLERS, CrdInstallers, create
from components.common.names import require_instance_name
from components.redis.manifests import RedisSpec, acl_password_key, redis_manifests
from components.redis.redis_config import ACL_USERS, APP_USER, MASTER_NAME


@dataclass(frozen=True)
class RedisClusterArgs:
    """What to build (every object is named after `spec.name`, so instances coexist)."""

    spec: RedisSpec
    # Installer of the ServiceMonitor's CRD (Prometheus Operator), where this program installs it.
    crds: CrdInstallers = NO_CRD_INSTALLERS


class RedisCluster(pulumi.ComponentResource):
    master_endpoint: str
    sentinel_endpoint: str
    master_name: str
    client_secret_name: str
    url: pulumi.Output[str]

    def __init__(self, name: str, args: RedisClusterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        require_instance_name("RedisCluster", name, args.spec.name)
        super().__init__("teknofest:platform:RedisCluster", name, None, opts)
        spec = args.spec
        child = pulumi.ResourceOptions(parent=self)
        # One password per ACL user ("<name>-password" keeps the application's from before ACLs, the
        # others "<name>-<user>-user-password"), and the Sentinels' own "<name>-sentinel-password"
        # (the sentinel ACL user's once shared that logical name: a duplicate URN).
        acl_passwords = {
            user.name: random.RandomPassword(
                f"{name}-password" if user == APP_USER else f"{name}-{user.name}-user-password",
                length=40,
                special=False,
                opts=child,
            )
            for user in ACL_USERS
        }
        password = acl_passwords[APP_USER.name]
        sentinel_password = random.RandomPassword(f"{name}-sentinel-password", length=40, special=False, opts=child)
        names = spec.names
        labels = spec.labels(names.redis, "cache", spec.image)
        ns = spec.namespace
        self.master_endpoint = f"{names.master_proxy}.{ns}.svc:6379"
        self.sentinel_endpoint = f"{names.sentinel}.{ns}.svc:26379"
        self.master_name = MASTER_NAME
        self.client_secret_name = names.client_secret
        app = APP_USER.name
        self.url = pulumi.Output.secret(
            password.result.apply(lambda pw: f"redis://{app}:{pw}@{self.master_endpoint}/0")
        )
        auth = create(
            secret_manifest(
                names.auth_secret,
                ns,
                labels,
                {
                    **{
                        acl_password_key(user): pulumi.Output.secret(acl_passwords[user.name].result)
                        for user in ACL_USERS
                    },
                    "sentinel-password": pulumi.Output.secret(sentinel_password.result),
                },
            ),
            child,
        )
        # What application pools read: URLs and the Sentinel coordinates, never plain config.
        client = create(
            secret_manifest(
                names.client_secret,
                ns,
                labels,
                {
                    "url": self.url,
                    # Celery results in their own database, apart from the application's cache.
                    "celery-result-backend": pulumi.Output.secret(
                        password.result.apply(lambda pw: f"redis://{app}:{pw}@{self.master_endpoint}/1")
                    ),
                    "username": app,
                    "password": pulumi.Output.secret(password.result),
                    "sentinel-password": pulumi.Output.secret(sentinel_password.result),
                },
            ),
            child,
        )
        after_secrets = pulumi.ResourceOptions(parent=self, depends_on=[auth, client])
        for manifest in redis_manifests(spec):
            create(manifest, after_secrets, args.crds)
        self.register_outputs(
            {
                "masterEndpoint": self.master_endpoint,
                "sentinelEndpoint": self.sentinel_endpoint,
                "masterName": MASTER_NAME,
            }
        )
