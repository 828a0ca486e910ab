"""Celery tasks: thin wrappers that call services with primary keys."""

from __future__ import annotations

import logging

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from celery.signals import task_postrun, task_prerun, worker_process_init
from django.conf import settings
from django.db import DatabaseError, close_old_connections

from mlcore.preprocessing import ImageError
from scans.classifier import ModelUnavailableError, classifier_get, classifier_use_threads
from scans.models import Prediction, Scan
from scans.services.readings import (
    prediction_explain,
    scan_classify,
    scan_fail_by_id,
    scans_requeue_stale,
)

logger = logging.getLogger(__name__)

# Errors worth another try: the database or the file store was briefly unreachable.
TRANSIENT_ERRORS = (DatabaseError, ConnectionError, TimeoutError)
MAX_RETRIES = 5


@shared_task(
    bind=True,
    soft_time_limit=settings.CLASSIFY_SOFT_TIME_LIMIT,
    time_limit=settings.CLASSIFY_TIME_LIMIT,
    max_retries=MAX_RETRIES,
)
def classify_scan(self, scan_id: int) -> None:
    try:
        scan_classify(scan_id=scan_id)
    except Scan.DoesNotExist:
        logger.info("Scan %s was deleted before it was read.", scan_id)
    except SoftTimeLimitExceeded:
        scan_fail_by_id(
            scan_id=scan_id,
            reason=f"Reading took longer than {settings.CLASSIFY_SOFT_TIME_LIMIT} s.",
        )
    except TRANSIENT_ERRORS as exc:
        if self.request.retries >= MAX_RETRIES:
            # The cause goes to the log; the reason is what the page shows the user.
            logger.warning("Scan %s: giving up after %s retries: %r", scan_id, MAX_RETRIES, exc)
            scan_fail_by_id(
                scan_id=scan_id,
                reason=(
                    f"The database or the file store could not be reached after "
                    f"{MAX_RETRIES + 1} tries. Try again later."
                ),
            )
            return
        raise self.retry(exc=exc, countdown=2**self.request.retries) from exc


@shared_task(
    soft_time_limit=settings.CLASSIFY_SOFT_TIME_LIMIT, time_limit=settings.CLASSIFY_TIME_LIMIT
)
def explain_prediction(prediction_id: int) -> None:
    """Grad-CAM heatmap of a reading; optional, so failures are logged, not retried."""
    try:
        prediction_explain(prediction_id=prediction_id)
    except Prediction.DoesNotExist:
        logger.info("Prediction %s was deleted before its heatmap.", prediction_id)
    except (ModelUnavailableError, ImageError, OSError) as exc:
        logger.warning("No heatmap for prediction %s: %s", prediction_id, exc)


@shared_task
def requeue_stale_scans() -> int:
    """Send again scans left queued or processing too long (run by Celery beat)."""
    return scans_requeue_stale(older_than_seconds=settings.REQUEUE_AFTER_SECONDS)


@task_prerun.connect
@task_postrun.connect
def reuse_database_connections(sender=None, **kwargs) -> None:
    """Around each task, as Django does around each request: keep the connection
    unless it is older than KIDNEYWEB_DB_CONN_MAX_AGE or broken (a restarted
    database), so a worker does not connect anew for every scan. Eager tasks run
    inside the caller's transaction, whose connection is not ours to close."""
    if not getattr(getattr(sender, "request", None), "is_eager", False):
        close_old_connections()


@worker_process_init.connect
def load_model_in_worker_process(**kwargs) -> None:
    """Load the model once when a worker process starts, not in its first task.

    A worker runs one process per core by default, so each process's LiteRT
    interpreter uses one thread unless KIDNEYWEB_INFERENCE_THREADS says otherwise.
    """
    classifier_use_threads(1)
    try:
        classifier = classifier_get()
    except ModelUnavailableError as exc:
        logger.warning("No model loaded at start: %s", exc)
        return
    logger.info("Model version %s loaded (%s).", classifier.version, classifier.runtime)
