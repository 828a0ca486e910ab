from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from scans.services.readings import scans_requeue_stale


class Command(BaseCommand):
    help = (
        "Send again scans left queued or processing too long (broker down at upload, "
        "worker killed). Celery beat runs the same job every minute; use this from cron "
        "where beat does not run."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--older-than",
            type=int,
            default=settings.REQUEUE_AFTER_SECONDS,
            help="seconds a scan may wait before it is sent again (default: %(default)s)",
        )

    def handle(self, *args: Any, older_than: int, **options: Any) -> None:
        sent = scans_requeue_stale(older_than_seconds=older_than)
        self.stdout.write(f"Sent {sent} scan(s) again.")
