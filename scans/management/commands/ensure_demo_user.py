from __future__ import annotations

import os
from typing import Any

from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandParser
from django.urls import reverse

from scans.roles import REVIEWER, role_group

# Where `make run` serves the site (see Procfile).
SITE_ROOT = "http://127.0.0.1:8000"


class Command(BaseCommand):
    help = "Create the demo user (a reviewer), or reset its password, and print how to log in."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--password",
            default=os.getenv("KIDNEYWEB_DEMO_PASSWORD", "kidneyweb-demo"),
            help="defaults to $KIDNEYWEB_DEMO_PASSWORD, else kidneyweb-demo",
        )

    def handle(self, *args: Any, password: str, **options: Any) -> None:
        user, _ = User.objects.get_or_create(username="demo")
        user.is_active = True
        user.is_staff = True  # a reviewer: uploads, reviews, dashboard and admin site
        user.set_password(password)
        user.save()
        user.groups.add(role_group(REVIEWER))
        self.stdout.write(f"Log in at {SITE_ROOT}{reverse('login')}")
        self.stdout.write("  username: demo")
        self.stdout.write(f"  password: {password}")
