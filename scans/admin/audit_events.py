"""The audit trail in the admin: read-only, for admins."""

from __future__ import annotations

from django.contrib import admin

from scans.admin.display import ReadOnlyAdmin
from scans.models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    """Read-only for admins: nobody adds, edits or deletes audit events here."""

    list_display = ["created_at", "actor_name", "action", "object_type", "object_id", "ip"]
    list_filter = ["action", "created_at"]
    search_fields = ["actor_name", "object_id", "ip"]
    date_hierarchy = "created_at"
    readonly_fields = [f.name for f in AuditEvent._meta.fields]

    def has_view_permission(self, request, obj=None) -> bool:
        return request.user.is_superuser
