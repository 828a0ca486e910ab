"""Reads about reviews: the worklist and its order, agreement per model version, the
performance dashboard."""

from __future__ import annotations

from datetime import date

import numpy as np
from django.db.models import Count, F, Max, Q, QuerySet, Window
from django.db.models.functions import Lag, Lead, TruncDate
from django.utils.translation import gettext_lazy

from mlcore.evaluation import classification_report
from scans.models import Diagnosis, ReadingState, Review, Scan
from scans.selectors.scans import finding_q, reading_state_q, refusal_review_q


def agreement_by_model_version() -> dict[str, dict]:
    """Per model version: reviewed scans (current review), how many the reviewer
    confirmed, and the agreement rate."""
    rows = (
        _kidney_reviews(Review.objects.filter(scan__review=F("pk")))
        .values("prediction__model_version")
        .annotate(reviewed=Count("id"), agreed=Count("id", filter=Q(agrees=True)))
    )
    return {
        row["prediction__model_version"]: {
            "reviewed": row["reviewed"],
            "agreed": row["agreed"],
            "rate": row["agreed"] / row["reviewed"] if row["reviewed"] else None,
        }
        for row in rows
    }


def _kidney_reviews(reviews: QuerySet[Review]) -> QuerySet[Review]:
    """Reviews where both the AI and the reviewer name a kidney class: the only ones
    that measure agreement (a refusal, or "not a CT slice", is not a class)."""
    return reviews.exclude(refusal_review_q())


def _reviewed_metrics(pairs: list[tuple], labels: list[str]) -> tuple[list, dict]:
    """The confusion matrix and per-class recall/precision of (reviewer's class, AI's
    class) pairs, by mlcore.evaluation as the model's own metrics are; a rate with no
    scan to measure it on is None (the dashboard shows "—"), not 0."""
    true = np.array([labels.index(pair[0]) for pair in pairs], dtype=np.int64)
    read_as = np.eye(len(labels))[[labels.index(pair[1]) for pair in pairs]]
    report = classification_report(true, read_as.reshape(len(pairs), len(labels)), labels)
    matrix = report["confusion_matrix"]
    per_class = {}
    for i, label in enumerate(labels):
        scores = report["per_class"][label]
        predicted = sum(row[i] for row in matrix)
        per_class[label] = {
            "support": scores["support"],
            "recall": scores["recall"] if scores["support"] else None,
            "precision": scores["precision"] if predicted else None,
        }
    return matrix, per_class


WORKLIST_SHOWS = {
    "": gettext_lazy("Every read scan"),
    "unreviewed": gettext_lazy("Not reviewed yet"),
    ReadingState.UNCERTAIN: gettext_lazy("Uncertain readings"),
    ReadingState.NOT_A_CT: gettext_lazy("Not a CT slice (refused)"),
}


def worklist_for_reviewer(
    *, show: str = "", ai_label: str = "", model_version: str = ""
) -> QuerySet[Scan]:
    """Read scans in review order: unreviewed first; among them the least confident
    real readings first, then the refused images as a group of their own (their
    confidence means nothing). ``show`` is a key of WORKLIST_SHOWS."""
    scans = Scan.objects.filter(status=Scan.Status.DONE, prediction__isnull=False)
    if show == "unreviewed":
        scans = scans.filter(review__isnull=True)
    elif show:
        scans = scans.filter(reading_state_q(show))
    if ai_label:
        scans = scans.filter(finding_q(ai_label))
    if model_version:
        scans = scans.filter(prediction__model_version=model_version)
    return (
        scans.select_related("prediction", "owner", "review")
        .annotate(reviewed=Count("reviews"))
        .order_by(*_worklist_order())
    )


def _worklist_order() -> list:
    return [
        F("review").asc(nulls_first=True),
        F("prediction__out_of_distribution").asc(),
        F("prediction__confidence").asc(),
        F("pk").asc(),
    ]


def worklist_neighbours(*, worklist: QuerySet[Scan], scan_id: int) -> tuple[int | None, int | None]:
    """The scans just before and after ``scan_id`` in ``worklist`` (a
    worklist_for_reviewer queryset), or None; (None, None) if it is not in it.

    One query over the worklist's order (window functions), whatever its length:
    the filter on ``row`` (a window, so applied after them) picks the scan's own row.
    """
    order = _worklist_order()
    row = (
        worklist.annotate(
            previous_id=Window(Lag("pk"), order_by=order),
            next_id=Window(Lead("pk"), order_by=order),
            row=Window(Max("pk"), partition_by=[F("pk")]),
        )
        .filter(row=scan_id)
        .values_list("previous_id", "next_id")
        .first()
    )
    return row or (None, None)


def dashboard_stats(*, since: date, model_version: str = "") -> dict:
    """The performance dashboard's numbers, the reviewer's verdict taken as the truth.

    Reviews are the current review of each scan; uploads and timings count
    scans uploaded on or after ``since``.
    """
    reviews = Review.objects.filter(scan__review=F("pk"))
    if model_version:
        reviews = reviews.filter(prediction__model_version=model_version)
    pairs = list(
        _kidney_reviews(reviews).values_list("true_label", "ai_label", "agrees", "created_at")
    )
    refused, called_none = Q(ai_label=""), Q(true_label="")
    refusals = reviews.aggregate(
        reviewed=Count("id", filter=refused),
        confirmed=Count("id", filter=refused & called_none),
        overruled=Count("id", filter=refused & ~called_none),
        # Read as a kidney class, and the reviewer says it is no CT slice at all.
        missed=Count("id", filter=~refused & called_none),
    )
    labels = Diagnosis.values
    matrix, per_class = _reviewed_metrics(pairs, labels)
    by_day: dict[date, list[int]] = {}
    for _, _, agrees, created_at in pairs:
        if created_at.date() >= since:
            day = by_day.setdefault(created_at.date(), [0, 0])
            day[0] += 1
            day[1] += int(agrees)

    scans = Scan.objects.filter(uploaded_at__date__gte=since)
    uploads_by_day = dict(
        scans.annotate(day=TruncDate("uploaded_at"))
        .values("day")
        .annotate(n=Count("id"))
        .values_list("day", "n")
    )
    seconds = sorted(
        (done - uploaded).total_seconds()
        for uploaded, done in scans.filter(status=Scan.Status.DONE).values_list(
            "uploaded_at", "done_at"
        )
        if done
    )
    agreed = sum(1 for _, _, agrees, _ in pairs if agrees)
    return {
        "reviewed": len(pairs),
        "agreed": agreed,
        "agreement": agreed / len(pairs) if pairs else None,
        "labels": labels,
        "confusion_matrix": matrix,
        "per_class": per_class,
        "refusals": refusals,
        "by_model_version": agreement_by_model_version(),
        "agreement_by_day": {day: a / n for day, (n, a) in sorted(by_day.items())},
        "uploads_by_day": dict(sorted(uploads_by_day.items())),
        "uploaded": scans.count(),
        "by_status": dict(
            scans.values("status").annotate(n=Count("id")).values_list("status", "n")
        ),
        "by_reading_state": scans.filter(status=Scan.Status.DONE).aggregate(
            **{state.value: Count("id", filter=reading_state_q(state)) for state in ReadingState}
        ),
        "result_seconds_mean": sum(seconds) / len(seconds) if seconds else None,
        "result_seconds_p95": seconds[min(int(0.95 * len(seconds)), len(seconds) - 1)]
        if seconds
        else None,
    }
