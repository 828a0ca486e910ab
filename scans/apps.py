from __future__ import annotations

from django.apps import AppConfig


class ScansConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "scans"

    def ready(self) -> None:
        from scans import (
            audit,  # noqa: F401  (connects the log-in receivers)
            request_id,  # noqa: F401  (carries request ids into tasks)
            tasks,  # noqa: F401  (registers the tasks, which services send by name)
        )
