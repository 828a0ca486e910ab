"""Reads about accounts: what a user chose for themselves."""

from __future__ import annotations

from scans.models import AccountPreference


def user_language(*, user) -> str | None:
    """The language the user chose in the header's switcher, or None (the browser's)."""
    language = (
        AccountPreference.objects.filter(user=user).values_list("language", flat=True).first()
    )
    return language or None
