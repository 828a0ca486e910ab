"""Accounts: users in their role, API keys, the limit on wrong old passwords."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.db import transaction
from rest_framework.authtoken.models import Token

from scans.audit import audit_record
from scans.models import AccountPreference, AuditEvent, Scan
from scans.ratelimit import hits_clear, hits_count, hits_get
from scans.roles import ADMIN, CLINICIAN, ROLES, role_group
from scans.services.uploads import scans_delete


def user_create(*, username: str, role: str, password: str | None = None, email: str = ""):
    """A user in one role: reviewers and admins may use the admin site, admins are
    superusers. ``password=None`` leaves the account unable to log in."""
    if role not in ROLES:
        raise ValueError(f"Unknown role {role!r}; choose one of {', '.join(ROLES)}.")
    user_model = get_user_model()
    if user_model.objects.filter(username=username).exists():
        raise ValueError(f"User {username!r} already exists.")
    user = user_model(
        username=username,
        email=user_model.objects.normalize_email(email),
        is_staff=role != CLINICIAN,
        is_superuser=role == ADMIN,
    )
    if password is None:
        user.set_unusable_password()
    else:
        validate_password(password, user)
        user.set_password(password)
    with transaction.atomic():
        user.save()
        user.groups.add(role_group(role))
    return user


def api_token_create(*, user, rotate: bool = False, actor=None) -> Token:
    """The user's API key (one per user): the existing one, or a new one when there is
    none or ``rotate`` is set (the old key stops working at once)."""
    if not user.is_active:
        raise ValueError(f"User {user.get_username()!r} is inactive.")
    with transaction.atomic():
        if rotate:
            Token.objects.filter(user=user).delete()
        token, created = Token.objects.get_or_create(user=user)
        if created:
            audit_record(
                action=AuditEvent.Action.API_TOKEN,
                actor=actor,
                obj=user,
                user=user.get_username(),
                rotated=rotate,
            )
    return token


def api_token_revoke(*, user, actor=None, reason: str) -> bool:
    """Delete the user's API key, if any (audited with ``reason``); True if there was one."""
    with transaction.atomic():
        deleted, _ = Token.objects.filter(user=user).delete()
        if deleted:
            audit_record(
                action=AuditEvent.Action.API_TOKEN,
                actor=actor,
                obj=user,
                user=user.get_username(),
                revoked=reason,
            )
    return bool(deleted)


def _password_failures_key(user) -> str:
    return f"password-change-failures:{user.pk}"


def password_change_blocked(*, user) -> bool:
    """Too many wrong old passwords lately (the log-in limit and cool-off apply)."""
    return hits_get(key=_password_failures_key(user)) >= settings.AXES_FAILURE_LIMIT


def password_change_failed(*, user, ip: str | None = None) -> bool:
    """Record a wrong old password (audited); True if that blocks further tries."""
    seconds = int(settings.AXES_COOLOFF_TIME.total_seconds())
    failures = hits_count(key=_password_failures_key(user), seconds=seconds)
    blocked = failures >= settings.AXES_FAILURE_LIMIT
    actions = AuditEvent.Action
    audit_record(
        action=actions.PASSWORD_CHANGE_BLOCKED if blocked else actions.PASSWORD_CHANGE_FAILED,
        actor=user,
        ip=ip,
        obj=user,
        failures=failures,
    )
    return blocked


def password_change_succeeded(*, user) -> None:
    hits_clear(key=_password_failures_key(user))


def user_delete(*, user, actor=None, ip: str | None = None) -> None:
    """Delete a user and their scans, each scan audited and its files removed.

    Raises django.db.models.ProtectedError (nothing deleted) if the user wrote
    reviews: those stay; deactivate the account instead.
    """
    with transaction.atomic():
        scans_delete(scans=Scan.objects.filter(owner=user), actor=actor, ip=ip)
        audit_record(
            action=AuditEvent.Action.DELETE_USER,
            actor=actor,
            ip=ip,
            obj=user,
            user=user.get_username(),
        )
        user.delete()


def user_language_set(*, user, language: str) -> AccountPreference:
    """Keep the language the user chose with their account: the next log-in, from any
    browser, comes back in it."""
    if language not in dict(settings.LANGUAGES):
        raise ValueError(f"Unknown language: {language!r}")
    preference, _ = AccountPreference.objects.update_or_create(
        user=user, defaults={"language": language}
    )
    return preference
