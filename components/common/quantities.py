"""Kubernetes resource quantities ("500m", "2", "1Gi") as numbers, for checks and totals."""

from __future__ import annotations

import re
from decimal import Decimal

_QUANTITY_RE = re.compile(r"^(?P<number>[0-9]+(?:\.[0-9]+)?)(?P<suffix>[a-zA-Z]*)$")
_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {"": 1, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18}


def _parse(value: str) -> tuple[Decimal, str]:
    match = _QUANTITY_RE.match(str(value))
    if not match:
        raise ValueError(f"{value!r} is not a Kubernetes quantity (e.g. '500m', '2', '512Mi', '4Gi')")
    return Decimal(match.group("number")), match.group("suffix")


def cpu_millicores(value: str) -> int:
    """'500m' -> 500, '2' -> 2000, '0.5' -> 500."""
    number, suffix = _parse(value)
    if suffix == "m":
        millis = number
    elif suffix == "":
        millis = number * 1000
    else:
        raise ValueError(f"{value!r} is not a CPU quantity: use cores ('2', '0.5') or millicores ('500m')")
    if millis <= 0:
        raise ValueError(f"{value!r}: a CPU amount must be positive")
    return int(millis)


def memory_bytes(value: str) -> int:
    """'512Mi' -> 536870912, '1G' -> 10**9."""
    number, suffix = _parse(value)
    factor = _BINARY.get(suffix) or _DECIMAL.get(suffix)
    if factor is None:
        raise ValueError(f"{value!r} is not a memory quantity: use Ki, Mi, Gi, Ti or k, M, G, T")
    amount = number * factor
    if amount <= 0:
        raise ValueError(f"{value!r}: a memory amount must be positive")
    return int(amount)


_HOURS_PER = {"h": 1, "d": 24, "w": 168}


def retention_hours(period: str) -> int:
    """A retention period of the settings ("12h", "7d", "2w") in hours: "7d" -> 168."""
    return int(period[:-1]) * _HOURS_PER[period[-1]]
