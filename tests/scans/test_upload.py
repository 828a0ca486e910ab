from __future__ import annotations

import hashlib
import io

import numpy as np
import pytest
from django.urls import reverse
from factories import encode, stored_files, synthetic_slice, upload_file
from PIL import Image

from scans.models import Diagnosis, Scan, UploadBatch

pytestmark = pytest.mark.django_db


def post(client, *files, note=""):
    return client.post(reverse("upload"), {"files": list(files), "note": note})


@pytest.fixture
def upload_and_read(client, eager_tasks, django_capture_on_commit_callbacks):
    """Upload, commit, and run the classification task it sends (eagerly)."""

    def run(*files, note=""):
        with django_capture_on_commit_callbacks(execute=True):
            return post(client, *files, note=note)

    return run


def test_upload_returns_at_once_and_sends_the_scan_after_commit(
    client, alice, png_bytes, django_capture_on_commit_callbacks
):
    client.force_login(alice)
    with django_capture_on_commit_callbacks() as callbacks:
        response = post(client, upload_file("a.png", png_bytes))

    scan = Scan.objects.get()
    assert response.url == reverse("scan_detail", args=[scan.pk])
    assert scan.status == Scan.Status.QUEUED
    assert scan.prediction is None
    assert len(callbacks) == 1  # one task, sent only once the scan is committed


def test_anonymous_visitor_cannot_upload(client, png_bytes, media_root):
    response = post(client, upload_file("a.png", png_bytes))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))
    assert not Scan.objects.exists()
    assert stored_files(media_root) == []


def test_upload_page_shows_the_form(client, alice):
    client.force_login(alice)
    response = client.get(reverse("upload"))
    assert response.status_code == 200
    assert b'type="file"' in response.content
    assert b"multiple" in response.content
    assert b'enctype="multipart/form-data"' in response.content


def test_one_file_is_stored_read_and_shown(client, alice, upload_and_read, png_bytes):
    client.force_login(alice)
    response = upload_and_read(upload_file("patient-name.png", png_bytes), note="study 42")

    scan = Scan.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("scan_detail", args=[scan.pk])
    assert scan.owner == alice
    assert scan.status == Scan.Status.DONE
    assert scan.original_name == "patient-name.png"
    assert scan.note == "study 42"
    assert scan.image_format == "PNG"
    assert (scan.width, scan.height) == (64, 64)
    assert scan.size_bytes == len(png_bytes)
    assert scan.sha256 == hashlib.sha256(png_bytes).hexdigest()
    assert scan.prediction.label in Diagnosis.values
    assert sum(scan.prediction.probabilities.values()) == pytest.approx(1, abs=1e-4)
    assert scan.processing_at >= scan.queued_at
    assert scan.done_at >= scan.processing_at


def test_stored_file_gets_a_random_name_and_its_true_type(client, alice, png_bytes):
    client.force_login(alice)
    post(client, upload_file("Doe, John 1960-01-01.jpg", png_bytes))

    scan = Scan.objects.get()
    assert "Doe" not in scan.image.name
    assert scan.image.name.endswith(".png")  # detected by content, not by the name
    with scan.image.open("rb") as handle:
        stored = Image.open(handle)
        assert stored.format == "PNG"
        assert stored.tobytes() == Image.open(io.BytesIO(png_bytes)).tobytes()  # its pixels


def test_two_uploads_of_one_name_get_different_files(client, alice, png_bytes):
    client.force_login(alice)
    post(client, upload_file("a.png", png_bytes))
    post(client, upload_file("a.png", png_bytes))
    first, second = Scan.objects.all()
    assert first.image.name != second.image.name


def test_several_files_at_once_become_several_scans(client, alice, upload_and_read):
    client.force_login(alice)
    files = [upload_file(f"s{i}.png", encode(synthetic_slice(i, i))) for i in range(3)]
    response = upload_and_read(*files)

    assert response.status_code == 302
    batch = UploadBatch.objects.get()
    assert response.url == reverse("upload_batch", args=[batch.pk])
    assert Scan.objects.filter(owner=alice, status=Scan.Status.DONE).count() == 3


def test_real_ct_slice_gets_the_right_reading(client, alice, upload_and_read, sample_dir):
    client.force_login(alice)
    data = (sample_dir / "Tumor" / "Tumor- (390).jpg").read_bytes()
    upload_and_read(upload_file("Tumor- (390).jpg", data, "image/jpeg"))

    scan = Scan.objects.get()
    assert scan.image_format == "JPEG"
    assert scan.prediction.label == "Tumor"


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("notes.png", b"just some text, not an image", b"Not a JPEG, PNG or DICOM image."),
        ("empty.png", b"", b"The file is empty."),
        ("page.jpg", b"<html><script>alert(1)</script></html>", b"Not a JPEG, PNG or DICOM image."),
        ("image.gif", b"GIF89a\x01\x00\x01\x00\x00\x00\x00;", b"Not a JPEG, PNG or DICOM image."),
    ],
)
def test_files_that_are_not_jpeg_or_png_are_rejected(client, alice, media_root, name, data, reason):
    client.force_login(alice)
    response = post(client, upload_file(name, data))

    assert response.status_code == 400
    assert name.encode() in response.content
    assert reason in response.content
    assert not Scan.objects.exists()
    assert stored_files(media_root) == []


