"""Upload batches: what one upload sent, kept for the batch page."""

from __future__ import annotations

from django.utils import timezone

from scans.models import UploadBatch
from scans.services.uploads import UploadResult


def upload_batch_record(*, owner, result: UploadResult) -> UploadBatch:
    """Record the files of one upload: the accepted ones by their scan, in the order
    they were sent, then the refused ones with the reason the user was given."""
    files = [{"name": scan.original_name, "scan": scan.pk, "reason": ""} for scan in result.scans]
    files += [{"name": r.name, "scan": None, "reason": str(r.reason)} for r in result.rejected]
    return UploadBatch.objects.create(owner=owner, created_at=timezone.now(), files=files)
