"""Whether the database, the broker and the active model can serve (the health check)."""

from __future__ import annotations

from pathlib import Path

from celery import current_app
from django.db import DatabaseError, connection

from mlcore.runtime import KERAS_FILE, LITERT_FILE
from scans.selectors.model_versions import active_model_version


def system_health(*, models_dir: Path, runtime: str) -> dict[str, dict]:
    """Whether the database, the broker and the active model can serve, for load
    balancers. Says what is wrong in general words: no host names, no exceptions."""
    return {
        "database": _database_health(),
        "broker": _broker_health(),
        "model": _model_health(models_dir=models_dir, runtime=runtime),
    }


def _database_health() -> dict:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError:
        return {"ok": False, "detail": "The database is unreachable."}
    return {"ok": True}


def _broker_health() -> dict:
    try:
        with current_app.connection_for_write() as broker:
            broker.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=2)
    except Exception:  # kombu raises transport-specific errors; any of them means "down"
        return {"ok": False, "detail": "The task broker is unreachable: scans stay queued."}
    return {"ok": True}


def _model_health(*, models_dir: Path, runtime: str) -> dict:
    active = active_model_version(models_dir=models_dir)
    if active is None:
        return {"ok": False, "detail": "No model version is active.", "version": None}
    if active.metadata is None:
        return {
            "ok": False,
            "detail": f"The active version {active.id} has no files (or no metadata.json).",
            "version": active.id,
        }
    model_file = LITERT_FILE if runtime == "litert" else KERAS_FILE
    if not (active.path / model_file).is_file():
        return {
            "ok": False,
            "detail": f"The active version has no {model_file}.",
            "version": active.id,
        }
    return {"ok": True, "version": active.id}
