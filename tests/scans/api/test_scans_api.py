from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from factories import encode, stored_files, synthetic_slice, upload_file

from mlcore.inference import load_classifier
from scans.models import AuditEvent, Scan
from scans.services.reviews import review_create

pytestmark = pytest.mark.django_db

LIST = "/api/v1/scans/"


def detail(scan_id: int) -> str:
    return f"/api/v1/scans/{scan_id}/"


def image(scan_id: int) -> str:
    return f"/api/v1/scans/{scan_id}/image"


def upload(client, *files, **fields):
    return client.post(LIST, {"files": list(files), **fields}, format="multipart")


@pytest.mark.parametrize(
    ("method", "path"),
    [("get", LIST), ("post", LIST), ("get", detail(1)), ("delete", detail(1)), ("get", image(1))],
)
def test_anonymous_requests_get_401_with_the_scheme_to_use(api, method, path):
    response = getattr(api, method)(path)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"


def test_a_wrong_token_is_refused(api, alice):
    api.credentials(HTTP_AUTHORIZATION="Token " + "0" * 40)
    assert api.get(LIST).status_code == 401


def test_upload_returns_202_with_the_queued_scan_and_its_links(
    api_as, alice, png_bytes, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        response = upload(api_as(alice), upload_file("a.png", png_bytes), note="study 7")

    assert response.status_code == 202
    scan = Scan.objects.get()
    body = response.json()
    assert body["rejected"] == []
    [created] = body["scans"]
    assert created["id"] == scan.pk
    assert created["status"] == "queued"
    assert created["note"] == "study 7"
    assert created["owner"] == "alice"
    assert created["prediction"] is None
    assert created["links"] == {
        "self": f"http://testserver{detail(scan.pk)}",
        "image": f"http://testserver{image(scan.pk)}",
        "page": f"http://testserver{reverse('scan_detail', args=[scan.pk])}",
    }
    assert len(callbacks) == 1  # sent to the workers once committed


def test_an_uploaded_real_slice_is_read_as_mlcore_reads_it(
    api_as, alice, eager_tasks, django_capture_on_commit_callbacks, sample_dir
):
    data = (sample_dir / "Stone" / "Stone- (330).jpg").read_bytes()
    client = api_as(alice)
    with django_capture_on_commit_callbacks(execute=True):
        scan_id = upload(client, upload_file("s.jpg", data, "image/jpeg")).json()["scans"][0]["id"]

    body = client.get(detail(scan_id)).json()
    expected = load_classifier().classify(data)
    assert body["status"] == "done"
    prediction = body["prediction"]
    assert prediction["label"] == expected.label
    assert prediction["confidence"] == pytest.approx(expected.confidence, abs=1e-6)
    assert prediction["probabilities"] == pytest.approx(expected.probabilities, abs=1e-6)
    assert prediction["uncertain"] is expected.uncertain
    assert prediction["out_of_distribution"] is False
    assert prediction["model_version"] == expected.model_version
    assert prediction["fills_frame"] is False  # an axial slice


def test_a_real_coronal_slice_is_marked_as_filling_the_frame(
    api_as, alice, eager_tasks, django_capture_on_commit_callbacks, sample_dir
):
    # The sample's Normal files 126-227 are a coronal series.
    data = (sample_dir / "Normal" / "Normal- (150).jpg").read_bytes()
    client = api_as(alice)
    with django_capture_on_commit_callbacks(execute=True):
        scan_id = upload(client, upload_file("c.jpg", data, "image/jpeg")).json()["scans"][0]["id"]

    assert client.get(detail(scan_id)).json()["prediction"]["fills_frame"] is True


def test_refused_files_get_the_upload_pages_reason_and_good_ones_are_kept(
    api_as, alice, png_bytes, media_root
):
    response = upload(
        api_as(alice), upload_file("good.png", png_bytes), upload_file("notes.png", b"text")
    )

    assert response.status_code == 202
    assert response.json()["rejected"] == [
        {"name": "notes.png", "reason": "Not a JPEG, PNG or DICOM image."}
    ]
    assert [s["original_name"] for s in response.json()["scans"]] == ["good.png"]
    assert Scan.objects.count() == 1
    assert len(stored_files(media_root)) == 2  # the image and its thumbnail


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("empty.png", b"", "The file is empty."),
        ("page.jpg", b"<html><script>alert(1)</script></html>", "Not a JPEG, PNG or DICOM image."),
        ("cut.png", encode(synthetic_slice(0, 1))[:200], "The PNG file is damaged"),
    ],
)
def test_upload_with_no_acceptable_file_is_400_and_stores_nothing(
    api_as, alice, media_root, name, data, reason
):
    response = upload(api_as(alice), upload_file(name, data))

    assert response.status_code == 400
    body = response.json()
    assert body["detail"] == "No file was accepted."
    [rejected] = body["rejected"]
    assert rejected["name"] == name
    assert reason in rejected["reason"]
    assert not Scan.objects.exists()
    assert stored_files(media_root) == []


