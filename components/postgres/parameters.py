"""Postgres parameters tuned from the instance's memory and connection budget (pure)."""

from __future__ import annotations

from components.common.quantities import memory_bytes
from components.postgres.settings import Postgres

_MB = 2**20


def _mb(value: float) -> str:
    return f"{max(int(value // _MB), 1)}MB"


def tuned_parameters(postgres: Postgres) -> dict[str, str]:
    """The usual starting points: a quarter of memory for shared buffers, three quarters assumed
    cached, work_mem so that every connection running three sorts still fits."""
    memory = memory_bytes(postgres.resources.limits.memory)
    shared_buffers = memory / 4
    work_mem = max((memory - shared_buffers) / (postgres.max_connections * 3), 4 * _MB)
    return {
        "max_connections": str(postgres.max_connections),
        "shared_buffers": _mb(shared_buffers),
        "effective_cache_size": _mb(memory * 3 / 4),
        "work_mem": f"{int(work_mem // 1024)}kB",
        "maintenance_work_mem": _mb(min(memory / 16, 2 * 1024 * _MB)),
        # A quarter of the WAL volume between checkpoints leaves room for archiving delays.
        "max_wal_size": _mb(memory_bytes(postgres.wal_storage_size) / 4),
        # A WAL segment is archived at least every 5 minutes: the RPO stays under 15 minutes.
        "archive_timeout": "5min",
        "random_page_cost": "1.1",
        "effective_io_concurrency": "200",
        "log_min_duration_statement": "1s",
        "log_lock_waits": "on",
    }
