"""Runs the Pulumi program under Pulumi's own mock engine and records what it registers.

No CLI, no provider plugin, no cluster: `pulumi.runtime.set_mocks` stands in for the engine. The
inputs each resource receives are exactly what the program would send to its provider.
"""

from __future__ import annotations

import runpy
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime import mocks, rpc, settings
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _ensure_event_loop, _sync_await

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PROJECT_NAME = "teknofest-platform"
# How Pulumi marks a secret value on the wire (rpc.py's _special_secret_sig).
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
SIG_KEY = "4dabf18193072939515e22adb298388d"
MASK = "[secret]"


@dataclass(frozen=True)
class RegisteredResource:
    type: str
    name: str
    urn: str
    parent_urn: str | None
    custom: bool
    inputs: dict[str, Any]
    # URNs this resource waits for: its explicit depends_on and the resources its inputs came from.
    dependencies: tuple[str, ...] = ()
    # Replaced by deleting the old one first (a fixed name or a published port would collide).
    delete_before_replace: bool = False


@dataclass
class StackRender:
    stack: str
    resources: list[RegisteredResource] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)


def mock_id(name: str) -> str:
    """The ID the mock engine gives a resource of this name (references to it carry it)."""
    return f"{name}-id"


class _RecordingMocks(pulumi.runtime.Mocks):
    def new_resource(self, args: mocks.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        state = dict(args.inputs)
        if args.typ.startswith("random:index/randomPassword") or args.typ.startswith("random:index/randomString"):
            # A stand-in value; it is masked wherever it is written out anyway.
            state["result"] = f"mock-{args.name}"
            if args.typ.startswith("random:index/randomPassword"):
                state["bcryptHash"] = f"$2a$10$mock-hash-of-{args.name}"
        # pulumi-tls: stand-in PEM text, masked like every secret where it is written out.
        if args.typ == "tls:index/privateKey:PrivateKey":
            state["privateKeyPem"] = state["privateKeyPemPkcs8"] = f"mock-key-{args.name}"
        # Certificates and requests are public: their stand-ins are not "mock-" (what a secret's is).
        if args.typ == "tls:index/certRequest:CertRequest":
            state["certRequestPem"] = f"public-request-{args.name}"
        if args.typ in ("tls:index/selfSignedCert:SelfSignedCert", "tls:index/locallySignedCert:LocallySignedCert"):
            state["certPem"] = f"public-cert-{args.name}"
        if args.typ == "docker:index/remoteImage:RemoteImage":
            # The engine would give the pulled image's ID; its pinned reference stands in for it.
            state["imageId"] = args.inputs["name"]
        return mock_id(args.name), state

    def call(self, args: mocks.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        return {}, None


class _RecordingMonitor(mocks.MockMonitor):
    """MockMonitor that also keeps the parent and order of every registration."""

    def __init__(self, m: _RecordingMocks) -> None:
        super().__init__(m)
        self.registrations: list[RegisteredResource] = []

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 (gRPC method name)
        response = super().RegisterResource(request)  # type: ignore[no-untyped-call]
        if request.type != "pulumi:pulumi:Stack":
            # Registrations run on several threads at once: read this request's own inputs.
            _ensure_event_loop()  # type: ignore[no-untyped-call]
            inputs = rpc.deserialize_properties(request.object)
            self.registrations.append(
                RegisteredResource(
                    request.type,
                    request.name,
                    response.urn,
                    request.parent or None,
                    bool(request.custom),
                    inputs,
                    tuple(sorted(set(request.dependencies))),
                    bool(request.deleteBeforeReplace),
                )
            )
        return response


def run_program(stack: str, config: dict[str, str], secret_keys: list[str] | None = None) -> StackRender:
    """Run `__main__.py` for `stack` with `config` (Pulumi's string form) and collect the result."""

    def program() -> None:
        runpy.run_path(str(PROJECT_ROOT / "__main__.py"), run_name="__main__")

    return run_under_mocks(program, stack, config, secret_keys)


def run_under_mocks(
    program: Callable[[], Any],
    stack: str = "test",
    config: dict[str, str] | None = None,
    secret_keys: list[str] | None = None,
) -> StackRender:
    """Run any program (a whole stack, or one component for its tests) under the mock engine."""
    settings.reset_options()
    recorder = _RecordingMocks()
    monitor = _RecordingMonitor(recorder)
    mocks.set_mocks(recorder, project=PROJECT_NAME, stack=stack, preview=False, monitor=monitor)
    pulumi.runtime.set_all_config(dict(config or {}), secret_keys or [])
    settings.SETTINGS.rpc_manager.clear()
    settings.SETTINGS.outputs.clear()

    _sync_await(run_pulumi_func(program))
    root = settings.get_root_resource()
    exported = dict(getattr(root, "outputs", {}) or {})
    render = StackRender(stack=stack)
    render.outputs = {name: _sync_await(_resolve(value)) for name, value in exported.items()}
    render.resources = list(monitor.registrations)
    _refuse_duplicate_urns(render.resources)
    return render


class DuplicateUrnError(Exception):
    """Two registrations with one URN: the real engine refuses the whole update ("Duplicate resource URN")."""


def _refuse_duplicate_urns(resources: list[RegisteredResource]) -> None:
    # Pulumi's mock monitor accepts them silently; the engine of `pulumi up` does not.
    counts = Counter(r.urn for r in resources)
    duplicates = sorted(urn for urn, count in counts.items() if count > 1)
    if duplicates:
        raise DuplicateUrnError("resources registered twice (pulumi up refuses the update): " + ", ".join(duplicates))


async def _resolve(value: Any) -> Any:
    """Resolve Outputs in a nested structure, replacing secret leaves by MASK."""
    if isinstance(value, pulumi.Output):
        if await value.is_secret():
            return MASK
        return await _resolve(await value.future())
    if isinstance(value, dict):
        return {key: await _resolve(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [await _resolve(item) for item in value]
    return value


def unwrap(value: Any, mask: bool = True) -> Any:
    """Plain data from deserialized inputs: secrets masked, integral floats back to integers
    (the RPC layer carries every number as a double)."""
    if isinstance(value, dict):
        if value.get(SIG_KEY) == SECRET_SIG:
            return _mask_all(value.get("value")) if mask else unwrap(value.get("value"), mask)
        return {key: unwrap(item, mask) for key, item in value.items()}
    if isinstance(value, list):
        return [unwrap(item, mask) for item in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _mask_all(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _mask_all(item) for key, item in value.items()}
    return MASK
