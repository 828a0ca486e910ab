"""Reviews: a reviewer's verdict on a scan's reading."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from scans.models.choices import Diagnosis, ReadingState
from scans.models.scans import Prediction, Scan


class Review(models.Model):
    """A reviewer's verdict on the AI reading of a scan. Never edited: a changed
    opinion is a new row, and the scan points at the newest."""

    CONFIRMED = "confirmed"
    # The image is not a kidney CT slice: confirms a refusal, or corrects a reading
    # the model should have refused.
    NOT_A_CT = "not_a_ct"
    VERDICTS = [
        (CONFIRMED, _("Confirmed")),
        (NOT_A_CT, _("Not a kidney CT slice")),
        *[(d.value, format_lazy(_("Corrected to {label}"), label=d.label)) for d in Diagnosis],
    ]

    scan = models.ForeignKey(Scan, on_delete=models.CASCADE, related_name="reviews")
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    verdict = models.CharField(max_length=16, choices=VERDICTS)
    comment = models.TextField(blank=True)
    # What the AI said when the review was made (a later model may read the scan again).
    # RESTRICT, not PROTECT: a reading a review judged cannot be deleted on its own, but
    # deleting the scan takes its readings and their reviews together (the audit trail
    # keeps the record).
    prediction = models.ForeignKey(Prediction, on_delete=models.RESTRICT, related_name="reviews")
    # "" stands for "not a CT slice": ai_label when the model refused the image,
    # true_label when the reviewer says it is none. Such reviews never enter the
    # agreement, the confusion matrix or recall (selectors.reviews.dashboard_stats).
    ai_label = models.CharField(max_length=16, choices=Diagnosis, blank=True)
    true_label = models.CharField(max_length=16, choices=Diagnosis, blank=True)
    agrees = models.BooleanField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["created_at"], name="review_created")]

    def __str__(self) -> str:
        return f"{self.get_verdict_display()} by {self.reviewer} ({self.created_at:%Y-%m-%d})"

    @property
    def ai_reading_display(self) -> str:
        return self.ai_label or ReadingState.NOT_A_CT.label
