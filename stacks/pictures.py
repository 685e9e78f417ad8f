"""The README's architecture pictures (docs/architecture-<stack>.{dot,svg}), rendered by the synth
of the production (Kubernetes) and dev (docker) stacks; a test fails when they are stale.

python -m stacks.pictures    write them (needs Graphviz's `dot`: ./run reference installs it)
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

from stacks.mock_engine import PROJECT_ROOT
from stacks.synth import synth

DOCS = PROJECT_ROOT / "docs"
PICTURED = ("production", "dev")


def picture_path(stack: str, suffix: str) -> Path:
    return DOCS / f"architecture-{stack}.{suffix}"


def main() -> int:
    if shutil.which("dot") is None:
        print("Graphviz's dot is not installed (apt-get install graphviz)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as folder:
        for stack in PICTURED:
            out = Path(folder) / stack
            synth(stack, out)
            for suffix in ("dot", "svg"):
                shutil.copyfile(out / f"architecture.{suffix}", picture_path(stack, suffix))
                print(f"wrote {picture_path(stack, suffix)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
