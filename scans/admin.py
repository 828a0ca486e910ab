from __future__ import annotations

import csv
import json
from urllib.parse import urlencode

from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group
from django.db.models import Q
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.defaultfilters import floatformat
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from rest_framework.authtoken.admin import TokenAdmin
from rest_framework.authtoken.models import TokenProxy

from scans.audit import audit_request, client_ip
from scans.charts import CHART_BAR_WIDTH, probability_bars
from scans.models import AuditEvent, Diagnosis, ModelVersion, Prediction, ReadingState, Review, Scan
from scans.selectors.model_versions import active_model_version
from scans.selectors.reviews import agreement_by_model_version
from scans.selectors.scans import finding_q, reading_state_q, refusal_review_q, scans_export_rows
from scans.services import accounts, model_versions, readings, reviews, uploads


class ReviewedFilter(admin.SimpleListFilter):
    title = "review"
    parameter_name = "reviewed"

    def lookups(self, request, model_admin):
        return [("no", "Not reviewed"), ("yes", "Reviewed")]

    def queryset(self, request, queryset):
        if self.value() == "no":
            return queryset.filter(review__isnull=True)
        if self.value() == "yes":
            return queryset.filter(review__isnull=False)
        return queryset


class AgreementFilter(admin.SimpleListFilter):
    title = "AI vs reviewer"
    parameter_name = "agreement"

    def lookups(self, request, model_admin):
        return [("agree", "Agreement"), ("disagree", "Disagreement")]

    def queryset(self, request, queryset):
        if self.value() in ("agree", "disagree"):
            # Only readings of a kidney class on both sides agree or disagree.
            return queryset.filter(review__agrees=self.value() == "agree").exclude(
                refusal_review_q(prefix="review__")
            )
        return queryset


class ReadingStateFilter(admin.SimpleListFilter):
    title = "reading"
    parameter_name = "reading_state"

    def lookups(self, request, model_admin):
        return ReadingState.choices

    def queryset(self, request, queryset):
        if self.value() in ReadingState.values:
            return queryset.filter(status=Scan.Status.DONE).filter(reading_state_q(self.value()))
        return queryset


class FindingFilter(admin.SimpleListFilter):
    """The AI's kidney label; a refused image has none."""

    title = "AI reading"
    parameter_name = "finding"

    def lookups(self, request, model_admin):
        return Diagnosis.choices

    def queryset(self, request, queryset):
        if self.value() in Diagnosis.values:
            return queryset.filter(finding_q(self.value()))
        return queryset


class PredictionInline(admin.TabularInline):
    model = Prediction
    extra = 0
    can_delete = False
    verbose_name_plural = "Prediction history (every model version that read the scan)"
    fields = ["model_version", "reading", "finding_confidence", "time_to_read", "created_at"]
    readonly_fields = fields

    @admin.display(description="Reading")
    def reading(self, prediction: Prediction) -> str:
        return _reading(prediction)

    @admin.display(description="Confidence")
    def finding_confidence(self, prediction: Prediction) -> str:
        return _confidence(prediction)

    @admin.display(description="Time to read")
    def time_to_read(self, prediction: Prediction) -> str:
        return f"{floatformat(prediction.milliseconds, 1)} ms"  # as the result page has it

    def has_add_permission(self, request, obj=None) -> bool:
        return False