@pytest.mark.parametrize("image_format", ["PNG", "JPEG"])
def test_truncated_image_is_rejected(client, alice, media_root, image_format):
    data = encode(synthetic_slice(1, 1, size=128), image_format)
    client.force_login(alice)
    response = post(client, upload_file("cut.png", data[: len(data) // 2]))

    assert response.status_code == 400
    assert b"damaged" in response.content
    assert not Scan.objects.exists()
    assert stored_files(media_root) == []


def test_file_over_the_size_limit_is_rejected(client, alice, settings, png_bytes, media_root):
    settings.MAX_UPLOAD_BYTES = len(png_bytes) - 1
    client.force_login(alice)
    response = post(client, upload_file("big.png", png_bytes))

    assert response.status_code == 400
    assert b"larger than the" in response.content
    assert not Scan.objects.exists()
    assert stored_files(media_root) == []


def test_image_over_the_pixel_limit_is_rejected(client, alice, settings, png_bytes):
    settings.MAX_IMAGE_PIXELS = 64 * 64 - 1
    client.force_login(alice)
    response = post(client, upload_file("wide.png", png_bytes))

    assert response.status_code == 400
    assert b"too many pixels" in response.content or b"the limit is" in response.content
    assert not Scan.objects.exists()


def test_decompression_bomb_is_rejected_without_decoding(client, alice):
    bomb = io.BytesIO()
    Image.new("1", (20_000, 20_000)).save(bomb, "PNG")  # 400 M pixels, a few kB
    client.force_login(alice)
    response = post(client, upload_file("bomb.png", bomb.getvalue()))

    assert response.status_code == 400
    assert b"pixels" in response.content
    assert not Scan.objects.exists()


def test_good_files_are_kept_when_others_in_the_same_upload_are_rejected(
    client, alice, png_bytes, media_root
):
    client.force_login(alice)
    response = post(client, upload_file("good.png", png_bytes), upload_file("bad.png", b"nope"))

    assert response.status_code == 302
    page = client.get(response.url).content.decode().replace("<wbr>", "")  # name breaks
    assert "1 accepted" in page
    assert "bad.png" in page
    assert list(Scan.objects.values_list("original_name", flat=True)) == ["good.png"]
    assert len(stored_files(media_root)) == 2  # the image and its thumbnail


def test_upload_without_files_asks_for_one(client, alice):
    client.force_login(alice)
    response = client.post(reverse("upload"), {"note": "x"})
    assert response.status_code == 400
    assert b"This field is required." in response.content


def test_more_files_than_the_per_upload_limit_are_refused(client, alice, settings, png_bytes):
    settings.MAX_FILES_PER_UPLOAD = 2
    client.force_login(alice)
    response = post(client, *[upload_file(f"{i}.png", png_bytes) for i in range(3)])

    assert response.status_code == 400
    assert b"At most 2 files per upload" in response.content
    assert not Scan.objects.exists()


def test_odd_but_valid_images_are_accepted(client, alice, upload_and_read):
    grey = np.asarray(synthetic_slice(2, 2, size=64))
    sixteen_bit = Image.fromarray(grey.astype(np.uint16) * 257)
    cmyk = synthetic_slice(2, 2, size=64).convert("CMYK")
    client.force_login(alice)
    upload_and_read(
        upload_file("deep.png", encode(sixteen_bit)),
        upload_file("c.jpg", encode(cmyk, "JPEG")),
    )

    assert Scan.objects.filter(status=Scan.Status.DONE).count() == 2


def test_upload_with_no_active_model_is_stored_and_fails_with_the_reason(
    client, alice, upload_and_read, settings, tmp_path, png_bytes
):
    settings.MODELS_DIR = tmp_path / "no-models"
    client.force_login(alice)
    response = upload_and_read(upload_file("a.png", png_bytes))

    scan = Scan.objects.get()
    assert scan.status == Scan.Status.FAILED
    assert "No model version is active" in scan.failure_reason
    page = client.get(response.url)
    assert b"No model version is active" in page.content
    assert b"Try again" in page.content


def test_an_image_that_is_not_a_ct_slice_gets_no_kidney_finding(client, alice, upload_and_read):
    from support.ood_images import colour_drawings

    drawing = dict(colour_drawings(np.random.default_rng(5), 1))["drawing-0"]
    client.force_login(alice)
    response = upload_and_read(upload_file("holiday.png", drawing))

    scan = Scan.objects.get()
    assert scan.status == Scan.Status.DONE and scan.prediction.out_of_distribution
    page = client.get(response.url).content.decode()
    assert "Not a CT slice this model can read." in page
    assert 'class="diagnosis-label"' not in page
    history = client.get(reverse("home"))
    assert "Not a CT slice" in history.content.decode()
    assert sum(history.context["counts"].values()) == 0