def test_upload_over_the_size_limit_is_refused(api_as, alice, settings, png_bytes, media_root):
    settings.MAX_UPLOAD_BYTES = len(png_bytes) - 1
    response = upload(api_as(alice), upload_file("big.png", png_bytes))
    assert response.status_code == 400
    assert "larger than" in response.json()["rejected"][0]["reason"]
    assert stored_files(media_root) == []


def test_upload_without_files_is_400(api_as, alice):
    response = api_as(alice).post(LIST, {"note": "no files"}, format="multipart")
    assert response.status_code == 400
    assert response.json()["errors"] == {"files": ["This field is required."]}


def test_upload_of_more_files_than_allowed_is_400_with_the_limit(
    api_as, alice, settings, png_bytes
):
    settings.MAX_FILES_PER_UPLOAD = settings.DATA_UPLOAD_MAX_NUMBER_FILES = 2
    files = [upload_file(f"{i}.png", png_bytes) for i in range(3)]
    response = upload(api_as(alice), *files)
    assert response.status_code == 400
    assert response.json() == {"detail": "At most 2 files per upload."}
    assert not Scan.objects.exists()


def test_upload_as_json_is_415(api_as, alice):
    response = api_as(alice).post(LIST, {"files": []}, format="json")
    assert response.status_code == 415


def test_account_without_the_upload_permission_gets_403(api_as, django_user_model):
    nobody = django_user_model.objects.create_user("nobody", password="x")
    response = upload(api_as(nobody), upload_file("a.png", b"x"))
    assert response.status_code == 403


def test_list_shows_only_own_scans_newest_first(api_as, alice, bob, make_scan):
    old = make_scan(alice, uploaded_at=timezone.now() - timedelta(days=1))
    new = make_scan(alice)
    make_scan(bob)

    body = api_as(alice).get(LIST).json()
    assert body["count"] == 2
    assert [s["id"] for s in body["results"]] == [new.pk, old.pk]


def test_reviewers_list_every_users_scans(api_as, alice, bob, rita, make_scan):
    make_scan(alice)
    make_scan(bob)
    body = api_as(rita).get(LIST).json()
    assert {s["owner"] for s in body["results"]} == {"alice", "bob"}


def test_list_filters_by_status_label_and_date(api_as, alice, make_scan):
    cyst = make_scan(alice, label="Cyst")
    stone = make_scan(alice, label="Stone", uploaded_at=timezone.now() - timedelta(days=10))
    queued = make_scan(alice, status=Scan.Status.QUEUED)
    client = api_as(alice)

    def ids(**query):
        return {s["id"] for s in client.get(LIST, query).json()["results"]}

    assert ids(status="queued") == {queued.pk}
    assert ids(label="Stone") == {stone.pk}
    today = timezone.now().date()
    assert ids(date_from=today - timedelta(days=1)) == {cyst.pk, queued.pk}
    assert ids(date_to=today - timedelta(days=5)) == {stone.pk}


def test_list_refuses_unknown_filter_values(api_as, alice):
    response = api_as(alice).get(LIST, {"status": "lost", "date_from": "yesterday"})
    assert response.status_code == 400
    assert set(response.json()) == {"status", "date_from"}


def test_list_is_paginated(api_as, alice, make_scan, settings):
    settings.API_PAGE_SIZE = 2
    for _ in range(3):
        make_scan(alice)
    client = api_as(alice)
    first = client.get(LIST).json()
    assert (first["count"], len(first["results"])) == (3, 2)
    second = client.get(first["next"]).json()
    assert len(second["results"]) == 1
    assert client.get(LIST, {"page_size": 3}).json()["next"] is None


