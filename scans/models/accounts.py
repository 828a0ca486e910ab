"""What a user chose for themselves, kept with the account."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class AccountPreference(models.Model):
    """Kept with the account, not in one browser: it follows the user to the next
    computer they log in on."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="preference",
    )
    # The language chosen in the header's switcher; blank: the browser's language.
    language = models.CharField(
        _("language"), max_length=10, choices=settings.LANGUAGES, blank=True
    )

    def __str__(self) -> str:
        return f"Preferences of {self.user}"
