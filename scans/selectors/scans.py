"""Reads about scans: who sees which, the filters of the history and the API, counts,
the query definitions of a reading's state and finding, the CSV export."""

from __future__ import annotations

from datetime import date

from django.db.models import Count, Q, QuerySet

from scans.models import Diagnosis, ReadingState, Scan, UploadBatch


def scans_visible_to(*, user) -> QuerySet[Scan]:
    """Reviewers and admins see every scan; everybody else only their own."""
    scans = Scan.objects.select_related("prediction", "owner", "review")
    return scans if user.has_perm("scans.review_scan") else scans.filter(owner=user)


def scan_get_for_user(*, user, scan_id: int) -> Scan:
    """The scan if the user may see it; Scan.DoesNotExist otherwise (a 404, not a 403)."""
    return scans_visible_to(user=user).get(pk=scan_id)


def upload_batch_get_for_user(*, user, batch_id: int) -> UploadBatch:
    """One upload's batch for its owner, or anybody who sees every scan (as
    scans_visible_to); UploadBatch.DoesNotExist otherwise (a 404, not a 403)."""
    batches = UploadBatch.objects.all()
    if not user.has_perm("scans.review_scan"):
        batches = batches.filter(owner=user)
    return batches.get(pk=batch_id)


def scan_list_for_user(*, user, **filters) -> QuerySet[Scan]:
    """The user's own scans (the history page), newest first, narrowed by ``filters``."""
    return scans_filter(scans=Scan.objects.filter(owner=user), **filters)


def scan_list_visible_to(*, user, **filters) -> QuerySet[Scan]:
    """Every scan the user may see (the API): reviewers and admins see all."""
    return scans_filter(scans=scans_visible_to(user=user), **filters)


def scans_filter(
    *,
    scans: QuerySet[Scan],
    diagnosis: str = "",
    reading_state: str = "",
    status: str = "",
    date_from: date | None = None,
    date_to: date | None = None,
    query: str = "",
) -> QuerySet[Scan]:
    """Narrow scans by AI diagnosis, reading state, status, upload date and a name/note
    search."""
    scans = scans.select_related("prediction")
    if reading_state:
        scans = scans.filter(reading_state_q(reading_state), status=Scan.Status.DONE)
    if diagnosis:
        scans = scans.filter(finding_q(diagnosis), status=Scan.Status.DONE)
    if status:
        scans = scans.filter(status=status)
    if date_from:
        scans = scans.filter(uploaded_at__date__gte=date_from)
    if date_to:
        scans = scans.filter(uploaded_at__date__lte=date_to)
    if query:
        scans = scans.filter(Q(original_name__icontains=query) | Q(note__icontains=query))
    return scans.order_by("-uploaded_at", "-id")


def scan_counts_for_user(*, user) -> dict[str, int]:
    """How many of the user's finished scans the AI gave each diagnosis (all four keys)."""
    rows = (
        Scan.objects.filter(
            owner=user, status=Scan.Status.DONE, prediction__out_of_distribution=False
        )
        .values("prediction__label")
        .annotate(n=Count("id"))
    )
    counts = {label: 0 for label in Diagnosis.values}
    for row in rows:
        if row["prediction__label"] in counts:
            counts[row["prediction__label"]] = row["n"]
    return counts


# Prediction.reading_state as (out_of_distribution, uncertain) conditions; None: any.
_READING_STATE_FIELDS = {
    ReadingState.NOT_A_CT: (True, None),
    ReadingState.UNCERTAIN: (False, True),
    ReadingState.CONFIDENT: (False, False),
}


def reading_state_q(state: str, *, prefix: str = "prediction__") -> Q:
    """The rows whose reading is in ``state`` (a ReadingState): Prediction.reading_state
    as a query, ``prefix`` the path from the queried model to the prediction."""
    if state not in _READING_STATE_FIELDS:
        raise ValueError(f"Unknown reading state {state!r}.")
    refused, uncertain = _READING_STATE_FIELDS[state]
    condition = Q(**{f"{prefix}out_of_distribution": refused})
    if uncertain is not None:
        condition &= Q(**{f"{prefix}uncertain": uncertain})
    return condition


def finding_q(label: str, *, prefix: str = "prediction__") -> Q:
    """The rows whose reading found ``label``: Prediction.finding as a query (a refused
    image's raw top class is no finding)."""
    return Q(**{f"{prefix}label": label, f"{prefix}out_of_distribution": False})


def refusal_review_q(*, prefix: str = "") -> Q:
    """Reviews about a refusal: the model refused the image, or the reviewer says it is
    no CT slice ("" on either side). They measure no agreement between classes."""
    return Q(**{f"{prefix}ai_label": ""}) | Q(**{f"{prefix}true_label": ""})


EXPORT_HEADER = [
    "scan_id",
    "owner",
    "file_name",
    "uploaded_at",
    "done_at",
    "status",
    "reading_state",
    "ai_label",
    *[f"p_{label}" for label in Diagnosis.values],
    "uncertain",
    "fills_frame",
    "model_version",
    "review_verdict",
    "reviewer",
    "reviewed_at",
]


def scans_export_rows(*, scans: QuerySet[Scan]) -> list[list[str]]:
    """The CSV export: a header row, then one row per scan. A refused image (reading
    state not_a_ct) has no label, probabilities, uncertain or fills_frame flag: none is a
    finding."""
    rows = [EXPORT_HEADER]
    for scan in scans.select_related("owner", "prediction", "review__reviewer").order_by("pk"):
        review = scan.review
        prediction = scan.prediction if scan.status == Scan.Status.DONE else None
        finding = prediction if prediction and prediction.finding else None
        probabilities = finding.probabilities if finding else {}
        rows.append(
            [
                str(scan.pk),
                scan.owner.get_username(),
                _csv_safe(scan.original_name),
                scan.uploaded_at.isoformat(),
                scan.done_at.isoformat() if scan.done_at else "",
                scan.status,
                prediction.reading_state if prediction else "",
                finding.label if finding else "",
                *[f"{probabilities[label]:.6f}" if finding else "" for label in Diagnosis.values],
                str(finding.uncertain).lower() if finding else "",
                _flag(finding.fills_frame) if finding else "",
                prediction.model_version_id if prediction else "",
                review.verdict if review else "",
                review.reviewer.get_username() if review else "",
                review.created_at.isoformat() if review else "",
            ]
        )
    return rows


def _flag(value: bool | None) -> str:
    """true, false, or empty when it was not recorded."""
    return "" if value is None else str(value).lower()


def _csv_safe(text: str) -> str:
    """Spreadsheets run cells that start with = + - @ as formulas; quote them."""
    return f"'{text}" if text[:1] in ("=", "+", "-", "@") else text