def test_detail_shows_the_reading_and_the_reviewers_verdict(api_as, alice, rita, make_scan):
    scan = make_scan(alice, label="Cyst", confidence=0.7)
    review_create(scan=scan, reviewer=rita, verdict="Stone", comment="small stone")

    body = api_as(alice).get(detail(scan.pk)).json()
    assert body["prediction"]["label"] == "Cyst"
    assert body["prediction"]["confidence"] == pytest.approx(0.7)
    assert set(body["prediction"]["probabilities"]) == {"Cyst", "Normal", "Stone", "Tumor"}
    assert body["prediction"]["uncertain"] is False
    assert body["review"]["verdict"] == "Stone"
    assert body["review"]["true_label"] == "Stone"
    assert body["review"]["agrees"] is False
    assert body["review"]["reviewer"] == "rita"
    assert AuditEvent.objects.filter(action="view_result", object_id=str(scan.pk)).exists()


def test_failed_scan_shows_its_reason(api_as, alice, make_scan):
    scan = make_scan(alice, status=Scan.Status.FAILED)
    body = api_as(alice).get(detail(scan.pk)).json()
    assert body["status"] == "failed"
    assert body["failure_reason"] == "The image cannot be read: test reason."
    assert body["prediction"] is None


@pytest.mark.parametrize("path", [detail, image])
def test_another_clinicians_scan_is_404(api_as, alice, bob, make_scan, path):
    scan = make_scan(alice)
    assert api_as(bob).get(path(scan.pk)).status_code == 404


def test_reviewer_may_open_any_scan(api_as, alice, rita, make_scan):
    scan = make_scan(alice)
    assert api_as(rita).get(detail(scan.pk)).status_code == 200


def test_image_returns_the_stored_file_whatever_the_client_accepts(
    api_as, alice, make_scan, png_bytes
):
    scan = make_scan(alice)
    response = api_as(alice).get(image(scan.pk), HTTP_ACCEPT="image/*")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert b"".join(response.streaming_content) == png_bytes
    assert AuditEvent.objects.filter(action="view_image", object_id=str(scan.pk)).exists()


def test_delete_removes_the_scan_and_its_files(api_as, alice, make_scan, media_root):
    scan = make_scan(alice)
    response = api_as(alice).delete(detail(scan.pk))
    assert response.status_code == 204
    assert not Scan.objects.exists()
    assert AuditEvent.objects.filter(action="delete", object_id=str(scan.pk)).exists()


def test_another_clinician_cannot_delete(api_as, alice, bob, make_scan):
    scan = make_scan(alice)
    assert api_as(bob).delete(detail(scan.pk)).status_code == 404
    assert Scan.objects.filter(pk=scan.pk).exists()


def test_a_logged_in_browser_session_is_accepted_for_reads(client, alice, make_scan):
    make_scan(alice)
    client.force_login(alice)
    assert client.get(LIST).json()["count"] == 1


def test_session_writes_need_the_csrf_token(alice, make_scan):
    from django.test import Client

    scan = make_scan(alice)
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(alice)
    response = browser.delete(detail(scan.pk))
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]
    assert Scan.objects.filter(pk=scan.pk).exists()


def test_requests_over_the_users_rate_get_429_with_retry_after(api_as, alice, bob, settings):
    settings.API_THROTTLE_RATE = "2/minute"
    client = api_as(alice)
    assert [client.get(LIST).status_code for _ in range(3)] == [200, 200, 429]
    limited = client.get(LIST)
    assert 0 < int(limited["Retry-After"]) <= 60
    assert api_as(bob).get(LIST).status_code == 200  # per user, not per server


def test_a_page_size_of_many_digits_is_the_most(api_as, alice):
    response = api_as(alice).get(LIST, {"page_size": "9" * 5000})
    assert response.status_code == 200


@pytest.mark.parametrize("page_size", ["0", "-1", "two", "null", "²", "٣", "\uff11", "3.0", " 3"])
def test_a_page_size_that_is_not_a_positive_number_is_400(api_as, alice, page_size):
    response = api_as(alice).get(LIST, {"page_size": page_size})
    assert response.status_code == 400
    assert "page_size" in response.json()


def test_text_with_a_nul_character_is_400_not_a_server_error(api_as, alice, png_bytes):
    client = api_as(alice)
    assert client.get(LIST, {"q": "a\x00b"}).status_code == 400
    response = upload(client, upload_file("a.png", png_bytes), note="x\x00y")
    assert response.status_code == 400
    assert "note" in response.json()["errors"]
    assert not Scan.objects.exists()


def test_a_field_sent_twice_is_400_rather_than_half_read(api_as, alice, png_bytes):
    response = api_as(alice).post(
        LIST,
        {"files": [upload_file("a.png", png_bytes)], "window_level": ["40", "400"]},
        format="multipart",
    )
    assert response.status_code == 400
    assert response.json()["errors"] == {"window_level": ["Send it once."]}
    assert not Scan.objects.exists()
