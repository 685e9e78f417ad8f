"""Every stack's rendered haproxy.cfg, byte for byte, passes `haproxy -c` with warnings fatal.

The file names things that exist only in the pod: the peers' DNS names and the TLS certificate
path. The check runs in a private mount namespace (`unshare -m`) whose /etc/hosts knows the peer
names and whose /etc/haproxy/tls holds a test certificate, so the rendered text is not rewritten.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import trustme

from components.load_balancer.containers import load_balancer_container
from components.load_balancer.manifests import config_files, haproxy_inputs
from components.redis.manifests import master_proxy_config
from stacks.docker_platform import load_balancer_host_args
from stacks.kubernetes_specs import load_balancer_spec, redis_spec
from stacks.pools import api_pool_spec
from stacks.settings import PlatformSettings
from tests.conftest import KUBERNETES_STACKS, stack_settings

SECRET_ENV = {
    "HAPROXY_STATS_USER": "admin",
    "HAPROXY_STATS_PASSWORD": "test-only",
    "HAPROXY_COOKIE_KEY": "test-only",
    "REDIS_PASSWORD": "test-only",
}


def pod_like_check(
    haproxy: str,
    workdir: Path,
    config: Path,
    peer_names: list[str],
    entry: list[str],
    extra_env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    hosts = workdir / "hosts"
    hosts.write_text(Path("/etc/hosts").read_text() + "".join(f"127.0.0.1 {name}\n" for name in peer_names))
    ca = trustme.CA()
    cert = ca.issue_cert("api.example.org")
    tls = workdir / "tls"
    tls.mkdir()
    cert.cert_chain_pems[0].write_to_path(str(tls / "site.pem"))
    cert.private_key_pem.write_to_path(str(tls / "site.pem.key"))
    etc_haproxy = Path("/etc/haproxy")
    script = (
        f"mount --bind {hosts} /etc/hosts && "
        f"{'mkdir -p /etc/haproxy && ' if not etc_haproxy.exists() else ''}"
        f"mount -t tmpfs tmpfs /etc/haproxy && mkdir /etc/haproxy/tls && cp {tls}/* /etc/haproxy/tls/ && "
        + " ".join(entry)
    )
    if shutil.which("unshare") is None:
        pytest.fail("unshare (util-linux) is needed to check the config with the pod's paths")
    return subprocess.run(
        ["unshare", "-m", "sh", "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **SECRET_ENV, **(extra_env or {})},
    )


def rendered(settings: PlatformSettings) -> tuple[dict[str, str], list[str]]:
    spec = load_balancer_spec(settings, api_pool_spec(settings))
    return config_files(spec), [peer.address for peer in haproxy_inputs(spec).peers]


@pytest.mark.integration
@pytest.mark.parametrize("stack", KUBERNETES_STACKS)
def test_rendered_config_passes_haproxy_check(haproxy_binary: str, tmp_path: Path, stack: str) -> None:
    files, peers = rendered(stack_settings(stack))
    config = tmp_path / "haproxy.cfg"
    config.write_text(files["haproxy.cfg"])
    result = pod_like_check(
        haproxy_binary, tmp_path, config, peers, [haproxy_binary, "-c", "-dW", "-f", str(config), "-L", "haproxy-0"]
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Configuration file is valid" in result.stdout + result.stderr


@pytest.mark.integration
@pytest.mark.parametrize("stack", KUBERNETES_STACKS)
def test_rendered_redis_master_config_passes_haproxy_check(haproxy_binary: str, tmp_path: Path, stack: str) -> None:
    settings = stack_settings(stack)
    spec = redis_spec(settings, ())
    config = tmp_path / "haproxy.cfg"
    config.write_text(master_proxy_config(spec))
    pods = [spec.fqdn(f"redis-{i}", "redis-headless") for i in range(spec.instances)]
    result = pod_like_check(haproxy_binary, tmp_path, config, pods, [haproxy_binary, "-c", "-dW", "-f", str(config)])
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.integration
def test_a_broken_config_is_refused(haproxy_binary: str, tmp_path: Path, production_settings: PlatformSettings) -> None:
    files, peers = rendered(production_settings)
    config = tmp_path / "haproxy.cfg"
    config.write_text(files["haproxy.cfg"].replace("balance roundrobin", "balance sometimes"))
    result = pod_like_check(
        haproxy_binary, tmp_path, config, peers, [haproxy_binary, "-c", "-dW", "-f", str(config), "-L", "haproxy-0"]
    )
    assert result.returncode != 0


@pytest.mark.integration
def test_entrypoint_starts_without_a_peer_that_never_resolves(
    haproxy_binary: str, tmp_path: Path, production_settings: PlatformSettings
) -> None:
    """The pod's start-up script, run as the pod runs it: haproxy-2 never appears in DNS, so after
    the wait it is dropped and HAProxy starts (here: checks) with the peers that do resolve."""
    files, peers = rendered(production_settings)
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    runtime = tmp_path / "run"
    runtime.mkdir()
    result = pod_like_check(
        haproxy_binary,
        tmp_path,
        tmp_path / "haproxy.cfg",
        peers[:2],
        [
            f"HAPROXY_CONFIG_SOURCE={tmp_path / 'haproxy.cfg'}",
            f"HAPROXY_RUNTIME_DIR={runtime}",
            "PEER_WAIT_SECONDS=2",
            "sh",
            str(tmp_path / "entrypoint.sh"),
            "-c",
            "-dW",
            "-L",
            "haproxy-0",
        ],
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"peer {peers[2]} does not resolve; starting without it" in result.stderr
    started_with = (runtime / "haproxy.cfg").read_text()
    assert re.findall(r"^    peer (\S+)", started_with, flags=re.M) == ["haproxy-0", "haproxy-1"]


def docker_settings(tls: bool) -> PlatformSettings:
    """Dev as it is (plain HTTP), and a single-host production (TLS, its UIs published on hosts)."""
    if not tls:
        return stack_settings("dev")
    production = stack_settings("production")
    return production.model_copy(
        update={"target": "docker", "docker": production.docker.model_copy(update={"tls_certificate_pem": "x"})}
    )


@pytest.mark.integration
@pytest.mark.parametrize("tls", [False, True], ids=["dev", "single-host-production"])
def test_the_docker_targets_configs_pass_haproxy_check(haproxy_binary: str, tmp_path: Path, tls: bool) -> None:
    """The container's own files: its certificate path under /etc/teknofest/secrets, its peer
    (itself, -L haproxy), the UIs' backends by their aliases (resolved at run time)."""
    settings = docker_settings(tls)
    spec = load_balancer_container(load_balancer_host_args(settings))
    files = {u.path: u.content for u in spec.all_uploads if not u.is_secret}
    config = tmp_path / "haproxy.cfg"
    config.write_text(files["/etc/teknofest/haproxy.cfg"])
    secrets = Path("/etc/teknofest/secrets")
    entry = [haproxy_binary, "-c", "-dW", "-f", str(config), "-L", "haproxy"]
    if tls:
        assert f"crt {secrets}/site.pem" in config.read_text()
        # The test certificate where the container has its own (a private mount of /etc/teknofest).
        entry = [
            "mkdir -p /etc/teknofest && mount -t tmpfs tmpfs /etc/teknofest && mkdir",
            str(secrets),
            "&&",
            "cp",
            str(tmp_path / "tls" / "site.pem"),
            str(tmp_path / "tls" / "site.pem.key"),
            str(secrets),
            "&&",
            *entry,
        ]
    ui_env = {env: "test-only" for env, _ in spec.secret_env if env.startswith("HAPROXY_UI_")}
    result = pod_like_check(haproxy_binary, tmp_path, config, [], entry, ui_env)
    assert result.returncode == 0, result.stdout + result.stderr
    if tls:
        assert "use_backend ui_jaeger if host_ui_jaeger" in config.read_text()
        assert "server jaeger jaeger:16686" in config.read_text()
