"""Model versions in the admin: what each scored, how reviewers agree with it, and
activation (or roll-back), audited."""

from __future__ import annotations

import json
from urllib.parse import urlencode

from django.contrib import admin, messages
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from mlcore import versions
from scans.admin.display import rounded
from scans.admin.filters import ActiveVersionFilter
from scans.audit import client_ip
from scans.models import ModelVersion
from scans.selectors.model_versions import active_model_version
from scans.selectors.reviews import agreement_by_model_version
from scans.services import model_versions
from scans.templatetags.scans_format import percent


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "created",
        "is_active",
        "crossvalidated_display",
        "validation_accuracy_display",
        "reviewed",
        "agreement",
    ]
    list_filter = [ActiveVersionFilter]
    readonly_fields = ["id", "created", "metrics_display", "is_active", "synced_at"]
    exclude = ["metrics"]  # shown rounded, read-only, as metrics_display
    actions = ["activate"]

    @admin.display(description=_("Metrics"))
    def metrics_display(self, version: ModelVersion) -> str:
        """The metadata's metrics, with every number to at most four decimals."""
        return format_html("<pre>{}</pre>", json.dumps(rounded(version.metrics), indent=2))

    def has_add_permission(self, request) -> bool:
        return False  # versions come from models/ folders (train_model, sync_model_versions)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # versions are immutable; predictions point at them

    def get_queryset(self, request):
        self._agreement = agreement_by_model_version()
        active = active_model_version()  # read once for the whole list
        self._active_id = active.id if active else None
        return super().get_queryset(request)

    @admin.display(description=_("Active"), boolean=True)
    def is_active(self, version: ModelVersion) -> bool:
        return version.id == self._active_id

    @admin.display(description=_("Cross-validated (new patients)"))
    def crossvalidated_display(self, version: ModelVersion) -> str:
        figure = version.crossvalidated_balanced_accuracy
        if figure is None:
            return "—"
        mean, spread = figure
        text = percent(mean) + (f" ± {percent(spread)}" if spread is not None else "")
        url = reverse("model_card") + "?" + urlencode({"version": version.id})
        return format_html(
            '<a href="{}">{}</a>', url, gettext("balanced accuracy %(figure)s") % {"figure": text}
        )

    @admin.display(description=_("Held-out accuracy"))
    def validation_accuracy_display(self, version: ModelVersion) -> str:
        accuracy = version.validation_accuracy
        return percent(accuracy) if accuracy is not None else "—"

    @admin.display(description=_("Reviewed"))
    def reviewed(self, version: ModelVersion) -> int:
        return self._agreement.get(version.id, {}).get("reviewed", 0)

    @admin.display(description=_("Live agreement"))
    def agreement(self, version: ModelVersion) -> str:
        stats = self._agreement.get(version.id)
        return percent(stats["rate"]) if stats and stats["reviewed"] else "—"

    @admin.action(
        description=_("Activate (or roll back to) the selected version"), permissions=["activate"]
    )
    def activate(self, request: HttpRequest, queryset) -> None:
        if queryset.count() != 1:
            self.message_user(request, gettext("Select exactly one version."), messages.ERROR)
            return
        try:
            version = model_versions.model_version_activate(
                version_id=queryset.get().id, actor=request.user, ip=client_ip(request), via="admin"
            )
        except versions.VersionError as exc:  # its folder is gone, or it reads other classes
            self.message_user(request, str(exc), messages.ERROR)
            return
        message = gettext("Version %(version)s is active; workers use it from now.")
        self.message_user(request, message % {"version": version.id})

    def has_activate_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser
