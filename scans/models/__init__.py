"""The app's models, a module per subject; every model is importable from here (and
migrations name the upload-path functions as ``scans.models.*``)."""

from scans.models.accounts import AccountPreference
from scans.models.audit import AuditEvent
from scans.models.choices import DIAGNOSIS_DESCRIPTIONS, Diagnosis, ReadingState
from scans.models.model_versions import ModelVersion
from scans.models.reviews import Review
from scans.models.scans import (
    Prediction,
    Scan,
    UploadBatch,
    heatmap_upload_path,
    scan_upload_path,
    thumbnail_upload_path,
)

__all__ = [
    "DIAGNOSIS_DESCRIPTIONS",
    "AccountPreference",
    "AuditEvent",
    "Diagnosis",
    "ModelVersion",
    "Prediction",
    "ReadingState",
    "Review",
    "Scan",
    "UploadBatch",
    "heatmap_upload_path",
    "scan_upload_path",
    "thumbnail_upload_path",
]
