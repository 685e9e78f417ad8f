"""Numbers the engine tier measures, printed at the end of the run (one list, whoever imports it)."""

from __future__ import annotations

MEASUREMENTS: list[str] = []
