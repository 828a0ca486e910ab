"""Hostile and broken uploads (tests/corpus.py) sent to the upload page and to the API.

Every refused file gets a 4xx with its reason, and leaves nothing behind: no row, no
stored file, no temporary upload file. Odd names are harmless; odd but valid images
are accepted and read like the ordinary image they hold.
"""

from __future__ import annotations

import hashlib
import io
import random
import tracemalloc

import numpy as np
import pytest
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart
from django.urls import reverse
from factories import ct_dicom, encode, hounsfield_slice, stored_files, upload_file
from PIL import Image
from support.corpus import SEED, hostile_corpus, malformed_dicom_corpus, markup_corpus, png_slice

from scans import views
from scans.models import AuditEvent, Scan

pytestmark = pytest.mark.django_db

CORPUS = hostile_corpus() + malformed_dicom_corpus()
MARKUP = markup_corpus()


@pytest.fixture(autouse=True)
def upload_temp_dir(settings, tmp_path):
    """Large uploads stream to temporary files: each test gets its own folder to watch."""
    folder = tmp_path / "upload-tmp"
    folder.mkdir()
    settings.FILE_UPLOAD_TEMP_DIR = str(folder)
    return folder


def send(client, channel: str, *files, **fields):
    url = reverse("upload") if channel == "page" else "/api/v1/scans/"
    return client.post(url, {"files": list(files), **fields})


def message(response) -> str:
    return response.content.decode().replace("<wbr>", "")  # where a long name may break


def assert_nothing_stored(media_root, upload_temp_dir):
    assert not Scan.objects.exists()
    assert stored_files(media_root) == []
    assert stored_files(upload_temp_dir) == []


@pytest.mark.parametrize("channel", ["page", "api"])
@pytest.mark.parametrize("case", CORPUS, ids=[case.name for case in CORPUS])
def test_hostile_file_is_refused_with_its_reason_and_nothing_is_kept(
    client, alice, media_root, upload_temp_dir, channel, case
):
    client.force_login(alice)
    response = send(client, channel, upload_file(case.name, case.data))

    assert response.status_code == 400
    assert case.reason in message(response)
    assert case.name in message(response)
    assert " at 0x" not in message(response)  # no internals (an object's address) shown
    assert_nothing_stored(media_root, upload_temp_dir)


def good_files() -> list:
    jpeg = encode(Image.open(io.BytesIO(png_slice())), "JPEG", quality=90)
    return [
        upload_file("good.png", png_slice()),
        upload_file("good.jpg", jpeg, "image/jpeg"),
        upload_file("good.dcm", ct_dicom(hounsfield_slice()), "application/dicom"),
    ]


GOOD = {"good.png", "good.jpg", "good.dcm"}


@pytest.mark.parametrize("channel", ["page", "api"])
def test_whole_corpus_in_one_upload_keeps_only_the_good_files(
    client, alice, media_root, upload_temp_dir, channel, django_capture_on_commit_callbacks
):
    client.force_login(alice)
    files = [upload_file(case.name, case.data) for case in CORPUS]
    with django_capture_on_commit_callbacks() as sent:
        response = send(client, channel, *files[:20], *good_files(), *files[20:])

    assert response.status_code in (302, 202)
    if channel == "page":  # to the batch page of the upload, which lists every file
        response = client.get(response.url)
    text = message(response)
    for case in CORPUS:
        assert case.name in text
    assert set(Scan.objects.values_list("original_name", flat=True)) == GOOD
    assert len(stored_files(media_root)) == 2 * len(GOOD)  # each image and its thumbnail
    assert stored_files(upload_temp_dir) == []
    uploads = AuditEvent.objects.filter(action=AuditEvent.Action.UPLOAD)
    assert sorted(uploads.values_list("object_id", flat=True)) == sorted(
        str(pk) for pk in Scan.objects.values_list("pk", flat=True)
    )
    assert len(sent) == len(GOOD)  # one task each, sent when its transaction commits


