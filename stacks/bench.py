"""How fast the offline synth is, for pull-request previews (a pull request synthesises every stack
twice). A benchmark that prints its numbers, not a timed test:

- the production synth against an empty program under the same mock engine, side by side;
- the cost per added resource: production with its Celery pools ×10, against production.

python -m stacks.bench    (./run bench)
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from stacks.mock_engine import PROJECT_ROOT
from stacks.settings import Celery

# The targets of issue 13: synth within 3× the empty program, at most 5 ms per added resource.
RATIO_TARGET = 3.0
PER_RESOURCE_TARGET_MS = 5.0
POOL_GROWTH = 10


def grown_stack_file(folder: Path, factor: int) -> Path:
    """Production with `factor` times its Celery pools (copies of each, on queues of their own)."""
    document = yaml.safe_load((PROJECT_ROOT / "Pulumi.production.yaml").read_text())
    pools = Celery().model_dump(by_alias=True, mode="json")["pools"]
    grown = {}
    for name, pool in pools.items():
        grown[name] = pool
        for copy in range(1, factor):
            grown[f"{name}-{copy}"] = {**pool, "queues": [f"{queue}-{copy}" for queue in pool["queues"]]}
    document["config"]["teknofest-platform:celery"] = {"pools": grown}
    path = folder / "Pulumi.production.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def timed_process(arguments: list[str]) -> float:
    """Seconds a fresh interpreter takes for it, imports included (what a preview job pays)."""
    started = time.perf_counter()
    subprocess.run([sys.executable, *arguments], check=True, capture_output=True, cwd=PROJECT_ROOT)
    return time.perf_counter() - started


EMPTY_PROGRAM = "from stacks.mock_engine import run_under_mocks; run_under_mocks(lambda: None)"


def main() -> int:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        grown_file = grown_stack_file(root, POOL_GROWTH)
        empty = min(timed_process(["-c", EMPTY_PROGRAM]) for _ in range(3))
        synth_args = ["-m", "stacks.synth", "--stack", "production", "--out"]
        base = min(timed_process([*synth_args, str(root / f"production-{i}")]) for i in range(2))
        larger = min(
            timed_process([*synth_args, str(root / f"grown-{i}"), "--stack-file", str(grown_file)]) for i in range(2)
        )
        count = len(list((root / "production-0" / "manifests").iterdir()))
        grown_count = len(list((root / "grown-0" / "manifests").iterdir()))
    ratio = base / empty
    per_resource_ms = (larger - base) / max(grown_count - count, 1) * 1000
    print(f"empty program under the mock engine (a fresh interpreter, imports included): {empty:.2f} s")
    print(f"production synth: {base:.2f} s ({count} manifests), {ratio:.1f}x the empty program")
    print(f"  target: at most {RATIO_TARGET}x")
    print(
        f"production with {POOL_GROWTH}x the Celery pools: {larger:.2f} s ({grown_count} manifests), "
        f"{per_resource_ms:.1f} ms per added manifest (target: at most {PER_RESOURCE_TARGET_MS} ms)"
    )
    print("HAProxy throughput against a minimal TLS config: not measured yet (no load generator here)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
