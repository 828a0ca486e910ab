"""A reviewer's verdict on a scan's AI reading."""

from __future__ import annotations

from django.db import transaction

from scans.audit import audit_record
from scans.models import AuditEvent, Review, Scan


def review_create(
    *, scan: Scan, reviewer, verdict: str, comment: str = "", ip: str | None = None
) -> Review:
    """Record a reviewer's verdict on the scan's current AI reading (a new row each time)."""
    if scan.status != Scan.Status.DONE or scan.prediction is None:
        raise ValueError("Only a scan with an AI reading can be reviewed.")
    if verdict not in dict(Review.VERDICTS):
        raise ValueError(f"Unknown verdict {verdict!r}.")
    # A refused image has no AI label: "" stands for "not a CT slice" on both sides.
    ai_label = scan.prediction.finding or ""
    if verdict == Review.CONFIRMED and not ai_label:
        raise ValueError(
            "The model gave no kidney reading for this image: confirm it is not a CT slice "
            "or give the class it shows."
        )
    if verdict == Review.CONFIRMED:
        true_label = ai_label
    else:
        true_label = "" if verdict == Review.NOT_A_CT else verdict
    with transaction.atomic():
        review = Review.objects.create(
            scan=scan,
            reviewer=reviewer,
            verdict=verdict,
            comment=comment.strip(),
            prediction=scan.prediction,
            ai_label=ai_label,
            true_label=true_label,
            agrees=true_label == ai_label,
        )
        scan.review = review
        scan.save(update_fields=["review"])
        audit_record(
            action=AuditEvent.Action.REVIEW,
            actor=reviewer,
            ip=ip,
            obj=scan,
            verdict=verdict,
        )
    return review
