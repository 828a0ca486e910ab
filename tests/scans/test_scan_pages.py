from __future__ import annotations

import pytest
from django.urls import reverse
from factories import stored_files

from scans.models import Prediction, Scan

pytestmark = pytest.mark.django_db

SCAN_URLS = ["scan_detail", "scan_image", "scan_thumbnail", "scan_status", "scan_delete"]


@pytest.mark.parametrize("name", SCAN_URLS)
def test_anonymous_visitor_is_sent_to_login(client, alice, make_scan, name):
    scan = make_scan(alice)
    response = client.get(reverse(name, args=[scan.pk]))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


@pytest.mark.parametrize("name", SCAN_URLS)
def test_other_user_cannot_open_scan(client, alice, bob, make_scan, name):
    scan = make_scan(alice)
    client.force_login(bob)
    assert client.get(reverse(name, args=[scan.pk])).status_code == 404


@pytest.mark.parametrize("name", ["scan_delete", "scan_retry"])
def test_other_user_cannot_change_scan(client, alice, bob, make_scan, name):
    scan = make_scan(alice, status=Scan.Status.FAILED)
    client.force_login(bob)
    assert client.post(reverse(name, args=[scan.pk])).status_code == 404
    scan.refresh_from_db()
    assert scan.status == Scan.Status.FAILED


@pytest.mark.parametrize("name", [n for n in SCAN_URLS if n != "scan_delete"])
def test_reviewer_can_open_any_scan(client, alice, rita, make_scan, name):
    scan = make_scan(alice)
    client.force_login(rita)
    assert client.get(reverse(name, args=[scan.pk])).status_code == 200


def test_reviewer_deletes_only_own_scans_and_admin_any(client, alice, rita, adam, make_scan):
    others, own = make_scan(alice), make_scan(rita)
    client.force_login(rita)

    assert b"Delete this scan" not in client.get(reverse("scan_detail", args=[others.pk])).content
    assert client.post(reverse("scan_delete", args=[others.pk])).status_code == 403
    assert client.post(reverse("scan_delete", args=[own.pk])).status_code == 302
    client.force_login(adam)
    assert b"Delete this scan" in client.get(reverse("scan_detail", args=[others.pk])).content
    assert client.post(reverse("scan_delete", args=[others.pk])).status_code == 302
    assert not Scan.objects.exists()


def test_staff_flag_alone_does_not_open_other_users_scans(client, alice, bob, make_scan):
    scan = make_scan(alice)
    bob.is_staff = True
    bob.save()
    client.force_login(bob)
    assert client.get(reverse("scan_detail", args=[scan.pk])).status_code == 404


def test_result_page_shows_diagnosis_confidence_and_all_four_probabilities(
    client, alice, make_scan
):
    scan = make_scan(alice, label="Stone", confidence=0.873)
    client.force_login(alice)
    response = client.get(reverse("scan_detail", args=[scan.pk]))
    html = response.content.decode()

    assert response.status_code == 200
    assert '<p class="diagnosis-label">Stone</p>' in html
    assert "mineral deposit" in html  # the plain-language description
    assert 'role="meter"' in html and 'aria-valuenow="87"' in html
    assert 'data-width="87.3%"' in html
    assert html.count('class="chart-row') == 4
    assert html.count('class="chart-row winner"') == 1
    assert "Stone 87.3%" in html  # the chart's text description
    assert "Cyst 4.2%" in html
    assert "Decision support, not a diagnosis" in html
    assert "status.js" not in html  # nothing to wait for


@pytest.mark.parametrize("status", [Scan.Status.QUEUED, Scan.Status.PROCESSING])
def test_pending_scan_page_shows_progress_and_polls(client, alice, make_scan, status):
    scan = make_scan(alice, status=status)
    client.force_login(alice)
    html = client.get(reverse("scan_detail", args=[scan.pk])).content.decode()

    assert 'role="progressbar"' in html
    assert "updates by itself" in html
    assert "scans/status" in html and ".js" in html
    assert f'data-status-url="{reverse("scan_status", args=[scan.pk])}"' in html


def test_failed_scan_page_shows_the_reason_and_a_retry_button(client, alice, make_scan):
    scan = make_scan(alice, status=Scan.Status.FAILED)
    client.force_login(alice)
    html = client.get(reverse("scan_detail", args=[scan.pk])).content.decode()

    assert "test reason." in html
    assert f'action="{reverse("scan_retry", args=[scan.pk])}"' in html


def test_retry_reads_a_failed_scan_again(
    client, alice, make_scan, eager_tasks, django_capture_on_commit_callbacks
):
    scan = make_scan(alice, status=Scan.Status.FAILED)
    client.force_login(alice)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("scan_retry", args=[scan.pk]))

    scan.refresh_from_db()
    assert response.status_code == 302
    assert scan.status == Scan.Status.DONE
    assert scan.failure_reason == ""
    assert scan.prediction.model_version_id != "test-version"


def test_retry_needs_a_post(client, alice, make_scan):
    scan = make_scan(alice, status=Scan.Status.FAILED)
    client.force_login(alice)
    assert client.get(reverse("scan_retry", args=[scan.pk])).status_code == 405


def test_status_json_tells_the_page_what_to_show(client, alice, make_scan):
    done = make_scan(alice, label="Tumor", confidence=0.75)
    queued = make_scan(alice, status=Scan.Status.QUEUED)
    client.force_login(alice)

    body = client.get(reverse("scan_status", args=[done.pk])).json()
    assert body["status"] == "done"
    assert body["pending"] is False
    assert body["label"] == "Tumor"
    assert body["confidence"] == pytest.approx(0.75)

    response = client.get(reverse("scan_status", args=[queued.pk]))
    assert response["Cache-Control"] == "no-store"
    assert response.json()["pending"] is True
    assert response.json()["label"] is None


def test_image_and_thumbnail_are_served_to_the_owner_only_as_private(
    client, alice, make_scan, png_bytes
):
    scan = make_scan(alice)
    client.force_login(alice)
    image = client.get(reverse("scan_image", args=[scan.pk]))
    thumbnail = client.get(reverse("scan_thumbnail", args=[scan.pk]))

    assert b"".join(image.streaming_content) == png_bytes
    assert image["Content-Type"] == "image/png"
    assert image["Cache-Control"] == "no-store"  # the browser keeps no copy
    assert thumbnail.status_code == 200


def test_media_files_have_no_public_url(client, alice, make_scan):
    scan = make_scan(alice)
    client.force_login(alice)
    assert client.get(f"/media/{scan.image.name}").status_code == 404


def test_delete_asks_first_then_removes_the_scan_and_its_files(
    client, alice, make_scan, media_root, django_capture_on_commit_callbacks
):
    scan = make_scan(alice)
    client.force_login(alice)

    confirm = client.get(reverse("scan_delete", args=[scan.pk]))
    assert confirm.status_code == 200
    assert b"cannot be undone" in confirm.content
    assert Scan.objects.filter(pk=scan.pk).exists()

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("scan_delete", args=[scan.pk]))  # files go after commit
    assert response.status_code == 302
    assert not Scan.objects.exists()
    assert not Prediction.objects.exists()
    assert stored_files(media_root) == []


def test_page_for_a_missing_scan_is_404(client, alice):
    client.force_login(alice)
    assert client.get(reverse("scan_detail", args=[999999])).status_code == 404