@pytest.mark.parametrize("channel", ["page", "api"])
@pytest.mark.parametrize("case", MARKUP, ids=[case.name for case in MARKUP])
def test_markup_in_metadata_is_never_served_back(client, alice, media_root, channel, case):
    """The rule that cannot be sidestepped: what is stored and served is a PNG written
    from the decoded pixels, so no byte of the upload's metadata survives."""
    client.force_login(alice)
    response = send(client, channel, upload_file(case.name, case.data))

    assert response.status_code in (202, 302)
    scan = Scan.objects.get()
    assert scan.sha256 == hashlib.sha256(case.data).hexdigest()
    served = b"".join(client.get(reverse("scan_image", args=[scan.pk])).streaming_content)
    assert served.startswith(b"\x89PNG")
    assert case.reason.encode() not in served
    assert png_chunk_types(served) <= {b"IHDR", b"PLTE", b"IDAT", b"IEND"}
    for stored in stored_files(media_root):
        assert case.reason.encode() not in stored.read_bytes()


def png_chunk_types(data: bytes) -> set[bytes]:
    kinds, pos = set(), 8
    while pos + 8 <= len(data):
        length = int.from_bytes(data[pos : pos + 4], "big")
        kinds.add(data[pos + 4 : pos + 8])
        pos += 12 + length
    return kinds


@pytest.mark.parametrize("channel", ["page", "api"])
def test_file_over_the_size_limit_is_refused(
    client, alice, settings, media_root, upload_temp_dir, channel
):
    settings.MAX_UPLOAD_BYTES = 200_000
    big = png_slice() + b"\x00" * 300_000
    client.force_login(alice)
    response = send(client, channel, upload_file("big.png", big))

    assert response.status_code == 400
    assert "larger than the" in message(response)
    assert "big.png" in message(response)
    assert_nothing_stored(media_root, upload_temp_dir)


def test_oversize_file_is_not_read_into_memory(alice, settings, rf):
    """A 40 MB file over a 1 MB limit: parsing the request never holds much more than 1 MB.

    Django's own handlers would keep the whole file in memory below
    FILE_UPLOAD_MAX_MEMORY_SIZE (raised here to 100 MB to make that visible), or
    write all of it to a temporary file above it. The request is built before
    memory is traced (the test client copies the whole body into its fake socket).
    """
    settings.MAX_UPLOAD_BYTES = 1024 * 1024
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 100_000_000
    body = encode_multipart(BOUNDARY, {"files": upload_file("huge.png", b"\x89PNG" * 10_000_000)})
    request = rf.generic("POST", reverse("upload"), body, content_type=MULTIPART_CONTENT)
    request.user = alice

    tracemalloc.start()
    try:
        response = views.upload(request)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert response.status_code == 400
    assert "larger than the 1 MB limit" in message(response)
    assert peak < 4_000_000, f"peak {peak / 1e6:.1f} MB while refusing a 40 MB file"
    assert not Scan.objects.exists()


@pytest.mark.parametrize("channel", ["page", "api"])
def test_more_files_than_allowed_are_refused_before_any_is_kept(
    client, alice, settings, media_root, upload_temp_dir, channel
):
    settings.MAX_FILES_PER_UPLOAD = settings.DATA_UPLOAD_MAX_NUMBER_FILES = 3
    client.force_login(alice)
    response = send(client, channel, *[upload_file(f"{i}.png", png_slice()) for i in range(4)])

    assert response.status_code == 400
    assert "At most 3 files" in message(response) or "at most 3 files" in message(response)
    assert_nothing_stored(media_root, upload_temp_dir)


MALFORMED = {
    "no boundary": ("multipart/form-data", b"--x\r\n\r\n"),
    "boundary never closed": (
        "multipart/form-data; boundary=XYZ",
        b'--XYZ\r\nContent-Disposition: form-data; name="files"; filename="a.png"\r\n'
        b"Content-Type: image/png\r\n\r\n" + b"\x89PNG" * 100,
    ),
    "no headers": ("multipart/form-data; boundary=XYZ", b"--XYZ\r\n\r\n\r\n--XYZ--\r\n"),
    "garbage": ("multipart/form-data; boundary=XYZ", random.Random(SEED).randbytes(4096)),
    "bad boundary": ("multipart/form-data; boundary=" + "x" * 80, b"--x\r\n"),
}


