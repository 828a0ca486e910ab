"""Users, roles (groups) and API keys in the admin: every change audited, deletions
and keys through the services."""

from __future__ import annotations

import json

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from rest_framework.authtoken.admin import TokenAdmin
from rest_framework.authtoken.models import TokenProxy

from scans.admin.scans import reviews_go_with_their_scan
from scans.audit import audit_request, client_ip
from scans.models import AuditEvent
from scans.services import accounts


class AuditedAdminMixin:
    """Every addition, change and deletion made in this admin is an audit event too
    (for admins whose writes have no service of their own: users, groups)."""

    def log_addition(self, request, obj, message):
        audit_request(request, action=AuditEvent.Action.CHANGE, obj=obj, added=_json(message))
        return super().log_addition(request, obj, message)

    def log_change(self, request, obj, message):
        audit_request(request, action=AuditEvent.Action.CHANGE, obj=obj, changed=_json(message))
        return super().log_change(request, obj, message)

    def log_deletions(self, request, queryset):
        for obj in queryset:
            audit_request(request, action=AuditEvent.Action.CHANGE, obj=obj, deleted=True)
        return super().log_deletions(request, queryset)


class AuditedUserAdmin(AuditedAdminMixin, UserAdmin):
    """Django's user admin, with deletes through the service (the user's scans audited
    and their files removed) and every other change in the audit trail."""

    def get_deleted_objects(self, objs, request):
        return reviews_go_with_their_scan(super().get_deleted_objects(objs, request))

    def delete_model(self, request, obj) -> None:
        accounts.user_delete(user=obj, actor=request.user, ip=client_ip(request))

    def delete_queryset(self, request, queryset) -> None:
        for user in queryset:
            accounts.user_delete(user=user, actor=request.user, ip=client_ip(request))

    def log_deletions(self, request, queryset):
        return None  # user_delete wrote the delete_user event


class AuditedGroupAdmin(AuditedAdminMixin, GroupAdmin):
    """Roles are groups: a change to a role's permissions is in the audit trail."""


def _json(message):
    """The admin's change message (lazy labels included) as plain JSON."""
    return json.loads(json.dumps(message, default=str))


admin.site.unregister(Group)
admin.site.register(Group, AuditedGroupAdmin)
admin.site.unregister(get_user_model())
admin.site.register(get_user_model(), AuditedUserAdmin)


class MaskedTokenAdmin(TokenAdmin):
    """API keys are never listed in clear: the list shows the first four characters; a
    key made here goes through the service (audited) and is shown once, in the message."""

    list_display = ["masked_key", "user", "created"]

    @admin.display(description=_("Key"))
    def masked_key(self, token) -> str:
        return f"{token.key[:4]}…"

    def save_model(self, request, obj, form, change) -> None:
        token = accounts.api_token_create(user=obj.user, rotate=True, actor=request.user)
        obj.key, obj.created = token.key, token.created
        self.message_user(
            request,
            gettext("API key for %(user)s: %(key)s (shown this once; copy it now).")
            % {"user": obj.user, "key": token.key},
        )

    def log_addition(self, request, obj, message):
        return None  # the service audited it; the admin log would keep the key in clear

    def delete_model(self, request, obj) -> None:
        accounts.api_token_revoke(user=obj.user, actor=request.user, reason="admin")

    def log_deletions(self, request, queryset):
        return None  # as for additions

    def response_add(self, request, obj, post_url_continue=None):
        return HttpResponseRedirect(reverse("admin:authtoken_tokenproxy_changelist"))


admin.site.unregister(TokenProxy)
admin.site.register(TokenProxy, MaskedTokenAdmin)
