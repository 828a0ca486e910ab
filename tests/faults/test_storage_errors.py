"""The media store refuses an upload: full disk, read-only, or its folder cannot exist.

The upload is refused with a reason on the page and in the API, and leaves no Scan row
and no file, not even half of one. Runs as root here, where a chmod stops no write:
the faults are a regular file where a folder should be (ENOTDIR), and a small tmpfs
that is full (ENOSPC) or mounted read-only (EROFS), skipped where mount is refused.
"""

from __future__ import annotations

import math
import os
import subprocess

import pytest
from django.urls import reverse
from factories import encode, stored_files, synthetic_slice, upload_file
from rest_framework.test import APIClient

from scans.models import Scan
from scans.services.uploads import upload_check

pytestmark = pytest.mark.django_db

PAGE = os.sysconf("SC_PAGE_SIZE")  # tmpfs allocates whole pages
REASON = "The server could not store the file"


def noisy_png(seed: int) -> bytes:
    """A slice whose PNG and thumbnail are each larger than a page, so that a disk with
    a page left starts writing either and fails half-way."""
    return encode(synthetic_slice(seed % 4, seed, size=256))


def pages(size: int) -> int:
    return math.ceil(size / PAGE)


@pytest.fixture
def tmpfs(tmp_path):
    """A 1 MB tmpfs of our own; unmounted afterwards."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(disk)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    yield disk
    # Lazy: detached now even if a failed test left a file open on it.
    subprocess.run(["umount", "--lazy", str(disk)], check=True)


def fill(disk, *, leave_pages: int) -> None:
    """Fill the disk, then free exactly ``leave_pages`` pages."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        while True:
            os.write(fd, bytes(PAGE))
    except OSError:  # ENOSPC: full
        pass
    finally:
        os.close(fd)
    os.truncate(filler, filler.stat().st_size - leave_pages * PAGE)
    assert os.statvfs(disk).f_bavail == leave_pages


def left_behind(media) -> list:
    """Every file under the media folder (the filler is beside it, not in it)."""
    return stored_files(media)


@pytest.mark.parametrize("fault", ["media folder is a regular file", "read-only disk"])
def test_unwritable_media_store_refuses_the_upload_with_a_reason(
    client, alice, settings, tmp_path, request, fault
):
    if fault == "read-only disk":
        disk = request.getfixturevalue("tmpfs")
        subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
        settings.MEDIA_ROOT = disk / "media"
    else:
        (tmp_path / "blocker").write_text("a file where the media folder's parent should be")
        settings.MEDIA_ROOT = tmp_path / "blocker" / "media"
    client.force_login(alice)

    response = client.post(reverse("upload"), {"files": [upload_file("a.png", noisy_png(1))]})

    assert response.status_code == 503  # the server's fault: try again later
    page = response.content.decode()
    assert REASON in page and "nothing was kept" in page
    assert str(settings.MEDIA_ROOT) not in page  # no server path in the message
    assert not Scan.objects.exists()


@pytest.mark.parametrize("half_written", ["image", "thumbnail"])
def test_disk_full_half_way_through_a_file_leaves_no_row_and_no_file(
    client, alice, settings, tmpfs, half_written
):
    data = noisy_png(2)
    checked = upload_check(upload_file("a.png", data))
    assert len(checked.stored) > PAGE and len(checked.thumbnail) > PAGE
    # Room for one page of the image, or for the whole image and one page of its thumbnail.
    fill(tmpfs, leave_pages=1 if half_written == "image" else pages(len(checked.stored)) + 1)
    settings.MEDIA_ROOT = tmpfs / "media"
    client.force_login(alice)

    response = client.post(reverse("upload"), {"files": [upload_file("a.png", data)]})

    assert response.status_code == 503
    assert f"{REASON} (its disk is full)" in response.content.decode()
    assert not Scan.objects.exists()
    assert left_behind(settings.MEDIA_ROOT) == []
    assert (tmpfs / "media" / "scans").is_dir()  # the write had started


def test_api_upload_on_a_disk_that_fills_keeps_the_files_that_fit(alice, settings, tmpfs):
    first, second = noisy_png(3), noisy_png(4)
    kept = upload_check(upload_file("first.png", first))
    fill(tmpfs, leave_pages=pages(len(kept.stored)) + pages(len(kept.thumbnail)) + 1)
    settings.MEDIA_ROOT = tmpfs / "media"
    api = APIClient()
    api.force_authenticate(alice)

    response = api.post(
        "/api/v1/scans/",
        {"files": [upload_file("first.png", first), upload_file("second.png", second)]},
        format="multipart",
    )

    assert response.status_code == 202
    body = response.json()
    assert [scan["original_name"] for scan in body["scans"]] == ["first.png"]
    assert body["rejected"][0]["name"] == "second.png"
    assert body["rejected"][0]["reason"].startswith(f"{REASON} (its disk is full)")
    scan = Scan.objects.get()
    assert sorted(left_behind(settings.MEDIA_ROOT)) == sorted(
        [settings.MEDIA_ROOT / scan.image.name, settings.MEDIA_ROOT / scan.thumbnail.name]
    )
    with scan.image.open("rb") as handle:
        assert handle.read() == kept.stored  # the kept file is whole


def test_api_upload_refused_by_the_store_is_a_503_with_the_reason(alice, settings, tmp_path):
    (tmp_path / "blocker").write_text("not a folder")
    settings.MEDIA_ROOT = tmp_path / "blocker" / "media"
    api = APIClient()
    api.force_authenticate(alice)

    response = api.post(
        "/api/v1/scans/", {"files": [upload_file("a.png", noisy_png(5))]}, format="multipart"
    )

    assert response.status_code == 503
    assert response.json()["detail"] == "The server could not store the files."
    # The operating system's text ("Not a directory") is logged, not shown.
    assert response.json()["rejected"][0]["reason"].startswith(f"{REASON} (a storage error)")
    assert not Scan.objects.exists()
