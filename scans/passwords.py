"""What a password change sets off, whichever door changed it (the password page, the
admin, ``changepassword``, the shell): Django calls ``password_changed`` of every
validator in AUTH_PASSWORD_VALIDATORS when a user with a new password is saved."""

from __future__ import annotations


class RevokeApiKeyOnPasswordChange:
    """Not a rule for passwords: a new password revokes the user's API key, so a key
    copied by whoever knew the old password stops working with it."""

    def validate(self, password: str, user=None) -> None:
        return None

    def password_changed(self, password: str, user=None) -> None:
        if user is not None and user.pk is not None:
            from scans.services.accounts import api_token_revoke  # needs this app's models

            api_token_revoke(user=user, reason="password changed")

    def get_help_text(self) -> str:
        return ""
