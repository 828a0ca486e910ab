"""What the admin pages share: how a reading and its numbers are written (as the site
does), and the read-only admin of rows that only services write."""

from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext

from scans.models import Diagnosis, Prediction, ReadingState
from scans.templatetags.scans_format import percent


def reading_text(prediction: Prediction) -> str:
    """A reading by its state: a refused image shows no kidney label."""
    if prediction.reading_state == ReadingState.NOT_A_CT:
        return ReadingState.NOT_A_CT.label
    if prediction.reading_state == ReadingState.UNCERTAIN:
        return gettext("%(label)s (uncertain)") % {"label": _label(prediction.label)}
    return _label(prediction.label)


def rounded(value, digits: int = 4):
    if isinstance(value, float):
        return round(value, digits)
    if isinstance(value, dict):
        return {key: rounded(item, digits) for key, item in value.items()}
    if isinstance(value, list):
        return [rounded(item, digits) for item in value]
    return value


def confidence_text(prediction: Prediction) -> str:
    confidence = prediction.finding_confidence
    return "—" if confidence is None else percent(confidence)


def _label(name: str) -> str:
    """A stored class name ("Stone") in the current language."""
    return Diagnosis(name).label if name in Diagnosis.values else name


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows written only through the services (reviews, audit events): shown, never
    added, edited or deleted in the admin."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
