"""Offline synth: render a stack without a cluster, validate it, and summarise it.

python -m stacks.synth --stack production [--out DIR]
python -m stacks.synth --diff build/main/production build/production   (Markdown, for a PR)
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi

from components.common.docker.services import required_labels
from components.common.yaml_text import to_yaml
from components.monitoring.metric_catalogue import exposed_metrics
from stacks.architecture import Picture, container_picture, kubernetes_picture, to_dot
from stacks.config_source import load_settings, project_config
from stacks.diff import markdown_diff
from stacks.docker_render import config_files as docker_config_files
from stacks.docker_render import container_summaries, docker_findings, files_carrier_findings
from stacks.errors import SettingsError
from stacks.grants_check import grant_findings
from stacks.helm_values_check import helm_values_findings
from stacks.instances import LOAD_BALANCER
from stacks.kubernetes_specs import platform_specs
from stacks.mock_engine import PROJECT_ROOT, StackRender, mock_id, run_program
from stacks.monitored import monitored_platform
from stacks.ordering import ordering_findings
from stacks.policy import environment_warnings
from stacks.reachability import chart_network_policies, reachability_findings, scrape_talks
from stacks.render_output import config_files, helm_releases, manifests, plan
from stacks.settings import PlatformSettings
from stacks.stack_file import StackFileError, read_stack_file
from stacks.swarm_render import NETWORK, service_summaries, swarm_findings
from stacks.swarm_render import config_files as swarm_config_files
from stacks.topology import Talk, prometheus_peer
from stacks.validate import CrdSchemas, Finding, charts_dir, crds_dir, validate_manifests


@dataclass
class SynthResult:
    out: Path
    manifests: dict[str, dict[str, Any]]
    configs: dict[str, str]
    findings: list[Finding]
    checked_by: dict[str, str]
    outputs: dict[str, Any]
    encrypted_paths: list[str]
    crds_folder: Path | None
    warnings: list[str]
    charts_folder: Path | None = None
    # The docker target's containers (file name -> summary); empty on Kubernetes.
    containers: dict[str, dict[str, Any]] = field(default_factory=dict)
    # The swarm target's services (file name -> summary), and the node labels they are placed by.
    services: dict[str, dict[str, Any]] = field(default_factory=dict)
    node_labels: list[str] = field(default_factory=list)


class SynthError(Exception):
    """A user error (bad stack file or settings): printed as is, exit code 2."""


def synth(stack: str, out: Path, stack_file_path: Path | None = None) -> SynthResult:
    source = stack_file_path or PROJECT_ROOT / f"Pulumi.{stack}.yaml"
    try:
        stack_file = read_stack_file(source)
    except StackFileError as exc:
        raise SynthError(str(exc)) from None
    # Validate first, outside the engine, so a bad value is reported without any engine noise.
    try:
        settings = load_settings(project_config(stack_file.config), stack, source.name, stack_file.secret_keys)
    except SettingsError as exc:
        raise SynthError(str(exc)) from None
    try:
        render = run_program(stack, stack_file.config, stack_file.secret_keys)
    except pulumi.RunError as exc:
        raise SynthError(str(exc)) from None

    if settings.target == "docker":
        return _docker_synth(settings, render, out, stack_file.encrypted_paths)
    if settings.target == "swarm":
        return _swarm_synth(settings, render, out, stack_file.encrypted_paths)
    manifest_set = manifests(render)
    configs = config_files(manifest_set)
    folder = crds_dir()
    crds = CrdSchemas(folder) if folder.is_dir() else None
    findings, checked_by = validate_manifests(
        manifest_set, settings.kubernetes.version, crds, exposed_metrics(monitored_platform(settings))
    )
    resource_plan = plan(render)
    # The order `pulumi up` will create things in: a custom resource before its CRD fails the run.
    findings += ordering_findings(resource_plan)
    releases = helm_releases(render)
    charts = charts_dir()
    if charts.is_dir():
        # A misspelt Helm value is ignored by Helm without a word: fail it here.
        findings += helm_values_findings(releases, charts)
    # Every pair that talks is admitted by the NetworkPolicies, every identity holds what its
    # clients use and no more (stacks/topology.py is the table of who talks to whom).
    talks = stack_talks(settings, manifest_set)
    findings += reachability_findings(talks, manifest_set, chart_network_policies(releases))
    findings += grant_findings(settings, configs, manifest_set, releases)

    if out.exists():
        shutil.rmtree(out)
    (out / "manifests").mkdir(parents=True)
    for file_name, manifest in manifest_set.items():
        (out / "manifests" / file_name).write_text(to_yaml(manifest), encoding="utf-8")
    for relative, text in configs.items():
        path = out / "configs" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    for file_name, release in releases.items():
        path = out / "helm" / file_name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(to_yaml(release), encoding="utf-8")
    (out / "plan.json").write_text(json.dumps(resource_plan, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    (out / "outputs.json").write_text(json.dumps(render.outputs, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    (out / "validation.json").write_text(
        json.dumps({"checkedBy": checked_by, "findings": [f.__dict__ for f in findings]}, indent=2, sort_keys=True)
        + "\n",
        encoding="utf-8",
    )
    write_picture(out, kubernetes_picture(f"{stack} (kubernetes, namespace {settings.namespace})", talks))
    return SynthResult(
        out,
        manifest_set,
        configs,
        findings,
        checked_by,
        render.outputs,
        stack_file.encrypted_paths,
        folder if crds else None,
        environment_warnings(settings),
        charts if charts.is_dir() else None,
    )


def _write_common(out: Path, render: StackRender, configs: dict[str, str], findings: list[Finding]) -> None:
    for relative, text in configs.items():
        path = out / "configs" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    (out / "plan.json").write_text(json.dumps(plan(render), indent=2, sort_keys=True) + "\n", encoding="utf-8")
    (out / "outputs.json").write_text(json.dumps(render.outputs, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    (out / "validation.json").write_text(
        json.dumps({"findings": [f.__dict__ for f in findings]}, indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )


def write_picture(out: Path, picture: Picture) -> None:
    """architecture.dot, and architecture.svg where Graphviz is installed (`./run synth` installs it)."""
    text = to_dot(picture)
    (out / "architecture.dot").write_text(text, encoding="utf-8")
    dot = shutil.which("dot")
    if dot:
        svg = subprocess.run([dot, "-Tsvg"], input=text, capture_output=True, text=True, check=True).stdout
        (out / "architecture.svg").write_text(svg, encoding="utf-8")


def _write_summaries(out: Path, folder: str, summaries: dict[str, dict[str, Any]]) -> None:
    """A fresh output folder with one YAML summary per container or service."""
    if out.exists():
        shutil.rmtree(out)
    (out / folder).mkdir(parents=True)
    for file_name, summary in summaries.items():
        (out / folder / file_name).write_text(to_yaml(summary), encoding="utf-8")


def _docker_synth(settings: PlatformSettings, render: StackRender, out: Path, encrypted: list[str]) -> SynthResult:
    """The docker target: containers/ (one summary each), configs/ (every uploaded file), the plan."""
    summaries = container_summaries(render)
    configs = docker_config_files(render)
    findings = docker_findings(settings, summaries) + files_carrier_findings(render) + ordering_findings(plan(render))
    _write_summaries(out, "containers", summaries)
    _write_common(out, render, configs, findings)
    networks: dict[str, list[str]] = {}
    published = {}
    for c in summaries.values():
        short = str(c["name"]).removeprefix(settings.namespace + "-")
        for attachment in c["networks"]:
            networks.setdefault(str(attachment["name"]), []).append(short)
        ports = [f"{p.get('ip')}:{p.get('external')}" for p in c["ports"]]
        published[short] = tuple(ports)
    picture = container_picture(
        f"{settings.environment} (docker, one host)",
        {n: tuple(b) for n, b in networks.items()},
        published,
        platform_specs(settings).talks,
    )
    write_picture(out, picture)
    return SynthResult(
        out,
        {},
        configs,
        findings,
        {},
        render.outputs,
        encrypted,
        None,
        environment_warnings(settings),
        containers=summaries,
    )


def _swarm_synth(settings: PlatformSettings, render: StackRender, out: Path, encrypted: list[str]) -> SynthResult:
    """The swarm target: services/ (one summary each), configs/ (every config file), the plan."""
    summaries = service_summaries(render)
    configs = swarm_config_files(render)
    publisher = f"{settings.namespace}-{LOAD_BALANCER}"
    findings = swarm_findings(render, summaries, publisher) + ordering_findings(plan(render))
    _write_summaries(out, "services", summaries)
    _write_common(out, render, configs, findings)
    network_names = {mock_id(r.name): str(r.inputs.get("name")) for r in render.resources if r.type == NETWORK}
    by_network: dict[str, list[str]] = {}
    for s in summaries.values():
        short = str(s["name"]).removeprefix(settings.namespace + "-")
        for attachment in s["networks"]:
            by_network.setdefault(network_names.get(attachment["network"], attachment["network"]), []).append(short)
    service_ports = {
        str(s["name"]).removeprefix(settings.namespace + "-"): tuple(
            f"{p.get('publishedPort')} ({p.get('publishMode')})" for p in (s["endpoint"] or {}).get("ports", [])
        )
        for s in summaries.values()
    }
    picture = container_picture(
        f"{settings.environment} (swarm)",
        {n: tuple(b) for n, b in by_network.items()},
        service_ports,
        platform_specs(settings).talks,
    )
    write_picture(out, picture)
    labels = required_labels(c for s in summaries.values() for c in s["placement"].get("constraints", []))
    return SynthResult(
        out,
        {},
        configs,
        findings,
        {},
        render.outputs,
        encrypted,
        None,
        environment_warnings(settings),
        services=summaries,
        node_labels=labels,
    )


def swarm_summary(result: SynthResult, stack: str) -> str:
    lines = [
        f"stack {stack} (swarm): {len(result.services)} services, {len(result.configs)} config files -> {result.out}",
        "",
        f"{'service':<42}{'tasks':<8}{'update':<12}placement",
    ]
    for s in result.services.values():
        tasks = "global" if s["mode"] == "global" else str(s["mode"]["replicas"])
        order = (s["updateConfig"] or {}).get("order", "-")
        placement = s["placement"]
        where = ", ".join(placement.get("constraints", [])) or "any node"
        if placement.get("maxReplicas"):
            where += f" (at most {placement['maxReplicas']} per node)"
        lines.append(f"{s['name']:<42}{tasks:<8}{order:<12}{where}")
    lines.append("")
    lines.append("node labels to set (docker node update --label-add <label>=true <node>):")
    lines += [f"  {label}" for label in result.node_labels]
    lines.append("")
    lines += [f"warning: {warning}" for warning in result.warnings]
    for path in result.encrypted_paths:
        lines.append(f"note: {path} is encrypted; a placeholder stood in for it offline")
    if result.findings:
        lines.append(f"{len(result.findings)} finding(s):")
        lines += [f"  - {f.manifest}: {f.message}" for f in result.findings]
    else:
        lines.append(
            "validation: every service non-root, read-only, no capabilities, secrets as Swarm secrets; "
            "stateful ones placed by label and updated stop-first; only HAProxy published"
        )
    return "\n".join(lines)


def stack_talks(settings: PlatformSettings, manifests: dict[str, dict[str, Any]]) -> list[Talk]:
    """The topology table's pairs and, with monitoring, Prometheus to every rendered monitor's target."""
    talks = list(platform_specs(settings).talks)
    if settings.monitoring.enabled:
        talks += scrape_talks(manifests, prometheus_peer(settings))
    return talks


def docker_summary(result: SynthResult, stack: str) -> str:
    lines = [
        f"stack {stack} (docker): {len(result.containers)} containers, {len(result.configs)} files -> {result.out}",
        "",
    ]
    lines.append(f"{'container':<40}{'image':<60}published")
    for c in result.containers.values():
        ports = ", ".join(f"{p.get('ip')}:{p.get('external')}" for p in c["ports"]) or "-"
        lines.append(f"{c['name']:<40}{str(c['image'])[:58]:<60}{ports}")
    lines.append("")
    lines += [f"warning: {warning}" for warning in result.warnings]
    for path in result.encrypted_paths:
        lines.append(f"note: {path} is encrypted; a placeholder stood in for it offline")
    if result.findings:
        lines.append(f"{len(result.findings)} finding(s):")
        lines += [f"  - {f.manifest}: {f.message}" for f in result.findings]
    else:
        lines.append("validation: every container non-root, read-only, no capabilities; ports on the named addresses")
    return "\n".join(lines)


def summary(result: SynthResult, stack: str) -> str:
    if result.services:
        return swarm_summary(result, stack)
    if result.containers:
        return docker_summary(result, stack)
    kinds = Counter(m["kind"] for m in result.manifests.values())
    lines = [
        f"stack {stack}: {len(result.manifests)} manifests, {len(result.configs)} config files -> {result.out}",
        "",
    ]
    lines.append(f"{'kind':<28}{'count':>6}  checked by")
    for kind, count in sorted(kinds.items()):
        methods = sorted(
            {result.checked_by.get(name, "-") for name, m in result.manifests.items() if m["kind"] == kind}
        )
        lines.append(f"{kind:<28}{count:>6}  {', '.join(methods)}")
    lines.append("")
    lines += [f"warning: {warning}" for warning in result.warnings]
    if result.crds_folder is None:
        lines.append("warning: CRD folder not found (set TEKNOFEST_CRDS_DIR); custom resources were not validated")
    if result.charts_folder is None:
        lines.append("warning: chart folder not found (set TEKNOFEST_CHARTS_DIR); Helm values were not checked")
    for path in result.encrypted_paths:
        lines.append(f"note: {path} is encrypted; a placeholder stood in for it offline")
    if result.findings:
        lines.append(f"{len(result.findings)} validation finding(s):")
        lines += [f"  - {f.manifest}: {f.message}" for f in result.findings]
    else:
        lines.append("validation: all manifests valid")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m stacks.synth", description=__doc__.splitlines()[0] if __doc__ else None
    )
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--stack", help="stack name: reads Pulumi.<stack>.yaml")
    group.add_argument("--diff", nargs=2, metavar=("BEFORE", "AFTER"), help="two synth output folders")
    parser.add_argument("--out", type=Path, help="output folder (default build/<stack>)")
    parser.add_argument("--stack-file", type=Path, help="config file to use instead of Pulumi.<stack>.yaml")
    args = parser.parse_args(argv)

    if args.diff:
        before, after = (Path(p) for p in args.diff)
        for folder in (before, after):
            if not any((folder / sub).is_dir() for sub in ("manifests", "containers", "services")):
                print(
                    f"error: {folder} is not a synth output folder (no manifests/, containers/ or services/)",
                    file=sys.stderr,
                )
                return 2
        print(markdown_diff(before, after))
        return 0

    out = args.out or PROJECT_ROOT / "build" / args.stack
    try:
        result = synth(args.stack, out, args.stack_file)
    except SynthError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(summary(result, args.stack))
    return 1 if result.findings else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:
        # The reader (e.g. `| head`) stopped early: not an error of ours, and no traceback.
        sys.stderr.close()
        sys.exit(0)