@pytest.mark.parametrize("channel", ["page", "api"])
@pytest.mark.parametrize("body", MALFORMED, ids=list(MALFORMED))
def test_malformed_multipart_body_is_a_clear_400(
    client, alice, media_root, upload_temp_dir, channel, body
):
    content_type, data = MALFORMED[body]
    url = reverse("upload") if channel == "page" else "/api/v1/scans/"
    client.force_login(alice)
    response = client.generic("POST", url, data, content_type=content_type)

    assert response.status_code == 400
    if channel == "page":
        assert "could not be read" in message(response) or "required" in message(response)
    else:
        body = response.json()
        assert "multipart" in body["detail"].lower() or "files" in body.get("errors", {})
    assert_nothing_stored(media_root, upload_temp_dir)
    assert client.get(url if channel == "api" else reverse("upload")).status_code == 200


ODD_NAMES = [
    "../../x.png",
    "..\\..\\windows.png",
    "/etc/passwd.png",
    "Nierenschnitt_ü_腎臓_🩻.png",
    "a" * 296 + ".png",
    "name with\nnew line.png",
]


@pytest.mark.parametrize("channel", ["page", "api"])
@pytest.mark.parametrize("name", ODD_NAMES, ids=range(len(ODD_NAMES)))
def test_odd_file_names_are_kept_as_text_and_stored_under_our_own_name(
    client, alice, media_root, channel, name
):
    client.force_login(alice)
    response = send(client, channel, upload_file(name, png_slice()))

    assert response.status_code in (202, 302)
    scan = Scan.objects.get()
    assert "/" not in scan.original_name and "\\" not in scan.original_name
    assert 0 < len(scan.original_name) <= 255
    assert scan.original_name.endswith(".png")
    for stored in stored_files(media_root):
        assert stored.resolve().is_relative_to(media_root.resolve())
        assert stored.name.isascii() and ".." not in stored.name
    assert client.get(reverse("scan_detail", args=[scan.pk])).status_code == 200


def _odd_variants(slice_: Image.Image) -> dict[str, bytes]:
    """One real slice saved in the odd but valid ways scanners and tools save images."""
    grey = np.asarray(slice_.convert("L"))
    rgba = slice_.convert("RGBA")
    return {
        "sixteen-bit.png": encode(Image.fromarray(grey.astype(np.uint16) * 257)),
        "cmyk.jpg": encode(slice_.convert("CMYK"), "JPEG", quality=95),
        "palette.png": encode(slice_.convert("L").convert("P")),
        "alpha.png": encode(rgba),
        "grey-alpha.png": encode(slice_.convert("LA")),
        "progressive.jpg": encode(slice_.convert("L"), "JPEG", quality=95, progressive=True),
    }


@pytest.fixture
def upload_and_read(client, eager_tasks, django_capture_on_commit_callbacks):
    """Upload, commit, and run the classification task it sends (eagerly)."""

    def run(channel, *files):
        with django_capture_on_commit_callbacks(execute=True):
            return send(client, channel, *files)

    return run


@pytest.mark.parametrize("channel", ["page", "api"])
@pytest.mark.parametrize("label", ["Cyst", "Normal", "Stone", "Tumor"])
def test_odd_but_valid_real_slices_are_read_as_the_plain_slice(
    client, alice, sample_dir, upload_and_read, channel, label
):
    """16-bit, CMYK, palette, alpha and progressive copies of a held-out real slice get
    the same reading as the slice itself, which is right."""
    plain = (sample_dir / label / f"{label}- (395).jpg").read_bytes()
    variants = _odd_variants(Image.open(io.BytesIO(plain)))
    client.force_login(alice)
    response = upload_and_read(
        channel,
        upload_file("plain.jpg", plain, "image/jpeg"),
        *[upload_file(name, data) for name, data in variants.items()],
    )

    assert response.status_code in (202, 302)
    readings = {
        scan.original_name: scan.prediction for scan in Scan.objects.select_related("prediction")
    }
    assert set(readings) == {"plain.jpg", *variants}
    assert readings["plain.jpg"].label == label
    for name in variants:
        assert readings[name].label == label, name
        for cls, p in readings[name].probabilities.items():
            assert p == pytest.approx(readings["plain.jpg"].probabilities[cls], abs=0.05), name
