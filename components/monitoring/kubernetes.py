"""MonitoringStack: metrics, dashboards, alerts, logs and traces for one environment."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from components.common import labels as lbl
from components.common.kubernetes.manifests import client_egress_policies, namespace_peer, pods_peer, secret_manifest
from components.common.kubernetes.resources import NO_CRD_INSTALLERS, CrdInstallers, create
from components.monitoring import access, elastic
from components.monitoring.alertmanager_config import alerting_secrets, render_alertmanager_yaml
from components.monitoring.capacity import server_specs
from components.monitoring.celery_exporter import metrics_ingress_policy
from components.monitoring.dashboards import dashboard_config_maps, platform_dashboards
from components.monitoring.manifests import monitoring_namespace, prometheus_rule
from components.monitoring.network_policies import monitoring_network_policies
from components.monitoring.otel import GATEWAY, OTLP_GRPC_PORT, OTLP_HTTP_PORT, agent_manifests
from components.monitoring.platform import MonitoredPlatform
from components.monitoring.retention import retention_manifests
from components.monitoring.stack_values import (
    ALERTMANAGER_SECRET,
    CHART_REPOSITORY,
    GRAFANA_ADMIN_SECRET,
    RELEASE,
    kube_prometheus_stack_values,
)
from components.monitoring.workload import server_manifests

ECK_NAMESPACE = "elastic-system"
ECK_CHART_REPOSITORY = "https://helm.elastic.co"
# API groups of the CRDs the two releases install.
PROMETHEUS_OPERATOR_API_GROUP = "monitoring.coreos.com"
ECK_API_GROUPS = ("elasticsearch.k8s.elastic.co", "kibana.k8s.elastic.co")


@dataclass(frozen=True)
class MonitoringStackArgs:
    platform: MonitoredPlatform
    # Where the Celery exporter reads the broker URL: (Secret name, key) in the application namespace.
    broker_secret: tuple[str, str]
    # Application pools (name, pod selector) that send traces to the collector gateway.
    trace_clients: tuple[tuple[str, dict[str, str]], ...]
    # Installers of CRDs this component does not install itself.
    crds: CrdInstallers = NO_CRD_INSTALLERS
    # The public entry that serves the UIs with a host (the load balancer); None publishes none.
    edge: access.Edge | None = None


class MonitoringStack(pulumi.ComponentResource):
    # The kube-prometheus-stack release as the installer of the Prometheus Operator's CRDs (none when
    # another stack installs it): every ServiceMonitor, PodMonitor and PrometheusRule waits for it.
    crds: CrdInstallers
    endpoints: dict[str, dict[str, str]]
    dashboards: dict[str, str]
    grafana_password: pulumi.Output[str]

    def __init__(self, name: str, args: MonitoringStackArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("teknofest:platform:MonitoringStack", name, None, opts)
        platform = args.platform
        m = platform.monitoring
        ns = m.namespace
        labels = lbl.standard_labels("monitoring", "monitoring", platform.environment)
        child = pulumi.ResourceOptions(parent=self)
        namespace = create(monitoring_namespace(platform), child)
        in_ns = pulumi.ResourceOptions(parent=self, depends_on=[namespace])

        # Grafana's admin password: generated, never the guide's admin/teknofest2025.
        grafana_password = random.RandomPassword(f"{name}-grafana-admin", length=32, special=False, opts=child)
        self.grafana_password = pulumi.Output.secret(grafana_password.result)
        stack_inputs: list[pulumi.Resource] = [
            create(
                secret_manifest(
                    GRAFANA_ADMIN_SECRET,
                    ns,
                    labels,
                    {"admin-user": "admin", "admin-password": self.grafana_password},
                ),
                in_ns,
            ),
            create(
                secret_manifest(ALERTMANAGER_SECRET, ns, labels, {"alertmanager.yaml": _alertmanager_yaml(platform)}),
                in_ns,
            ),
        ]
        es_ready: list[pulumi.Resource] = []
        if m.elasticsearch.enabled:
            es_ready = self._elasticsearch(name, platform, in_ns)
            stack_inputs += es_ready
        self.crds = CrdInstallers()
        if m.install_stack:
            release = k8s.helm.v3.Release(
                f"{name}-{RELEASE}",
                name=RELEASE,
                chart="kube-prometheus-stack",
                version=m.kube_prometheus_stack_chart_version,
                namespace=ns,
                repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=CHART_REPOSITORY),
                values=kube_prometheus_stack_values(
                    platform,
                    (args.edge.namespace, args.edge.selector)
                    if args.edge and access.published(platform, "alertmanager")
                    else None,
                ),
                atomic=True,
                timeout=900,
                opts=pulumi.ResourceOptions(parent=self, depends_on=[namespace, *stack_inputs]),
            )
            self.crds = self.crds.merged(PROMETHEUS_OPERATOR_API_GROUP, [release])
        crds = args.crds + self.crds
        for manifest in dashboard_config_maps(platform):
            create(manifest, in_ns)
        after_es = pulumi.ResourceOptions(parent=self, depends_on=[namespace, *es_ready])
        # In the application namespace: the alert rules, the Celery exporter (Prometheus may reach it),
        # and the pools' way out to the collector gateway (the namespace denies egress by default).
        app = pulumi.ResourceOptions(parent=self)
        for spec in server_specs(platform, args.broker_secret):
            if spec.namespace == ns:
                for manifest in server_manifests(spec):
                    create(manifest, after_es, crds)
            else:
                for manifest in [*server_manifests(spec), metrics_ingress_policy(spec, ns)]:
                    create(manifest, app, crds)
        for manifest in agent_manifests(platform):
            create(manifest, after_es, crds)
        for manifest in monitoring_network_policies(platform, args.edge):
            create(manifest, in_ns)
        create(prometheus_rule(platform), app, crds)
        to_gateway = [
            {
                "to": [namespace_peer(ns) | pods_peer(lbl.selector_labels(GATEWAY))],
                "ports": [{"port": OTLP_GRPC_PORT, "protocol": "TCP"}, {"port": OTLP_HTTP_PORT, "protocol": "TCP"}],
            }
        ]
        for manifest in client_egress_policies(args.trace_clients, GATEWAY, platform.namespace, labels, to_gateway):
            create(manifest, app)

        self.endpoints = access.ui_endpoints(platform)
        grafana = self.endpoints["grafana"]["url"].rstrip("/")
        self.dashboards = {d.title: f"{grafana}/d/{d.uid}" for d in platform_dashboards(platform)}
        self.register_outputs({"endpoints": self.endpoints, "dashboards": self.dashboards})

    def _elasticsearch(
        self, name: str, platform: MonitoredPlatform, opts: pulumi.ResourceOptions
    ) -> list[pulumi.Resource]:
        """ECK (optional, cluster-wide), the users' Secrets, Elasticsearch and Kibana; returns what
        the clients of Elasticsearch must wait for."""
        es = platform.monitoring.elasticsearch
        eck = CrdInstallers()
        if es.install_operator:
            operator = k8s.helm.v3.Release(
                f"{name}-eck-operator",
                name="elastic-operator",
                chart="eck-operator",
                version=es.operator_chart_version,
                namespace=ECK_NAMESPACE,
                create_namespace=True,
                repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=ECK_CHART_REPOSITORY),
                atomic=True,
                opts=pulumi.ResourceOptions(parent=self),
            )
            for group in ECK_API_GROUPS:
                eck = eck.merged(group, [operator])
        secrets: list[pulumi.Resource] = [create(elastic.roles_secret(platform), opts)]
        for user in elastic.deployed_users(platform):
            # Letters guaranteed: the collectors read it through ${file:...}, which parses YAML, and
            # an all-digit value would arrive as a number.
            password = random.RandomPassword(
                f"{name}-{user.secret_name}",
                length=32,
                special=False,
                min_lower=1,
                opts=pulumi.ResourceOptions(parent=self),
            )
            secrets.append(create(elastic.user_secret(platform, user, pulumi.Output.secret(password.result)), opts))
        after = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=secrets))
        cluster = create(elastic.elasticsearch(platform), after, eck)
        after_cluster = pulumi.ResourceOptions.merge(after, pulumi.ResourceOptions(depends_on=[cluster]))
        create(elastic.kibana(platform), after_cluster, eck)
        for manifest in retention_manifests(platform):
            create(manifest, after_cluster)
        return [*secrets, cluster]


def _alertmanager_yaml(platform: MonitoredPlatform) -> pulumi.Output[str]:
    """Rendered with the receivers' secrets inline (Alertmanager has no file references for all of
    them), so the whole text is a Pulumi secret and only ever lives in a Kubernetes Secret."""
    alerting = platform.monitoring.alerting
    return pulumi.Output.secret(render_alertmanager_yaml(alerting, alerting_secrets(alerting)))
