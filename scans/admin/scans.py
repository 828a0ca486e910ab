"""Scans (with their reading and review history) and reviews in the admin."""

from __future__ import annotations

import csv

from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse
from django.template.defaultfilters import floatformat
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from scans.admin.display import ReadOnlyAdmin, confidence_text, reading_text
from scans.admin.filters import AgreementFilter, FindingFilter, ReadingStateFilter, ReviewedFilter
from scans.audit import audit_request, client_ip
from scans.charts import CHART_BAR_WIDTH, probability_bars
from scans.models import AuditEvent, Prediction, ReadingState, Review, Scan
from scans.selectors.scans import scans_export_rows
from scans.services import readings, reviews, uploads


class PredictionInline(admin.TabularInline):
    model = Prediction
    extra = 0
    can_delete = False
    verbose_name_plural = _("Prediction history (every model version that read the scan)")
    fields = [
        "model_version",
        "reading",
        "finding_confidence",
        "fills_frame",
        "time_to_read",
        "created_at",
    ]
    readonly_fields = fields

    @admin.display(description=_("Reading"))
    def reading(self, prediction: Prediction) -> str:
        return reading_text(prediction)

    @admin.display(description=_("Confidence"))
    def finding_confidence(self, prediction: Prediction) -> str:
        return confidence_text(prediction)

    @admin.display(description=_("Time to read"))
    def time_to_read(self, prediction: Prediction) -> str:
        return f"{floatformat(prediction.milliseconds, 1)} ms"  # as the result page has it

    def has_add_permission(self, request, obj=None) -> bool:
        return False


class ReviewInline(admin.TabularInline):
    """Past reviews are read-only; a new verdict is a new row."""

    model = Review
    extra = 0
    can_delete = False
    verbose_name_plural = _("Review history")
    fields = ["created_at", "reviewer", "verdict", "ai_reading", "agrees", "comment"]
    readonly_fields = fields

    @admin.display(description=_("AI reading"))
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
        return reviews_go_with_their_scan(super().get_deleted_objects(objs, request))

    def delete_model(self, request, obj) -> None:
        uploads.scan_delete(scan=obj, actor=request.user, ip=client_ip(request))

    def delete_queryset(self, request, queryset) -> None:
        uploads.scans_delete(scans=queryset, actor=request.user, ip=client_ip(request))

    @admin.display(description=_("Uploaded"), ordering="uploaded_at")
    def uploaded(self, scan: Scan) -> str:
        return date_format(timezone.localtime(scan.uploaded_at), "Y-m-d H:i")  # as the site

    @admin.display(description=_("Image"))
    def thumbnail_tag(self, scan: Scan) -> str:
        url = reverse("scan_thumbnail", args=[scan.pk])
        # The picture is the row's link: its text names the scan.
        alt = gettext("Scan %(id)s") % {"id": scan.pk}
        return format_html('<img src="{}" width="48" height="48" alt="{}">', url, alt)

    @admin.display(description=_("Image"))
    def large_image(self, scan: Scan) -> str:
        url = reverse("scan_image", args=[scan.pk])
        return format_html('<img src="{}" class="scan-large" alt="">', url)

    @admin.display(description=_("Probabilities"))
    def probability_chart(self, scan: Scan) -> str:
        if scan.prediction and scan.prediction.reading_state == ReadingState.NOT_A_CT:
            return gettext("Refused: not a CT slice this model can read (no kidney finding).")
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

    @admin.display(description=_("AI reading"), ordering="prediction__label")
    def ai_label(self, scan: Scan) -> str:
        return reading_text(scan.prediction) if scan.prediction else "—"

    @admin.display(description=_("Confidence"), ordering="prediction__confidence")
    def confidence(self, scan: Scan) -> str:
        return confidence_text(scan.prediction) if scan.prediction else "—"

    @admin.display(description=_("Model"), ordering="prediction__model_version")
    def model_version(self, scan: Scan) -> str:
        return scan.prediction.model_version_id if scan.prediction else "—"

    @admin.display(description=_("Review"), boolean=True, ordering="review")
    def review_state(self, scan: Scan) -> bool:
        return scan.review_id is not None

    @admin.display(description=_("Verdict"))
    def verdict(self, scan: Scan) -> str:
        if scan.review is None:
            return "—"
        return f"{scan.review.get_verdict_display()} ({scan.review.reviewer})"

    @admin.action(
        description=_("Read again with the active model (through the workers)"),
        permissions=["change"],
    )
    def reclassify(self, request: HttpRequest, queryset) -> None:
        count = readings.scans_reclassify(scans=queryset, actor=request.user, ip=client_ip(request))
        message = ngettext(
            "%(n)d scan queued to be read again.", "%(n)d scans queued to be read again.", count
        )
        self.message_user(request, message % {"n": count})

    @admin.action(
        description=_("Mark reviewed: confirm the AI reading (or its refusal)"),
        permissions=["review"],
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
        confirmed = done.count()
        message = ngettext("%(n)d scan confirmed.", "%(n)d scans confirmed.", confirmed)
        self.message_user(request, message % {"n": confirmed})
        if skipped:
            self.message_user(
                request,
                ngettext(
                    "%(n)d scan without an AI reading skipped.",
                    "%(n)d scans without an AI reading skipped.",
                    skipped,
                )
                % {"n": skipped},
                messages.WARNING,
            )

    def has_review_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("scans.add_review")

    @admin.action(description=_("Export as CSV"))
    def export_csv(self, request: HttpRequest, queryset) -> HttpResponse:
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="kidneyweb-scans.csv"'
        rows = scans_export_rows(scans=queryset)
        csv.writer(response).writerows(rows)
        audit_request(request, action=AuditEvent.Action.EXPORT, scans=len(rows) - 1, format="csv")
        return response


# Reviews are written through the worklist or the scan actions, never edited here.
@admin.register(Review)
class ReviewAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "scan", "reviewer", "verdict", "ai_reading", "agrees"]
    list_filter = ["verdict", "agrees", "ai_label", "created_at"]
    search_fields = ["reviewer__username", "comment"]
    readonly_fields = [f.name for f in Review._meta.fields]

    @admin.display(description=_("AI reading"), ordering="ai_label")
    def ai_reading(self, review: Review) -> str:
        return review.ai_reading_display


def reviews_go_with_their_scan(deleted_objects):
    """Nobody deletes a review on its own (ReviewAdmin), but deleting its scan takes it
    along; the audit trail keeps the record."""
    deleted, model_count, perms_needed, protected = deleted_objects
    perms_needed.discard(Review._meta.verbose_name)
    return deleted, model_count, perms_needed, protected
