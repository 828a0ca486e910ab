from __future__ import annotations

import os
from typing import Any

from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandParser
from django.urls import reverse

from scans.roles import REVIEWER, role_group


def site_root() -> str:
    """Where `make run` serves the site: 127.0.0.1 on $KIDNEYWEB_PORT (supervisord.conf)."""
    return f"http://127.0.0.1:{os.getenv('KIDNEYWEB_PORT') or 8000}"


class Command(BaseCommand):
    help = (
        "Create the demo user (a reviewer) once and print how to log in; its password is "
        "set only when it is created or with --reset-password (open sessions stay logged in)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--password",
            default=os.getenv("KIDNEYWEB_DEMO_PASSWORD", "kidneyweb-demo"),
            help="defaults to $KIDNEYWEB_DEMO_PASSWORD, else kidneyweb-demo",
        )
        parser.add_argument(
            "--reset-password",
            action="store_true",
            help="set the password of an existing demo user again (logs its sessions out)",
        )

    def handle(self, *args: Any, password: str, reset_password: bool, **options: Any) -> None:
        user, created = User.objects.get_or_create(username="demo")
        user.is_active = True
        user.is_staff = True  # a reviewer: uploads, reviews, dashboard and admin site
        if created or reset_password:
            user.set_password(password)
        user.save()
        user.groups.add(role_group(REVIEWER))
        self.stdout.write(f"Log in at {site_root()}{reverse('login')}")
        self.stdout.write("  username: demo")
        if created or reset_password:
            self.stdout.write(f"  password: {password}")
        else:
            self.stdout.write(
                "  password: unchanged (python manage.py ensure_demo_user --reset-password "
                "sets it again)"
            )
