"""The batch page of an upload, and the rows the history, worklist and batch pages poll."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from django.utils import timezone
from factories import encode, synthetic_slice, upload_file

from scans.models import Scan, UploadBatch
from scans.services.uploads import scan_delete

pytestmark = pytest.mark.django_db


def text(response) -> str:
    return response.content.decode().replace("<wbr>", "")  # where a long name may break


def batch_of(owner, *scans, refused=()) -> UploadBatch:
    files = [{"name": scan.original_name, "scan": scan.pk, "reason": ""} for scan in scans]
    files += [{"name": name, "scan": None, "reason": reason} for name, reason in refused]
    return UploadBatch.objects.create(owner=owner, created_at=timezone.now(), files=files)


def rows(client, *scans, cells="status,reading,confidence") -> dict:
    ids = ",".join(str(scan.pk) for scan in scans)
    response = client.get(reverse("scan_rows"), {"ids": ids, "cells": cells})
    assert response.status_code == 200
    return response.json()


# The batch page.


def test_upload_of_several_files_lands_on_a_page_listing_every_file(client, alice, png_bytes):
    client.force_login(alice)
    files = [
        upload_file("first.png", png_bytes),
        upload_file("broken.png", b"not an image at all"),
        upload_file("second.png", encode(synthetic_slice(1, 1))),
    ]
    response = client.post(reverse("upload"), {"files": files})

    batch = UploadBatch.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("upload_batch", args=[batch.pk])
    page = text(client.get(response.url))
    assert "3 files sent" in page and "2 accepted" in page and "1 refused" in page
    for scan in Scan.objects.all():
        assert f'data-scan-id="{scan.pk}" data-pending="true"' in page  # queued: updates live
    refused = re.search(r'<tr class="refused-row">(.*?)</tr>', page, re.S)[1]
    assert "broken.png" in refused and "Not a JPEG, PNG or DICOM image." in refused
    assert 'data-live-url="/scans/rows/"' in page


def test_one_file_accepted_opens_its_result_page_not_a_batch(client, alice, png_bytes):
    client.force_login(alice)
    response = client.post(reverse("upload"), {"files": [upload_file("a.png", png_bytes)]})
    assert response.url == reverse("scan_detail", args=[Scan.objects.get().pk])
    assert not UploadBatch.objects.exists()


def test_upload_with_every_file_refused_stays_on_the_upload_page(client, alice):
    client.force_login(alice)
    response = client.post(reverse("upload"), {"files": [upload_file("x.png", b"nope")]})
    assert response.status_code == 400
    assert "x.png" in text(response)
    assert not UploadBatch.objects.exists()


def test_batch_page_shows_readings_once_read(client, alice, make_scan):
    done = make_scan(alice, name="done.png", label="Stone", confidence=0.873)
    waiting = make_scan(alice, name="waiting.png", status=Scan.Status.QUEUED)
    batch = batch_of(alice, done, waiting)
    client.force_login(alice)
    page = text(client.get(reverse("upload_batch", args=[batch.pk])))

    assert "Stone" in page and "87.3%" in page
    assert f'data-scan-id="{done.pk}" data-pending="false"' in page
    assert f'data-scan-id="{waiting.pk}" data-pending="true"' in page
    assert "1 of 2 scans read, 1 waiting." in page


def test_other_clinician_gets_404_for_a_batch_and_a_reviewer_sees_it(
    client, alice, bob, rita, make_scan
):
    batch = batch_of(alice, make_scan(alice))
    url = reverse("upload_batch", args=[batch.pk])
    client.force_login(bob)
    assert client.get(url).status_code == 404
    client.force_login(rita)
    assert client.get(url).status_code == 200


def test_batch_page_keeps_a_deleted_scan_as_a_row(client, alice, make_scan):
    kept, gone = make_scan(alice, name="kept.png"), make_scan(alice, name="gone.png")
    batch = batch_of(alice, kept, gone)
    scan_delete(scan=gone, actor=alice)
    client.force_login(alice)
    page = text(client.get(reverse("upload_batch", args=[batch.pk])))
    assert "gone.png" in page and "has been deleted since" in page
    assert f'data-scan-id="{kept.pk}"' in page


def test_long_file_names_break_after_their_separators(client, alice, make_scan):
    scan = make_scan(alice, name="CT_kidney-2026.05.01_<b>.png")
    client.force_login(alice)
    html = client.get(reverse("upload_batch", args=[batch_of(alice, scan).pk])).content.decode()
    assert "CT_<wbr>kidney-<wbr>2026.<wbr>05.<wbr>01_<wbr>&lt;b&gt;.<wbr>png" in html


# The rows that live lists poll.


def test_rows_give_each_scans_cells_as_the_history_renders_them(client, alice, make_scan):
    scan = make_scan(alice, label="Tumor", confidence=0.912)
    client.force_login(alice)
    history = client.get(reverse("home")).content.decode()
    answer = rows(client, scan)

    (row,) = answer["scans"]
    assert row["id"] == scan.pk and row["status"] == "done" and row["pending"] is False
    for name, html in row["cells"].items():
        assert f'<td data-cell="{name}">{html}</td>' in history
    assert "91.2%" in row["cells"]["confidence"]
    assert answer["summary"] == "The scan is read."


def test_rows_show_a_scan_moving_from_queued_to_read(client, alice, make_scan):
    scan = make_scan(alice, status=Scan.Status.QUEUED)
    client.force_login(alice)
    before = rows(client, scan)
    assert before["pending"] == 1 and "Queued" in before["scans"][0]["cells"]["status"]
    assert before["summary"] == "0 of 1 scans read, 1 waiting."

    done = make_scan(alice, label="Cyst", confidence=0.95)
    Scan.objects.filter(pk=scan.pk).update(status=Scan.Status.DONE, prediction=done.prediction)
    after = rows(client, scan)
    assert after["pending"] == 0
    assert "Cyst" in after["scans"][0]["cells"]["reading"]
    assert "95.0%" in after["scans"][0]["cells"]["confidence"]


def test_rows_say_why_a_scan_failed(client, alice, make_scan):
    scan = make_scan(alice, status=Scan.Status.FAILED)
    client.force_login(alice)
    answer = rows(client, scan)
    assert "test reason" in answer["scans"][0]["cells"]["reading"]
    assert answer["summary"] == "0 of 1 scans read. 1 could not be read."


def test_rows_leave_out_other_users_scans_as_if_they_did_not_exist(client, alice, bob, make_scan):
    own, other = make_scan(bob), make_scan(alice)
    client.force_login(bob)
    answer = rows(client, own, other)
    assert [row["id"] for row in answer["scans"]] == [own.pk]


def test_reviewer_rows_carry_the_review_cell(client, alice, rita, make_scan):
    scan = make_scan(alice)
    client.force_login(rita)
    (row,) = rows(client, scan, cells="reading,review,nonsense")["scans"]
    assert set(row["cells"]) == {"reading", "review"}
    assert "To review" in row["cells"]["review"]


def test_rows_ignore_ids_that_are_not_numbers_and_cap_their_number(client, alice, make_scan):
    scans = [make_scan(alice, name=f"{i}.png") for i in range(3)]
    client.force_login(alice)
    ids = ",".join(["x", "1;drop", *[str(s.pk) for s in scans], *["999999"] * 200])
    response = client.get(reverse("scan_rows"), {"ids": ids, "cells": "status"})
    assert response.status_code == 200
    assert len(response.json()["scans"]) == 3


def test_history_and_worklist_tables_are_live(client, alice, rita, make_scan):
    queued = make_scan(alice, status=Scan.Status.QUEUED)
    done = make_scan(alice)
    client.force_login(alice)
    history = client.get(reverse("home")).content.decode()
    assert 'data-live-url="/scans/rows/" data-live-cells="status,reading,confidence"' in history
    assert f'data-scan-id="{queued.pk}" data-pending="true"' in history
    assert "scans/live.js" in history

    client.force_login(rita)
    worklist = client.get(reverse("worklist")).content.decode()
    assert 'data-live-cells="reading,confidence,review" data-live-every="15000"' in worklist
    assert f'data-scan-id="{done.pk}" data-pending="false"' in worklist


def test_result_and_review_headings_break_a_long_name_between_its_parts(
    client, alice, rita, make_scan
):
    scan = make_scan(alice, name="CT_left-pole_0042.png")
    wrapped = "CT_<wbr>left-<wbr>pole_<wbr>0042.<wbr>png"
    client.force_login(alice)
    assert wrapped in client.get(reverse("scan_detail", args=[scan.pk])).content.decode()
    client.force_login(rita)
    assert wrapped in client.get(reverse("review", args=[scan.pk])).content.decode()
