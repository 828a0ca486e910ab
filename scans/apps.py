from __future__ import annotations

from pathlib import Path

from django.apps import AppConfig
from django.conf import settings


class ScansConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "scans"

    def ready(self) -> None:
        from scans import (
            audit,  # noqa: F401  (connects the log-in receivers)
            request_id,  # noqa: F401  (carries request ids into tasks)
            tasks,  # noqa: F401  (registers the tasks, which services send by name)
        )

        local_folders_make()


def local_folders_make() -> None:
    """The folders of this checkout's local state, made when Django starts (web,
    workers, beat, commands, tests) rather than when the settings are imported: the
    SQLite file's, the static root (WhiteNoise warns without it) and the folder
    broker's queue and control folders."""
    options = getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", {})
    broker = [options[key] for key in ("data_folder_in", "control_folder") if key in options]
    for folder in (settings.VAR_DIR, settings.STATIC_ROOT, *broker):
        Path(folder).mkdir(parents=True, exist_ok=True)