class ReviewInline(admin.TabularInline):
    """Past reviews are read-only; a new verdict is a new row."""

    model = Review
    extra = 0
    can_delete = False
    verbose_name_plural = "Review history"
    fields = ["created_at", "reviewer", "verdict", "ai_reading", "agrees", "comment"]
    readonly_fields = fields

    @admin.display(description="AI reading")
    def ai_reading(self, review: Review) -> str:
        return review.ai_reading_display

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Scan)
class ScanAdmin(admin.ModelAdmin):
    list_display = [
        "thumbnail_tag",
        "id",
        "owner",
        "uploaded",
        "status",
        "ai_label",
        "confidence",
        "model_version",
        "review_state",
        "verdict",
    ]
    list_display_links = ["thumbnail_tag", "id"]
    list_filter = [
        "status",
        ReadingStateFilter,
        FindingFilter,
        ReviewedFilter,
        AgreementFilter,
        "prediction__model_version",
        "uploaded_at",
    ]
    search_fields = ["owner__username", "original_name", "note"]
    date_hierarchy = "uploaded_at"
    list_select_related = ["owner", "prediction", "review", "review__reviewer"]
    readonly_fields = [
        "large_image",
        "probability_chart",
        "owner",
        "original_name",
        "image_format",
        "size_bytes",
        "width",
        "height",
        "sha256",
        "status",
        "failure_reason",
        "uploaded_at",
        "queued_at",
        "processing_at",
        "done_at",
        "failed_at",
        "prediction",
        "review",
    ]
    fields = ["large_image", "probability_chart", "note", *readonly_fields[2:]]
    inlines = [PredictionInline, ReviewInline]
    actions = ["reclassify", "mark_reviewed", "export_csv"]

    class Media:
        css = {"all": ["scans/admin.css"]}

    def has_add_permission(self, request) -> bool:
        return False  # scans come from uploads

    def has_view_permission(self, request, obj=None) -> bool:
        return request.user.has_perm("scans.review_scan")

    def get_readonly_fields(self, request, obj=None):
        # The note is the uploader's; only admins correct it (audited, save_model).
        if request.user.is_superuser:
            return self.readonly_fields
        return [*self.readonly_fields, "note"]

    def save_model(self, request, obj, form, change) -> None:
        if "note" in form.changed_data:
            scan = Scan.objects.get(pk=obj.pk)
            uploads.scan_note_update(
                scan=scan,
                note=form.cleaned_data["note"],
                actor=request.user,
                ip=client_ip(request),
            )

    def log_change(self, request, obj, message):
        return None  # the service wrote the audit event; no second, unaudited log

    def get_deleted_objects(self, objs, request):
        return _reviews_go_with_their_scan(super().get_deleted_objects(objs, request))

    def delete_model(self, request, obj) -> None:
        uploads.scan_delete(scan=obj, actor=request.user, ip=client_ip(request))

    def delete_queryset(self, request, queryset) -> None:
        uploads.scans_delete(scans=queryset, actor=request.user, ip=client_ip(request))

    @admin.display(description="Uploaded", ordering="uploaded_at")
    def uploaded(self, scan: Scan) -> str:
        return date_format(timezone.localtime(scan.uploaded_at), "Y-m-d H:i")  # as the site

    @admin.display(description="Image")
    def thumbnail_tag(self, scan: Scan) -> str:
        url = reverse("scan_thumbnail", args=[scan.pk])
        return format_html('<img src="{}" width="48" height="48" alt="">', url)

    @admin.display(description="Image")
    def large_image(self, scan: Scan) -> str:
        url = reverse("scan_image", args=[scan.pk])
        return format_html('<img src="{}" class="scan-large" alt="">', url)

    @admin.display(description="Probabilities")
    def probability_chart(self, scan: Scan) -> str:
        if scan.prediction and scan.prediction.reading_state == ReadingState.NOT_A_CT:
            return "Refused: not a CT slice this model can read (no kidney finding)."
        bars = probability_bars(scan)
        if not bars:
            return "—"
        return format_html_join(
            "",
            # SVG attributes, not inline styles: the Content-Security-Policy forbids those.
            '<div class="prob-row"><span class="prob-label">{}</span>'
            '<svg width="{}" height="12" aria-hidden="true"><rect width="{}" height="12" '
            'fill="{}"/></svg> {}%</div>',
            (
                (
                    bar["label"],
                    CHART_BAR_WIDTH,
                    bar["width"],
                    "#0b5cad" if bar["winner"] else "#9aa5b1",
                    bar["percent"],
                )
                for bar in bars
            ),
        )

    @admin.display(description="AI reading", ordering="prediction__label")
    def ai_label(self, scan: Scan) -> str:
        return _reading(scan.prediction) if scan.prediction else "—"

    @admin.display(description="Confidence", ordering="prediction__confidence")
    def confidence(self, scan: Scan) -> str:
        return _confidence(scan.prediction) if scan.prediction else "—"

    @admin.display(description="Model", ordering="prediction__model_version")
    def model_version(self, scan: Scan) -> str:
        return scan.prediction.model_version_id if scan.prediction else "—"

    @admin.display(description="Review", boolean=True, ordering="review")
    def review_state(self, scan: Scan) -> bool:
        return scan.review_id is not None

    @admin.display(description="Verdict")
    def verdict(self, scan: Scan) -> str:
        if scan.review is None:
            return "—"
        return f"{scan.review.get_verdict_display()} ({scan.review.reviewer})"

    @admin.action(
        description="Read again with the active model (through the workers)",
        permissions=["change"],
    )
    def reclassify(self, request: HttpRequest, queryset) -> None:
        count = readings.scans_reclassify(scans=queryset, actor=request.user, ip=client_ip(request))
        self.message_user(request, f"{count} scan(s) queued to be read again.")

    @admin.action(
        description="Mark reviewed: confirm the AI reading (or its refusal)", permissions=["review"]
    )
    def mark_reviewed(self, request: HttpRequest, queryset) -> None:
        done = queryset.filter(status=Scan.Status.DONE, prediction__isnull=False)
        for scan in done:
            refused = scan.prediction.reading_state == ReadingState.NOT_A_CT
            verdict = Review.NOT_A_CT if refused else Review.CONFIRMED
            reviews.review_create(
                scan=scan, reviewer=request.user, verdict=verdict, ip=client_ip(request)
            )
        skipped = queryset.count() - done.count()
        self.message_user(request, f"{done.count()} scan(s) confirmed.")
        if skipped:
            self.message_user(
                request, f"{skipped} scan(s) without an AI reading skipped.", messages.WARNING
            )

    def has_review_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("scans.add_review")

    @admin.action(description="Export as CSV")
    def export_csv(self, request: HttpRequest, queryset) -> HttpResponse:
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="kidneyweb-scans.csv"'
        rows = scans_export_rows(scans=queryset)
        csv.writer(response).writerows(rows)
        audit_request(request, action=AuditEvent.Action.EXPORT, scans=len(rows) - 1, format="csv")
        return response


