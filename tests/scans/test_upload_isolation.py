"""Every file of an upload stands alone: whatever goes wrong while reading or storing
one file refuses that file with a plain reason and keeps the others, each in its own
transaction with its audit event and its task; never a 500, never half a batch."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.urls import reverse
from factories import ct_dicom, encode, hounsfield_slice, synthetic_slice, upload_file

from scans.models import AuditEvent, Scan
from scans.services import uploads

pytestmark = pytest.mark.django_db


def send(client, channel: str, *files):
    url = reverse("upload") if channel == "page" else "/api/v1/scans/"
    # The page sends an upload that kept some files to its batch page, which lists them all.
    response = client.post(url, {"files": list(files)}, follow=channel == "page")
    response.content = response.content.replace(b"<wbr>", b"")  # where a long name may break
    return response


def batch() -> list:
    return [
        upload_file("good.jpg", encode(synthetic_slice(1, 1), "JPEG"), "image/jpeg"),
        upload_file("cursed.png", encode(synthetic_slice(2, 1))),
        upload_file("good.dcm", ct_dicom(hounsfield_slice()), "application/dicom"),
    ]


@pytest.fixture
def cursed(monkeypatch):
    """Reading the file named cursed.png raises an error nobody foresaw."""
    real = uploads._checked

    def checked(name, data, **options):
        if name == "cursed.png":
            raise RuntimeError(f"unforeseen {object()!r}")
        return real(name, data, **options)

    monkeypatch.setattr(uploads, "_checked", checked)


@pytest.mark.parametrize("channel", ["page", "api"])
def test_unforeseen_error_refuses_that_file_only(
    client, alice, media_root, cursed, channel, django_capture_on_commit_callbacks
):
    client.force_login(alice)
    with django_capture_on_commit_callbacks() as sent:
        response = send(client, channel, *batch())

    assert response.status_code in (200, 202)
    text = response.content.decode()
    assert "cursed.png" in text and "could not be read as an image" in text
    assert "object at 0x" not in text and "unforeseen" not in text
    assert set(Scan.objects.values_list("original_name", flat=True)) == {"good.jpg", "good.dcm"}
    assert AuditEvent.objects.filter(action=AuditEvent.Action.UPLOAD).count() == 2
    assert len(sent) == 2


@pytest.mark.parametrize("channel", ["page", "api"])
def test_failure_storing_one_file_keeps_the_files_before_and_after_it(
    client, alice, media_root, monkeypatch, channel, django_capture_on_commit_callbacks
):
    real = uploads.audit_record

    def audit(**kwargs):
        if getattr(kwargs.get("obj"), "original_name", "") == "cursed.png":
            raise RuntimeError("audit table locked")
        return real(**kwargs)

    monkeypatch.setattr(uploads, "audit_record", audit)
    client.force_login(alice)
    with django_capture_on_commit_callbacks() as sent:
        response = send(client, channel, *batch())

    assert response.status_code in (200, 202)
    assert "cursed.png" in response.content.decode()
    assert set(Scan.objects.values_list("original_name", flat=True)) == {"good.jpg", "good.dcm"}
    assert AuditEvent.objects.filter(action=AuditEvent.Action.UPLOAD).count() == 2
    assert len(sent) == 2
    kept = {f.name for scan in Scan.objects.all() for f in (scan.image, scan.thumbnail)}
    on_disk = {str(p.relative_to(media_root)) for p in media_root.rglob("*") if p.is_file()}
    assert on_disk == kept  # the rolled-back file left nothing behind


@pytest.mark.parametrize("channel", ["page", "api"])
def test_files_past_the_request_pixel_budget_are_refused_and_the_rest_kept(
    client, alice, media_root, settings, channel
):
    settings.MAX_UPLOAD_PIXELS = 64 * 64 + 1  # room for the first 64 x 64 slice only
    client.force_login(alice)
    files = [upload_file(f"{i}.png", encode(synthetic_slice(i, 1))) for i in range(3)]
    response = send(client, channel, *files)

    assert response.status_code in (200, 202)
    assert list(Scan.objects.values_list("original_name", flat=True)) == ["0.png"]
    text = response.content.decode()
    assert "1.png" in text and "send this file in another upload" in text


def queued_messages() -> int:
    """Tasks waiting on the broker in this run's readings queue."""
    from kidneyweb.celery import app

    with app.connection_for_write() as connection:
        queue = settings.CELERY_TASK_DEFAULT_QUEUE
        return connection.default_channel.queue_declare(queue, passive=True).message_count


@pytest.mark.django_db(transaction=True)
def test_each_file_is_sent_to_be_read_before_the_next_is_read(
    client, alice, media_root, monkeypatch
):
    """Readings start while the upload still runs: a file's task is on the broker once
    its own transaction has committed, before the next file is read."""
    waiting = []
    real = uploads._checked

    def checked(name, data, **options):
        waiting.append(queued_messages())
        return real(name, data, **options)

    monkeypatch.setattr(uploads, "_checked", checked)
    before = queued_messages()
    client.force_login(alice)
    files = [upload_file(f"s{i}.png", encode(synthetic_slice(i, 1))) for i in range(3)]
    assert send(client, "api", *files).status_code == 202

    assert [count - before for count in waiting] == [0, 1, 2]
    assert queued_messages() - before == 3
