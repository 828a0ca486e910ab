from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from scans.services.accounts import api_token_create


class Command(BaseCommand):
    help = (
        "Print the API key of USERNAME (created if the user has none), and nothing else, "
        "so that scripts can capture it. --rotate replaces an existing key."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument(
            "--rotate", action="store_true", help="replace the key (the old one stops working)"
        )

    def handle(self, *args: Any, username: str, rotate: bool, **options: Any) -> None:
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user {username!r}.")
        try:
            token = api_token_create(user=user, rotate=rotate)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(token.key)
