"""The audit trail: append-only events of who did what, when, from where."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class AuditEvent(models.Model):
    """Append-only record of who did what, to which object, when and from where."""

    class Action(models.TextChoices):
        LOGIN = "login", _("Logged in")
        LOGOUT = "logout", _("Logged out")
        LOGIN_FAILED = "login_failed", _("Failed log in")
        LOCKED_OUT = "locked_out", _("Locked out after failed log-ins")
        UPLOAD = "upload", _("Uploaded a scan")
        VIEW_RESULT = "view_result", _("Viewed a result")
        VIEW_IMAGE = "view_image", _("Viewed an image")
        REVIEW = "review", _("Reviewed a scan")
        DELETE = "delete", _("Deleted a scan")
        EXPORT = "export", _("Exported scans")
        RECLASSIFY = "reclassify", _("Sent scans to be read again")
        ACTIVATE_MODEL = "activate_model", _("Activated a model version")
        API_TOKEN = "api_token", _("Created an API token")
        CHANGE = "change", _("Changed a record in the admin")
        DELETE_USER = "delete_user", _("Deleted a user")
        PASSWORD_CHANGE_FAILED = (
            "password_change_failed",
            _("Failed password change (wrong password)"),
        )
        PASSWORD_CHANGE_BLOCKED = "password_change_blocked", _("Password change blocked")

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    actor_name = models.CharField(max_length=150, blank=True)  # kept if the user goes
    action = models.CharField(max_length=32, choices=Action)
    object_type = models.CharField(max_length=32, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    detail = models.JSONField(default=dict, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["action", "created_at"], name="audit_action_created")]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.actor_name or '-'} {self.action}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise PermissionError("Audit events are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError("Audit events are never deleted.")
