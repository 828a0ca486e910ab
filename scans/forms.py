from __future__ import annotations

from django import forms
from django.conf import settings
from django.core.exceptions import NON_FIELD_ERRORS
from django.utils.translation import gettext_lazy as _

from scans.models import Diagnosis, Review, Scan
from scans.selectors.reviews import WORKLIST_SHOWS


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one field (Django's documented pattern)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault(
            "widget", MultipleFileInput(attrs={"accept": ".jpg,.jpeg,.png,.dcm,application/dicom"})
        )
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        files = data if isinstance(data, list | tuple) else [data]
        files = [f for f in files if f]
        if not files:
            raise forms.ValidationError(self.error_messages["required"], code="required")
        if len(files) > settings.MAX_FILES_PER_UPLOAD:
            raise forms.ValidationError(
                _("At most %(limit)d files per upload; %(sent)d were sent.")
                % {"limit": settings.MAX_FILES_PER_UPLOAD, "sent": len(files)},
                code="too_many",
            )
        # Content is checked by scans.services.uploads.upload_check, not here: a form field
        # only sees names and sizes, and names say nothing about what a file is.
        return files


class UploadForm(forms.Form):
    files = MultipleFileField(
        label=_("CT slices"),
        help_text=_("JPEG, PNG or DICOM, one or several files."),
    )
    window_level = forms.FloatField(
        label=_("DICOM window level (HU)"),
        required=False,
        help_text=_("DICOM only; default 40 (abdomen), as the model was trained."),
    )
    window_width = forms.FloatField(
        label=_("DICOM window width (HU)"),
        required=False,
        min_value=1,
        help_text=_("DICOM only; default 400."),
    )
    note = forms.CharField(
        label=_("Note (optional)"),
        max_length=500,
        required=False,
        help_text=_("For example a study reference. Do not enter patient names."),
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )


DATE_INVALID = _("Enter a date as year-month-day, for example 2026-05-01.")
DATES_REVERSED = _(
    "The date range is reversed: “From” is after “To”, so no scan could match. "
    "The dates are not applied; swap them or clear one."
)


class HistoryFilterForm(forms.Form):
    diagnosis = forms.ChoiceField(
        label=_("Diagnosis"), choices=[("", _("Any diagnosis")), *Diagnosis.choices], required=False
    )
    status = forms.ChoiceField(
        label=_("Status"), choices=[("", _("Any status")), *Scan.Status.choices], required=False
    )
    date_from = forms.DateField(
        label=_("From"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        error_messages={"invalid": DATE_INVALID},
    )
    date_to = forms.DateField(
        label=_("To"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        error_messages={"invalid": DATE_INVALID},
    )
    q = forms.CharField(label=_("Search"), max_length=100, required=False)

    def clean(self):
        data = super().clean()
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and start > end:
            raise forms.ValidationError(DATES_REVERSED, code="reversed_dates")
        return data

    def filters(self) -> dict:
        """The selector's keyword arguments; invalid fields (shown as errors) are ignored,
        and so is a reversed date range (shown as an error): it could match nothing."""
        self.is_valid()
        data = self.cleaned_data
        reversed_dates = self.has_error(NON_FIELD_ERRORS, "reversed_dates")
        return {
            "diagnosis": data.get("diagnosis", ""),
            "status": data.get("status", ""),
            "date_from": None if reversed_dates else data.get("date_from"),
            "date_to": None if reversed_dates else data.get("date_to"),
            "query": data.get("q", "").strip(),
        }


class WorklistFilterForm(forms.Form):
    show = forms.ChoiceField(label=_("Show"), choices=list(WORKLIST_SHOWS.items()), required=False)
    ai_label = forms.ChoiceField(
        label=_("AI reading"), choices=[("", _("Any reading")), *Diagnosis.choices], required=False
    )
    model_version = forms.ChoiceField(label=_("Model version"), required=False)

    def __init__(self, *args, versions: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["model_version"].choices = [
            ("", _("All versions")),
            *[(v, v) for v in versions],
        ]

    def filters(self) -> dict:
        """The selector's keyword arguments; invalid fields (shown as errors) are ignored."""
        self.is_valid()
        return {name: self.cleaned_data.get(name, "") for name in self.fields}


class ReviewForm(forms.Form):
    verdict = forms.ChoiceField(choices=Review.VERDICTS)
    comment = forms.CharField(
        label=_("Comment (optional)"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class DashboardFilterForm(forms.Form):
    days = forms.TypedChoiceField(
        label=_("Period"),
        coerce=int,
        choices=[
            (7, _("Last 7 days")),
            (30, _("Last 30 days")),
            (90, _("Last 90 days")),
            (365, _("Last year")),
        ],
        initial=30,
        required=False,
    )
    model_version = forms.ChoiceField(label=_("Model version"), required=False)

    def __init__(self, *args, versions: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["model_version"].choices = [
            ("", _("All versions")),
            *[(v, v) for v in versions],
        ]
