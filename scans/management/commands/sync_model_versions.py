from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from scans.services.model_versions import model_versions_sync


class Command(BaseCommand):
    help = "Mirror the model version folders (models/) into the database; say which is active."

    def handle(self, *args: Any, **options: Any) -> None:
        active = model_versions_sync()
        if active is None:
            self.stdout.write("No model version is active: scans cannot be read until one is.")
        else:
            self.stdout.write(f"Active model version: {active.id}")
