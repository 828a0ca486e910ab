from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from scans.models import Prediction, Scan
from scans.tasks import classify_scan, requeue_stale_scans

pytestmark = pytest.mark.django_db


def age(scan: Scan, *, seconds: int) -> None:
    past = timezone.now() - timedelta(seconds=seconds)
    Scan.objects.filter(pk=scan.pk).update(queued_at=past, processing_at=past)


def test_task_reads_the_scan(alice, make_scan, eager_tasks):
    scan = make_scan(alice, status=Scan.Status.QUEUED)
    classify_scan.delay(scan.pk)
    scan.refresh_from_db()
    assert scan.status == Scan.Status.DONE


def test_task_for_a_deleted_scan_does_nothing(alice, make_scan, eager_tasks):
    scan = make_scan(alice, status=Scan.Status.QUEUED)
    scan_id = scan.pk
    scan.delete()
    classify_scan.delay(scan_id)  # no exception, nothing written
    assert not Prediction.objects.exists()


def test_task_is_acknowledged_late_and_time_limited(settings):
    assert classify_scan.soft_time_limit == settings.CLASSIFY_SOFT_TIME_LIMIT
    assert classify_scan.time_limit == settings.CLASSIFY_TIME_LIMIT
    assert settings.CELERY_TASK_ACKS_LATE and settings.CELERY_TASK_REJECT_ON_WORKER_LOST
    assert settings.CLASSIFY_SOFT_TIME_LIMIT < settings.CLASSIFY_TIME_LIMIT
    assert settings.CLASSIFY_TIME_LIMIT < settings.REQUEUE_AFTER_SECONDS


def test_stale_queued_and_processing_scans_are_sent_again(alice, make_scan, eager_tasks, settings):
    waiting = make_scan(alice, status=Scan.Status.QUEUED, name="waiting.png")
    orphan = make_scan(alice, status=Scan.Status.PROCESSING, name="orphan.png")
    fresh = make_scan(alice, status=Scan.Status.QUEUED, name="fresh.png")
    age(waiting, seconds=settings.REQUEUE_AFTER_SECONDS + 1)
    age(orphan, seconds=settings.REQUEUE_AFTER_SECONDS + 1)

    assert requeue_stale_scans.delay().get() == 2

    statuses = dict(Scan.objects.values_list("original_name", "status"))
    assert statuses == {"waiting.png": "done", "orphan.png": "done", "fresh.png": "queued"}
    assert fresh.pk not in Prediction.objects.values_list("scan", flat=True)


def test_done_scans_are_never_sent_again(alice, make_scan, eager_tasks):
    done = make_scan(alice)
    age(done, seconds=10_000)
    assert requeue_stale_scans.delay().get() == 0


def test_requeue_command_reports_what_it_sent(alice, make_scan, eager_tasks):
    scan = make_scan(alice, status=Scan.Status.QUEUED)
    age(scan, seconds=30)
    out = io.StringIO()
    call_command("requeue_stale_scans", "--older-than", "10", stdout=out)
    assert out.getvalue() == "Sent 1 scan(s) again.\n"


class _WorkerTask:
    """The sender of Celery's task signals, as a worker (not eager mode) sends them."""

    class request:
        is_eager = False


def test_a_worker_keeps_its_database_connection_between_tasks(transactional_db):
    from django.db import connection

    from kidneyweb.celery import app
    from scans.tasks import reuse_database_connections

    assert app.conf.get("CELERY_DB_REUSE_MAX")  # else Celery closes it around every task
    connection.ensure_connection()
    kept = connection.connection
    reuse_database_connections(sender=_WorkerTask)
    assert connection.connection is kept

    connection.close_at = 0  # older than KIDNEYWEB_DB_CONN_MAX_AGE: closed, then renewed
    reuse_database_connections(sender=_WorkerTask)
    assert connection.connection is None


def test_a_scan_the_workers_give_up_on_says_why_in_plain_words(
    alice, make_scan, monkeypatch, caplog
):
    from django.db import OperationalError

    from scans import tasks

    def unreachable(*, scan_id):
        raise OperationalError("could not connect to server: Connection refused (0x2f)")

    monkeypatch.setattr(tasks, "scan_classify", unreachable)
    scan = make_scan(alice, status=Scan.Status.QUEUED)

    classify_scan.apply(args=(scan.pk,), retries=tasks.MAX_RETRIES)  # the last try

    scan.refresh_from_db()
    assert scan.status == Scan.Status.FAILED
    assert scan.failure_reason == (
        "The database or the file store could not be reached after 6 tries. Try again later."
    )
    assert "Connection refused" in caplog.text  # the cause is in the log, not on the page
