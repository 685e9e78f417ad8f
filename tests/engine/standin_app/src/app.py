"""The stand-in API: a small ASGI app that Gunicorn runs with the rendered command line.

Its readiness checks PostgreSQL through PgBouncer (DATABASE_URL) and Redis through redis-master
(REDIS_URL); POST /items writes a row through the read-write pooler, has a worker of the routed
pool (src.tasks.ai.* -> ai) annotate it, and reads it back through the read-only pooler.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import time
from collections.abc import Awaitable, Callable
from typing import Any

import psycopg2
import redis

from src.celery_app import app as celery_app

HOST = socket.gethostname()
_SCHEMA = "CREATE TABLE IF NOT EXISTS items (id bigserial PRIMARY KEY, note text, written_by text, annotated_by text)"


def _database(read_only: bool = False) -> Any:
    url = os.environ["DATABASE_READ_ONLY_URL" if read_only else "DATABASE_URL"]
    return psycopg2.connect(url, connect_timeout=3)


def _ready() -> dict[str, str]:
    with _database() as connection, connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    redis.Redis.from_url(os.environ["REDIS_URL"], socket_timeout=3).ping()
    return {"postgres": "ok", "redis": "ok", "host": HOST}


def _write(note: str) -> int:
    with _database() as connection, connection.cursor() as cursor:
        cursor.execute(_SCHEMA)
        cursor.execute("INSERT INTO items (note, written_by) VALUES (%s, %s) RETURNING id", (note, HOST))
        return int(cursor.fetchone()[0])


def _read_back(item_id: int, deadline: float) -> dict[str, Any]:
    while True:
        with _database(read_only=True) as connection, connection.cursor() as cursor:
            cursor.execute("SELECT pg_is_in_recovery()")
            in_recovery = bool(cursor.fetchone()[0])
            cursor.execute("SELECT note, written_by, annotated_by FROM items WHERE id = %s", (item_id,))
            row = cursor.fetchone()
        if (row and row[2]) or time.monotonic() > deadline:
            return {"row": list(row) if row else None, "in_recovery": in_recovery}
        time.sleep(0.2)


def _item(note: str) -> dict[str, Any]:
    item_id = _write(note)
    result = celery_app.send_task("src.tasks.ai.annotate", args=[item_id])
    worker = result.get(timeout=60)
    return {"id": item_id, "api": HOST, "worker": worker, "replica": _read_back(item_id, time.monotonic() + 10)}


async def _respond(send: Callable[[dict[str, Any]], Awaitable[None]], status: int, body: Any) -> None:
    payload = json.dumps(body).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


_SERVED = {"count": 0}


async def _metrics(send: Callable[[dict[str, Any]], Awaitable[None]]) -> None:
    """What the real API exposes at its metrics path, in Prometheus's text format (one series)."""
    payload = (
        "# HELP http_requests_total Requests served.\n# TYPE http_requests_total counter\n"
        f'http_requests_total{{host="{HOST}"}} {_SERVED["count"]}\n'
    ).encode()
    headers = [(b"content-type", b"text/plain; version=0.0.4"), (b"content-length", str(len(payload)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    path, method = scope["path"], scope["method"]
    _SERVED["count"] += 1
    try:
        if path == "/health/live":
            await _respond(send, 200, {"host": HOST})
        elif path == "/health/ready":
            await _respond(send, 200, await asyncio.to_thread(_ready))
        elif path == "/metrics":
            await _metrics(send)
        elif path == "/ping":
            await _respond(send, 200, {"host": HOST})
        elif path == "/items" and method == "POST":
            await _respond(send, 201, await asyncio.to_thread(_item, "engine"))
        elif path == "/writes" and method == "POST":
            await _respond(send, 201, {"id": await asyncio.to_thread(_write, "write"), "api": HOST})
        else:
            await _respond(send, 404, {"path": path})
    except Exception as exc:  # a stand-in: the failure is the answer, for the test to read
        await _respond(send, 503, {"error": f"{type(exc).__name__}: {exc}", "host": HOST})
