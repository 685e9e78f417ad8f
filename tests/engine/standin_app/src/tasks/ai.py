"""A task of the ai pool's routes (src.tasks.ai.*): records which worker ran it."""

from __future__ import annotations

import os

import psycopg2

from src.celery_app import app


@app.task(bind=True, name="src.tasks.ai.annotate")
def annotate(self, item_id: int) -> str:  # type: ignore[no-untyped-def]
    worker = str(self.request.hostname)
    with psycopg2.connect(os.environ["DATABASE_URL"]) as connection, connection.cursor() as cursor:
        cursor.execute("UPDATE items SET annotated_by = %s WHERE id = %s", (worker, item_id))
    return worker
