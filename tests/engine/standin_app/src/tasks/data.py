"""A task of the data pool's routes."""

from __future__ import annotations

from src.celery_app import app


@app.task(bind=True, name="src.tasks.data.echo")
def echo(self, value: str) -> str:  # type: ignore[no-untyped-def]
    return f"{self.request.hostname}:{value}"
