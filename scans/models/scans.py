"""Scans, their readings (predictions) and the batches they were uploaded in."""

from __future__ import annotations

import uuid
from pathlib import PurePath

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from scans.models.choices import DIAGNOSIS_DESCRIPTIONS, Diagnosis, ReadingState
from scans.models.model_versions import ModelVersion


def scan_upload_path(scan: Scan, filename: str) -> str:
    """A random stored name: the uploaded name may carry patient details or paths."""
    return f"scans/{scan.uploaded_at:%Y/%m}/{uuid.uuid4().hex}{PurePath(filename).suffix}"


def thumbnail_upload_path(scan: Scan, filename: str) -> str:
    return f"thumbnails/{scan.uploaded_at:%Y/%m}/{uuid.uuid4().hex}.png"


def heatmap_upload_path(prediction: Prediction, filename: str) -> str:
    return f"heatmaps/{prediction.created_at:%Y/%m}/{uuid.uuid4().hex}.png"


class Scan(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        PROCESSING = "processing", _("Processing")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    image = models.FileField(upload_to=scan_upload_path, max_length=200)
    thumbnail = models.FileField(upload_to=thumbnail_upload_path, max_length=200, blank=True)
    original_name = models.CharField(max_length=255)
    image_format = models.CharField(max_length=16)
    size_bytes = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    # For DICOM uploads only the fields shown on the pages (mlcore.dicom); the file
    # itself is not kept.
    dicom = models.JSONField(null=True, blank=True)
    note = models.CharField(max_length=500, blank=True)
    status = models.CharField(max_length=16, choices=Status, default=Status.QUEUED)
    failure_reason = models.TextField(blank=True)
    uploaded_at = models.DateTimeField()
    queued_at = models.DateTimeField()
    processing_at = models.DateTimeField(null=True, blank=True)
    done_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    # The reading shown for the scan: the newest prediction (a scan can be
    # classified again by a later model version; every prediction is kept).
    prediction = models.ForeignKey(
        "Prediction", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The reviewer's current verdict: the newest review (all are kept).
    review = models.ForeignKey(
        "Review", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-uploaded_at", "-id"]
        permissions = [
            ("review_scan", "Can see and review every user's scans"),
            ("view_dashboard", "Can see the performance dashboard"),
        ]
        indexes = [
            models.Index(fields=["owner", "-uploaded_at"], name="scan_owner_uploaded"),
            models.Index(fields=["owner", "status", "-uploaded_at"], name="scan_owner_status"),
            models.Index(fields=["status", "queued_at"], name="scan_status_queued"),
        ]

    def __str__(self) -> str:
        return f"Scan {self.pk} ({self.original_name})"

    @property
    def is_pending(self) -> bool:
        return self.status in (self.Status.QUEUED, self.Status.PROCESSING)


class Prediction(models.Model):
    """One reading of one scan by one model version."""

    scan = models.ForeignKey(Scan, on_delete=models.CASCADE, related_name="predictions")
    model_version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT)
    label = models.CharField(max_length=16, choices=Diagnosis)
    confidence = models.FloatField()
    probabilities = models.JSONField()
    # Less confident than the threshold in force when it was read: needs a review.
    uncertain = models.BooleanField(default=False)
    # Not like the CT slices the model learnt from: no kidney finding is given.
    out_of_distribution = models.BooleanField(default=False)
    # The body fills the slice from top to bottom, as in a coronal or sagittal slice,
    # which the model reads far less reliably than an axial one (docs/model-card.md,
    # "Coronal slices"). False is no proof of an axial slice; None: not measured (read
    # before migration 0013).
    fills_frame = models.BooleanField(
        null=True,
        default=None,
        verbose_name=_("body fills the slice from top to bottom (coronal or sagittal)"),
    )
    # Grad-CAM of the predicted class, an RGBA PNG to lay over the slice (mlcore.explain).
    heatmap = models.FileField(upload_to=heatmap_upload_path, max_length=200, blank=True)
    milliseconds = models.FloatField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["scan", "model_version"], name="one_prediction_per_scan_and_version"
            )
        ]
        indexes = [models.Index(fields=["label"], name="prediction_label")]

    def __str__(self) -> str:
        if self.reading_state == ReadingState.NOT_A_CT:
            return f"{ReadingState.NOT_A_CT.label} ({self.model_version_id})"
        return f"{self.label} {self.confidence:.1%} ({self.model_version_id})"

    @property
    def reading_state(self) -> ReadingState:
        if self.out_of_distribution:
            return ReadingState.NOT_A_CT
        return ReadingState.UNCERTAIN if self.uncertain else ReadingState.CONFIDENT

    @property
    def finding(self) -> str | None:
        """The kidney label a person or a script may read; None for a refused image
        (``label`` keeps the network's raw top class, which is not a finding)."""
        return None if self.out_of_distribution else self.label

    @property
    def finding_confidence(self) -> float | None:
        return None if self.out_of_distribution else self.confidence

    @property
    def description(self) -> str:
        return DIAGNOSIS_DESCRIPTIONS.get(self.finding, "")


class UploadBatch(models.Model):
    """The files of one upload, in the order they were sent: what the batch page lists.

    ``files`` holds ``{"name", "scan", "reason"}`` per file: ``scan`` is the id of the
    scan an accepted file became (a plain id: a deleted scan leaves the batch whole),
    ``reason`` why a refused file was refused (the text the user was shown).
    """

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="upload_batches"
    )
    created_at = models.DateTimeField()
    files = models.JSONField(default=list)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Upload {self.pk} ({len(self.files)} files)"
