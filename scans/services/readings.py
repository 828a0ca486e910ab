"""A scan's reading: sent to the workers, classified once, failed with a reason,
tried again, read again, sent again when stale; the heatmap after it."""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import current_app
from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from kombu.exceptions import OperationalError as KombuOperationalError

from mlcore.heatmaps import overlay_png
from mlcore.inference import Classifier
from mlcore.preprocessing import ImageError
from scans.audit import audit_record
from scans.classifier import (
    ModelUnavailableError,
    classifier_get,
    explainer_class_index,
    explainer_get,
)
from scans.models import AuditEvent, Prediction, Scan
from scans.services.model_versions import model_version_ensure

logger = logging.getLogger(__name__)

# The tasks of scans.tasks, sent by their registered names: scans.tasks calls these
# services, so importing it here would be a cycle (ScansConfig.ready registers them).
CLASSIFY_TASK = "scans.tasks.classify_scan"
EXPLAIN_TASK = "scans.tasks.explain_prediction"


def scan_enqueue(*, scan: Scan) -> None:
    """Send a queued scan to the workers once the transaction that saved it commits."""
    transaction.on_commit(lambda: scan_send(scan_id=scan.pk))


def scan_send(*, scan_id: int) -> bool:
    """Put one classification task on the broker; False if the broker is unreachable.

    The scan stays queued either way: the recovery job sends it again later.
    """
    return _send(CLASSIFY_TASK, scan_id, if_down=f"scan {scan_id} stays queued")


def _send(task_name: str, object_id: int, *, if_down: str) -> bool:
    """Put one task on the broker by its name; if the broker is unreachable, log what
    that means (``if_down``) and return False instead of failing the caller."""
    try:
        current_app.tasks[task_name].delay(object_id)
    except KombuOperationalError as exc:
        logger.warning("Broker unreachable, %s: %s", if_down, exc)
        return False
    return True


def scans_requeue_stale(*, older_than_seconds: int) -> int:
    """Send again every scan queued or processing for longer than the timeout.

    Returns how many were sent. A scan whose worker died mid-task is left in
    ``processing``; one uploaded while the broker was down is left ``queued``.
    """
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    stale = Scan.objects.filter(
        Q(status=Scan.Status.QUEUED, queued_at__lt=cutoff)
        | Q(status=Scan.Status.PROCESSING, processing_at__lt=cutoff)
    ).values_list("pk", flat=True)
    sent = 0
    for scan_id in stale:
        Scan.objects.filter(pk=scan_id).exclude(status=Scan.Status.DONE).update(
            status=Scan.Status.QUEUED, queued_at=timezone.now()
        )
        if not scan_send(scan_id=scan_id):
            break  # the broker is down: try again at the next run
        sent += 1
    if sent:
        logger.info("Sent %s stale scan(s) again.", sent)
    return sent


