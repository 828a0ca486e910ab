"""Reads: what a user may see, filtered for the pages."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
from celery import current_app
from django.conf import settings
from django.db import DatabaseError, connection
from django.db.models import Count, F, Max, Q, QuerySet, Window
from django.db.models.functions import Lag, Lead, TruncDate

from mlcore import versions
from mlcore.evaluation import classification_report
from mlcore.runtime import KERAS_FILE, LITERT_FILE
from scans.models import Diagnosis, ReadingState, Review, Scan, UploadBatch


def active_model_version(*, models_dir: Path | None = None) -> versions.ActiveVersion | None:
    """Which model version is served: the one ``ACTIVE`` names in the models folder
    (settings.MODELS_DIR), or None. The one answer the classifier, the pages, the health
    check, the API and the admin use; read anew on each call (plain files, no
    TensorFlow), so an activation shows everywhere at once without a restart.
    """
    return versions.active(Path(models_dir or settings.MODELS_DIR))


def model_version_card(*, metadata: dict) -> dict:
    """What a version's card shows: how it was measured on patients it never saw
    (patient-block cross-validation when it has it, else its held-out split)."""
    metrics = metadata.get("metrics") or {}
    crossvalidation = metrics.get("crossvalidation")
    classes = metadata.get("class_names", [])
    card = {
        "metadata": metadata,
        "classes": classes,
        "calibration": metadata.get("calibration") or {},
        "held_out": metrics.get("validation"),
        "crossvalidation": None,
    }
    if crossvalidation:
        mean, spread = crossvalidation["mean"], crossvalidation["spread"]

        def figures(row: dict) -> dict:
            return {
                "balanced_accuracy": row.get("balanced_accuracy"),
                "accuracy": row.get("accuracy"),
                "recalls": [row.get(f"recall_{name}") for name in classes],
                "attention_in_body": row.get("attention_in_body"),
                "confidently_wrong": row.get("confidently_wrong"),
                "uncertain_share": row.get("uncertain_share"),
                "refused_share": row.get("refused_share"),
            }

        card["crossvalidation"] = {
            "folds": crossvalidation["folds"],
            "rows": [{"fold": row["fold"], **figures(row)} for row in crossvalidation["per_fold"]],
            "mean": figures(mean),
            "spread": figures(spread),
        }
    return card


# A class recognised less often than this on new patients is named on the reading.
WEAK_RECALL = 0.9
_NOUNS = {
    "Cyst": ("a cyst", "cysts"),
    "Normal": ("a normal slice", "normal slices"),
    "Stone": ("a stone", "stones"),
    "Tumor": ("a tumour", "tumours"),
}


def reading_caveats(*, prediction, metadata: dict) -> list[str]:
    """One plain sentence for the reading's class and its runner-up, each where the
    version's cross-validated recall of that class is below WEAK_RECALL, naming what
    that class is most often mistaken for (metrics.crossvalidation of the metadata).
    Nothing for a refused image, or for a version without cross-validation."""
    crossvalidation = (metadata.get("metrics") or {}).get("crossvalidation") or {}
    mean = crossvalidation.get("mean") or {}
    if prediction.finding is None or not mean:
        return []
    ranked = sorted(prediction.probabilities, key=prediction.probabilities.get, reverse=True)
    confusion = crossvalidation.get("confusion") or {}
    sentences = []
    for name in ranked[:2]:
        recall = mean.get(f"recall_{name}")
        if recall is None or recall >= WEAK_RECALL:
            continue
        one, many = _NOUNS.get(name, (f"a {name} slice", f"{name} slices"))
        found = round(10 * recall)
        sentence = f"On new patients this model version recognises {found} of 10 {many}"
        mistaken = _most_confused_with(name, confusion)
        if mistaken:
            sentence += f"; {one} may be read as {_NOUNS.get(mistaken, (mistaken,))[0]}"
        sentences.append(sentence + ".")
    return sentences


def _most_confused_with(name: str, confusion: dict) -> str | None:
    """The class most often predicted for true ``name`` slices, other than ``name``."""
    classes, matrix = confusion.get("classes") or [], confusion.get("matrix") or []
    if name not in classes or len(matrix) != len(classes):
        return None
    row = matrix[classes.index(name)]
    wrong = [(count, other) for other, count in zip(classes, row, strict=True) if other != name]
    count, other = max(wrong, default=(0, None))
    return other if count else None


def model_version_metadata(*, version: str, models_dir: Path) -> dict:
    """A version's metadata.json, or {} if its folder is gone. Only a version id of the
    models folder is looked up, never a path (the id may come from a URL)."""
    if version not in versions.list_versions(models_dir):
        return {}
    try:
        return versions.read_metadata(versions.resolve(version, root=models_dir))
    except versions.VersionError:
        return {}


def system_health(*, models_dir: Path, runtime: str) -> dict[str, dict]:
    """Whether the database, the broker and the active model can serve, for load
    balancers. Says what is wrong in general words: no host names, no exceptions."""
    return {
        "database": _database_health(),
        "broker": _broker_health(),
        "model": _model_health(models_dir=models_dir, runtime=runtime),
    }


def _database_health() -> dict:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError:
        return {"ok": False, "detail": "The database is unreachable."}
    return {"ok": True}


def _broker_health() -> dict:
    try:
        with current_app.connection_for_write() as broker:
            broker.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=2)
    except Exception:  # kombu raises transport-specific errors; any of them means "down"
        return {"ok": False, "detail": "The task broker is unreachable: scans stay queued."}
    return {"ok": True}


def _model_health(*, models_dir: Path, runtime: str) -> dict:
    active = active_model_version(models_dir=models_dir)
    if active is None:
        return {"ok": False, "detail": "No model version is active.", "version": None}
    if active.metadata is None:
        return {
            "ok": False,
            "detail": f"The active version {active.id} has no files (or no metadata.json).",
            "version": active.id,
        }
    model_file = LITERT_FILE if runtime == "litert" else KERAS_FILE
    if not (active.path / model_file).is_file():
        return {
            "ok": False,
            "detail": f"The active version has no {model_file}.",
            "version": active.id,
        }
    return {"ok": True, "version": active.id}


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
    "model_version",
    "review_verdict",
    "reviewer",
    "reviewed_at",
]


def scans_export_rows(*, scans: QuerySet[Scan]) -> list[list[str]]:
    """The CSV export: a header row, then one row per scan. A refused image (reading
    state not_a_ct) has no label, probabilities or uncertain flag: none is a finding."""
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
                prediction.model_version_id if prediction else "",
                review.verdict if review else "",
                review.reviewer.get_username() if review else "",
                review.created_at.isoformat() if review else "",
            ]
        )
    return rows


def _csv_safe(text: str) -> str:
    """Spreadsheets run cells that start with = + - @ as formulas; quote them."""
    return f"'{text}" if text[:1] in ("=", "+", "-", "@") else text


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
    "": "Every read scan",
    "unreviewed": "Not reviewed yet",
    ReadingState.UNCERTAIN: "Uncertain readings",
    ReadingState.NOT_A_CT: "Not a CT slice (refused)",
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
