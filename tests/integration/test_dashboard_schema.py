"""The generated dashboards type-check against Grafana's own published schema (@grafana/schema,
pinned in tools/grafana-schema), with TypeScript's excess-property checks: an unknown or misspelt
field, or a value of the wrong type, fails."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from components.monitoring.dashboards import dashboard_json, platform_dashboards
from stacks.mock_engine import PROJECT_ROOT
from stacks.monitored import monitored_platform
from stacks.settings import PlatformSettings
from tests.conftest import STACKS, stack_settings

pytestmark = pytest.mark.integration
TOOLS = PROJECT_ROOT / "tools" / "grafana-schema"


def tsc() -> Path:
    binary = TOOLS / "node_modules" / ".bin" / "tsc"
    if not binary.exists():
        reason = "TypeScript and @grafana/schema are not installed: `./run test` runs npm ci in tools/grafana-schema"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return binary


def type_check(dashboards: dict[str, dict[str, Any]], folder: Path) -> subprocess.CompletedProcess[str]:
    lines = ['import type { Dashboard } from "@grafana/schema";']
    for name, dashboard in dashboards.items():
        lines.append(f"export const {name}: Dashboard = {json.dumps(dashboard, indent=1)};")
    source = folder / "dashboards.ts"
    source.write_text("\n".join(lines) + "\n")
    # typeRoots/paths: resolve @grafana/schema from the pinned tools folder, wherever the file is.
    config = {
        "compilerOptions": {
            "strict": True,
            "noEmit": True,
            "skipLibCheck": True,
            "module": "esnext",
            "moduleResolution": "bundler",
            "baseUrl": str(TOOLS),
            "paths": {"@grafana/schema": [str(TOOLS / "node_modules" / "@grafana" / "schema")]},
        },
        "files": [str(source)],
    }
    (folder / "tsconfig.json").write_text(json.dumps(config))
    return subprocess.run(
        [str(tsc()), "-p", str(folder / "tsconfig.json")], capture_output=True, text=True, timeout=120
    )


def test_every_dashboard_matches_grafanas_schema(tmp_path: Path) -> None:
    dashboards = {
        f"{stack}_{d.uid.replace('-', '_')}": dashboard_json(d)
        for stack in STACKS
        for d in platform_dashboards(monitored_platform(stack_settings(stack)))
    }
    result = type_check(dashboards, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_misspelt_field_fails_the_schema_check(tmp_path: Path, production_settings: PlatformSettings) -> None:
    panel_typo = dashboard_json(platform_dashboards(monitored_platform(production_settings))[0])
    panel_typo["panels"][0]["gridPos"]["width"] = 12  # Grafana calls it "w"
    top_level_typo = dashboard_json(platform_dashboards(monitored_platform(production_settings))[0])
    top_level_typo["refresh_interval"] = "30s"
    result = type_check({"panel_typo": panel_typo, "top_level_typo": top_level_typo}, tmp_path)
    assert result.returncode != 0
    assert """'"width"' does not exist in type 'GridPos'""" in result.stdout
    assert """'"refresh_interval"' does not exist in type 'Dashboard'""" in result.stdout