class ActiveVersionFilter(admin.SimpleListFilter):
    title = "active"
    parameter_name = "active"

    def lookups(self, request, model_admin):
        return [("yes", "Yes"), ("no", "No")]

    def queryset(self, request, queryset):
        if self.value() not in ("yes", "no"):
            return queryset
        active = active_model_version()
        chosen = Q(pk=active.id) if active else Q(pk__in=[])
        return queryset.filter(chosen) if self.value() == "yes" else queryset.exclude(chosen)


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

    @admin.display(description="Metrics")
    def metrics_display(self, version: ModelVersion) -> str:
        """The metadata's metrics, with every number to at most four decimals."""
        return format_html("<pre>{}</pre>", json.dumps(_rounded(version.metrics), indent=2))

    def has_add_permission(self, request) -> bool:
        return False  # versions come from models/ folders (train_model, sync_model_versions)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # versions are immutable; predictions point at them

    def get_queryset(self, request):
        self._agreement = agreement_by_model_version()
        active = active_model_version()  # read once for the whole list
        self._active_id = active.id if active else None
        return super().get_queryset(request)

    @admin.display(description="Active", boolean=True)
    def is_active(self, version: ModelVersion) -> bool:
        return version.id == self._active_id

    @admin.display(description="Cross-validated (new patients)")
    def crossvalidated_display(self, version: ModelVersion) -> str:
        figure = version.crossvalidated_balanced_accuracy
        if figure is None:
            return "—"
        mean, spread = figure
        text = f"{mean:.1%}" + (f" ± {spread:.1%}" if spread is not None else "")
        url = reverse("model_card") + "?" + urlencode({"version": version.id})
        return format_html('<a href="{}">balanced accuracy {}</a>', url, text)

    @admin.display(description="Held-out accuracy")
    def validation_accuracy_display(self, version: ModelVersion) -> str:
        accuracy = version.validation_accuracy
        return f"{accuracy:.1%}" if accuracy is not None else "—"

    @admin.display(description="Reviewed")
    def reviewed(self, version: ModelVersion) -> int:
        return self._agreement.get(version.id, {}).get("reviewed", 0)

    @admin.display(description="Live agreement")
    def agreement(self, version: ModelVersion) -> str:
        stats = self._agreement.get(version.id)
        return f"{stats['rate']:.1%}" if stats and stats["reviewed"] else "—"

    @admin.action(
        description="Activate (or roll back to) the selected version", permissions=["activate"]
    )
    def activate(self, request: HttpRequest, queryset) -> None:
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one version.", messages.ERROR)
            return
        version = model_versions.model_version_activate(
            version_id=queryset.get().id, actor=request.user, ip=client_ip(request), via="admin"
        )
        self.message_user(request, f"Version {version.id} is active; workers use it from now.")

    def has_activate_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Read-only for admins: nobody adds, edits or deletes audit events here."""

    list_display = ["created_at", "actor_name", "action", "object_type", "object_id", "ip"]
    list_filter = ["action", "created_at"]
    search_fields = ["actor_name", "object_id", "ip"]
    date_hierarchy = "created_at"
    readonly_fields = [f.name for f in AuditEvent._meta.fields]

    def has_view_permission(self, request, obj=None) -> bool:
        return request.user.is_superuser

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


# Reviews are written through the worklist or the scan actions, never edited here.
@admin.register(Review)
class ReviewAdmin(admin.ModelAdmin):
    list_display = ["created_at", "scan", "reviewer", "verdict", "ai_reading", "agrees"]
    list_filter = ["verdict", "agrees", "ai_label", "created_at"]
    search_fields = ["reviewer__username", "comment"]
    readonly_fields = [f.name for f in Review._meta.fields]

    @admin.display(description="AI reading", ordering="ai_label")
    def ai_reading(self, review: Review) -> str:
        return review.ai_reading_display

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


def _reading(prediction: Prediction) -> str:
    """A reading by its state: a refused image shows no kidney label."""
    if prediction.reading_state == ReadingState.NOT_A_CT:
        return ReadingState.NOT_A_CT.label
    if prediction.reading_state == ReadingState.UNCERTAIN:
        return f"{prediction.label} (uncertain)"
    return prediction.label


def _rounded(value, digits: int = 4):
    if isinstance(value, float):
        return round(value, digits)
    if isinstance(value, dict):
        return {key: _rounded(item, digits) for key, item in value.items()}
    if isinstance(value, list):
        return [_rounded(item, digits) for item in value]
    return value


def _confidence(prediction: Prediction) -> str:
    confidence = prediction.finding_confidence
    return "—" if confidence is None else f"{confidence:.1%}"


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
        return _reviews_go_with_their_scan(super().get_deleted_objects(objs, request))

    def delete_model(self, request, obj) -> None:
        accounts.user_delete(user=obj, actor=request.user, ip=client_ip(request))

    def delete_queryset(self, request, queryset) -> None:
        for user in queryset:
            accounts.user_delete(user=user, actor=request.user, ip=client_ip(request))

    def log_deletions(self, request, queryset):
        return None  # user_delete wrote the delete_user event


class AuditedGroupAdmin(AuditedAdminMixin, GroupAdmin):
    """Roles are groups: a change to a role's permissions is in the audit trail."""


def _reviews_go_with_their_scan(deleted_objects):
    """Nobody deletes a review on its own (ReviewAdmin), but deleting its scan takes it
    along; the audit trail keeps the record."""
    deleted, model_count, perms_needed, protected = deleted_objects
    perms_needed.discard(Review._meta.verbose_name)
    return deleted, model_count, perms_needed, protected


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

    @admin.display(description="Key")
    def masked_key(self, token) -> str:
        return f"{token.key[:4]}…"

    def save_model(self, request, obj, form, change) -> None:
        token = accounts.api_token_create(user=obj.user, rotate=True, actor=request.user)
        obj.key, obj.created = token.key, token.created
        self.message_user(
            request, f"API key for {obj.user}: {token.key} (shown this once; copy it now)."
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
