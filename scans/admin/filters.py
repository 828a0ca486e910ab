"""List filters of the admin's scans and model versions."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from scans.models import Diagnosis, ReadingState, Scan
from scans.selectors.model_versions import active_model_version
from scans.selectors.scans import finding_q, reading_state_q, refusal_review_q


class ReviewedFilter(admin.SimpleListFilter):
    title = _("review")
    parameter_name = "reviewed"

    def lookups(self, request, model_admin):
        return [("no", _("Not reviewed")), ("yes", _("Reviewed"))]

    def queryset(self, request, queryset):
        if self.value() == "no":
            return queryset.filter(review__isnull=True)
        if self.value() == "yes":
            return queryset.filter(review__isnull=False)
        return queryset


class AgreementFilter(admin.SimpleListFilter):
    title = _("AI vs reviewer")
    parameter_name = "agreement"

    def lookups(self, request, model_admin):
        return [("agree", _("Agreement")), ("disagree", _("Disagreement"))]

    def queryset(self, request, queryset):
        if self.value() in ("agree", "disagree"):
            # Only readings of a kidney class on both sides agree or disagree.
            return queryset.filter(review__agrees=self.value() == "agree").exclude(
                refusal_review_q(prefix="review__")
            )
        return queryset


class ReadingStateFilter(admin.SimpleListFilter):
    title = _("reading")
    parameter_name = "reading_state"

    def lookups(self, request, model_admin):
        return ReadingState.choices

    def queryset(self, request, queryset):
        if self.value() in ReadingState.values:
            return queryset.filter(status=Scan.Status.DONE).filter(reading_state_q(self.value()))
        return queryset


class FindingFilter(admin.SimpleListFilter):
    """The AI's kidney label; a refused image has none."""

    title = _("AI reading")
    parameter_name = "finding"

    def lookups(self, request, model_admin):
        return Diagnosis.choices

    def queryset(self, request, queryset):
        if self.value() in Diagnosis.values:
            return queryset.filter(finding_q(self.value()))
        return queryset


class ActiveVersionFilter(admin.SimpleListFilter):
    title = _("active")
    parameter_name = "active"

    def lookups(self, request, model_admin):
        return [("yes", _("Yes")), ("no", _("No"))]

    def queryset(self, request, queryset):
        if self.value() not in ("yes", "no"):
            return queryset
        active = active_model_version()
        chosen = Q(pk=active.id) if active else Q(pk__in=[])
        return queryset.filter(chosen) if self.value() == "yes" else queryset.exclude(chosen)
