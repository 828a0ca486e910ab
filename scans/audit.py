"""The audit trail: one function that writes an event, and the log-in receivers
(log-in, log-out, failed log-in, lock-out)."""

from __future__ import annotations

from axes.signals import user_locked_out
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver
from django.http import HttpRequest

from scans.models import AuditEvent


def audit_record(
    *,
    action: str,
    actor=None,
    ip: str | None = None,
    obj=None,
    object_type: str = "",
    object_id: str = "",
    **detail,
) -> AuditEvent:
    """Append one event; ``obj`` (a model instance) names the object it concerns and
    ``ip`` is the address the request came from (None: no request, e.g. a command)."""
    if obj is not None:
        object_type, object_id = obj._meta.model_name, str(obj.pk)
    return AuditEvent.objects.create(
        actor=actor if getattr(actor, "pk", None) else None,
        actor_name=actor.get_username() if actor is not None else detail.get("username", ""),
        action=action,
        object_type=object_type,
        object_id=object_id,
        detail=detail,
        ip=ip,
    )


def audit_request(request: HttpRequest, *, action: str, actor=None, obj=None, **detail):
    """:func:`audit_record` for what a request did (a page, the API, the admin): the
    actor is the logged-in user unless given, the address the request's."""
    user = getattr(request, "user", None)  # absent before AuthenticationMiddleware
    if actor is None and user is not None and user.is_authenticated:
        actor = user
    return audit_record(action=action, actor=actor, ip=client_ip(request), obj=obj, **detail)


def client_ip(request: HttpRequest | None) -> str | None:
    """The peer address. Behind a proxy, configure it to set REMOTE_ADDR (we do not
    trust X-Forwarded-For, which any client can send). A DRF request reads its
    Django request's META, so both kinds are taken."""
    return request.META.get("REMOTE_ADDR") or None if request is not None else None


@receiver(user_logged_in)
def _logged_in(sender, request, user, **kwargs) -> None:
    audit_request(request, action=AuditEvent.Action.LOGIN, actor=user)


@receiver(user_logged_out)
def _logged_out(sender, request, user, **kwargs) -> None:
    if user is not None:
        audit_request(request, action=AuditEvent.Action.LOGOUT, actor=user)


@receiver(user_login_failed)
def _login_failed(sender, credentials, request=None, **kwargs) -> None:
    audit_record(
        action=AuditEvent.Action.LOGIN_FAILED,
        ip=client_ip(request),
        username=str(credentials.get("username", ""))[:150],
    )


@receiver(user_locked_out)
def _locked_out(sender, request, username, ip_address, **kwargs) -> None:
    """django-axes refused a log-in: too many failures for this name from this address."""
    audit_record(
        action=AuditEvent.Action.LOCKED_OUT,
        ip=client_ip(request),
        username=str(username or "")[:150],
    )
