"""Numbers the engine tier measures, printed at the end of the run (one list, whoever imports it)."""

from __future__ import annotations

MEASUREMENTS: list[str] = []


def seconds(value: float | None) -> str:
    """A measured duration, or "never" where the awaited event did not happen."""
    return "never" if value is None else f"{value:.1f} s"
