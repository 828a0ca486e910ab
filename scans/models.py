from __future__ import annotations

import uuid
from pathlib import PurePath

from django.conf import settings
from django.db import models
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _


class Diagnosis(models.TextChoices):
    """The four classes of the model, in its output order."""

    CYST = "Cyst", _("Cyst")
    NORMAL = "Normal", _("Normal")
    STONE = "Stone", _("Stone")
    TUMOR = "Tumor", _("Tumor")


# Plain-language descriptions shown on the result page next to the AI's label.
DIAGNOSIS_DESCRIPTIONS = {
    Diagnosis.CYST: _(
        "A fluid-filled sac in the kidney. Simple cysts are common and usually "
        "harmless; complex cysts may need follow-up imaging."
    ),
    Diagnosis.NORMAL: _("No cyst, stone or tumour seen by the model in this slice."),
    Diagnosis.STONE: _(
        "A hard mineral deposit (calculus) in the kidney, bright on CT. Small "
        "stones may pass on their own; larger ones can block urine flow."
    ),
    Diagnosis.TUMOR: _(
        "A solid mass in the kidney. Many renal masses need further imaging "
        "or a specialist's assessment to tell benign from malignant."
    ),
}


class ReadingState(models.TextChoices):
    """What a reading may be acted on as: the one definition every page, export, API
    and statistic uses (Prediction.reading_state)."""

    # Refused: not like the CT slices the model learnt from. No kidney label and no
    # confidence are shown anywhere for it.
    NOT_A_CT = "not_a_ct", _("Not a CT slice")
    # Less confident than the version's threshold: a reading that needs a review.
    UNCERTAIN = "uncertain", _("Uncertain — needs review")
    CONFIDENT = "confident", _("Confident")


class ModelVersion(models.Model):
    """Mirror of one ``models/<version>/metadata.json``; the files are the truth.

    Which version is active is not stored here: ``models/ACTIVE`` says it, read by
    selectors.model_versions.active_model_version, so the two cannot disagree.
    """

    id = models.CharField(primary_key=True, max_length=64)
    created = models.DateTimeField(null=True, blank=True)
    metrics = models.JSONField(default=dict, blank=True)
    synced_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created", "-id"]

    def __str__(self) -> str:
        return self.id

    @property
    def validation_accuracy(self) -> float | None:
        return (self.metrics.get("validation") or {}).get("accuracy")

    @property
    def crossvalidated_balanced_accuracy(self) -> tuple[float, float | None] | None:
        """(mean, spread) of the balanced accuracy over patient-block folds, if measured."""
        crossvalidation = self.metrics.get("crossvalidation") or {}
        mean = (crossvalidation.get("mean") or {}).get("balanced_accuracy")
        if mean is None:
            return None
        return mean, (crossvalidation.get("spread") or {}).get("balanced_accuracy")


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


class AuditEvent(models.Model):
    """Append-only record of who did what, to which object, when and from where."""

    class Action(models.TextChoices):
        LOGIN = "login", _("Logged in")
        LOGOUT = "logout", _("Logged out")
        LOGIN_FAILED = "login_failed", _("Failed log in")
        LOCKED_OUT = "locked_out", _("Locked out after failed log-ins")
        UPLOAD = "upload", _("Uploaded a scan")
        VIEW_RESULT = "view_result", _("Viewed a result")
        VIEW_IMAGE = "view_image", _("Viewed an image")
        REVIEW = "review", _("Reviewed a scan")
        DELETE = "delete", _("Deleted a scan")
        EXPORT = "export", _("Exported scans")
        RECLASSIFY = "reclassify", _("Sent scans to be read again")
        ACTIVATE_MODEL = "activate_model", _("Activated a model version")
        API_TOKEN = "api_token", _("Created an API token")
        CHANGE = "change", _("Changed a record in the admin")
        DELETE_USER = "delete_user", _("Deleted a user")
        PASSWORD_CHANGE_FAILED = (
            "password_change_failed",
            _("Failed password change (wrong password)"),
        )
        PASSWORD_CHANGE_BLOCKED = "password_change_blocked", _("Password change blocked")

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    actor_name = models.CharField(max_length=150, blank=True)  # kept if the user goes
    action = models.CharField(max_length=32, choices=Action)
    object_type = models.CharField(max_length=32, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    detail = models.JSONField(default=dict, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["action", "created_at"], name="audit_action_created")]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.actor_name or '-'} {self.action}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise PermissionError("Audit events are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError("Audit events are never deleted.")


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