def scan_classify(*, scan_id: int, classifier: Classifier | None = None) -> Scan:
    """Classify one scan with the active model; safe to call twice for the same scan.

    A scan that is already done is returned unchanged. Unreadable images and a
    missing model end in ``failed`` with the reason, never in ``processing``.
    Written for the burst: eight statements per scan, the result in one transaction.
    """
    claimed = (
        Scan.objects.filter(pk=scan_id)
        .exclude(status=Scan.Status.DONE)
        .update(status=Scan.Status.PROCESSING, processing_at=timezone.now())
    )
    scan = Scan.objects.get(pk=scan_id)  # DoesNotExist if it was deleted meanwhile
    if not claimed:
        return scan  # already done: a redelivered task
    try:
        classifier = classifier or classifier_get()
        with scan.image.open("rb") as handle:
            data = handle.read()
        reading = classifier.classify(data)
    except ModelUnavailableError as exc:
        return scan_fail(scan=scan, reason=str(exc))
    except ImageError as exc:
        return scan_fail(scan=scan, reason=f"The image cannot be read: {exc}")
    except FileNotFoundError:
        return scan_fail(scan=scan, reason="The stored image file is missing.")
    version_id = model_version_ensure(metadata=classifier.metadata)
    fields = {
        "label": reading.label,
        "confidence": reading.confidence,
        "probabilities": reading.probabilities,
        "uncertain": reading.uncertain,
        "out_of_distribution": reading.out_of_distribution,
        "fills_frame": reading.fills_frame,
        "milliseconds": reading.milliseconds,
    }
    with transaction.atomic():
        # A second delivery of the same task may have finished first: one prediction.
        state = Scan.objects.select_for_update().filter(pk=scan_id).values("status").first()
        if state is None or state["status"] == Scan.Status.DONE:
            return scan
        if scan.prediction_id is None:  # never read before: nothing to update
            prediction = Prediction.objects.create(scan=scan, model_version_id=version_id, **fields)
        else:  # read again (a re-read, or a new model version)
            prediction, _ = Prediction.objects.update_or_create(
                scan=scan, model_version_id=version_id, defaults=fields
            )
        scan.prediction = prediction
        scan.status = Scan.Status.DONE
        scan.done_at = timezone.now()
        scan.failure_reason = ""
        scan.save(update_fields=["prediction", "status", "done_at", "failure_reason"])
        if settings.HEATMAPS and not reading.out_of_distribution:
            transaction.on_commit(lambda: prediction_explain_send(prediction_id=prediction.pk))
    return scan


def prediction_explain_send(*, prediction_id: int) -> None:
    # The reading stands without its heatmap, which is optional.
    _send(EXPLAIN_TASK, prediction_id, if_down=f"no heatmap for prediction {prediction_id}")


def prediction_explain(*, prediction_id: int) -> Prediction:
    """Compute and store the Grad-CAM heatmap of a prediction (once)."""
    prediction = Prediction.objects.select_related("scan").get(pk=prediction_id)
    if prediction.heatmap:
        return prediction
    explainer = explainer_get(prediction.model_version_id)
    class_index = explainer_class_index(prediction.model_version_id, prediction.label)
    with prediction.scan.image.open("rb") as handle:
        # Over the whole slice, also for a version that reads a crop around the body.
        heat = explainer.slice_heatmap(handle.read(), class_index)
    prediction.heatmap.save("heatmap.png", ContentFile(overlay_png(heat)), save=False)
    prediction.save(update_fields=["heatmap"])
    return prediction


def scan_fail_by_id(*, scan_id: int, reason: str) -> None:
    scan = Scan.objects.filter(pk=scan_id).exclude(status=Scan.Status.DONE).first()
    if scan is not None:
        scan_fail(scan=scan, reason=reason)


def scan_fail(*, scan: Scan, reason: str) -> Scan:
    logger.warning("Scan %s failed: %s", scan.pk, reason)
    scan.status = Scan.Status.FAILED
    scan.failed_at = timezone.now()
    scan.failure_reason = reason
    scan.save(update_fields=["status", "failed_at", "failure_reason"])
    return scan


def scan_retry(*, scan: Scan) -> Scan:
    """Queue a failed scan again."""
    if scan.status != Scan.Status.FAILED:
        return scan
    scan.status = Scan.Status.QUEUED
    scan.queued_at = timezone.now()
    scan.failure_reason = ""
    scan.save(update_fields=["status", "queued_at", "failure_reason"])
    scan_enqueue(scan=scan)
    return scan


def scans_reclassify(*, scans, actor, ip: str | None = None) -> int:
    """Read the scans again with the active model, through the workers."""
    count = 0
    with transaction.atomic():
        for scan in scans:
            Scan.objects.filter(pk=scan.pk).update(
                status=Scan.Status.QUEUED, queued_at=timezone.now(), failure_reason=""
            )
            scan_enqueue(scan=scan)
            count += 1
        audit_record(action=AuditEvent.Action.RECLASSIFY, actor=actor, ip=ip, scans=count)
    return count
