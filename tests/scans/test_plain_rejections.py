"""Every reason a file is refused for is a plain sentence for the user: never a
library's own text ("Truncated File Read", "(26 bytes not processed)"), an
exception's name, an object's repr or an operating system's error string."""

from __future__ import annotations

import errno
import re

import pytest
from django.urls import reverse
from factories import ct_dicom, encode, hounsfield_slice, synthetic_slice, upload_file
from support.corpus import hostile_corpus

from scans.services import uploads
from scans.services.uploads import UploadRejected, upload_check

pytestmark = pytest.mark.django_db

# What library and system text looks like; none of it may reach a user.
NOT_PLAIN = re.compile(
    r"0x[0-9a-f]+|<\w|object at|Error\b|Exception|errno|Errno|Traceback|truncated|"
    r"not processed|File Read|\[|\bNone\b|pydicom|PIL|Pillow|struct|unpack",
    re.IGNORECASE,
)


def damaged_files() -> dict[str, bytes]:
    png, jpeg = encode(synthetic_slice(1, 1)), encode(synthetic_slice(1, 1), "JPEG")
    dicom = ct_dicom(hounsfield_slice())
    return {
        "cut.png": png[: len(png) // 2],
        "cut-26.png": png[:-26],
        "cut.jpg": jpeg[: len(jpeg) // 2],
        "cut-end.jpg": jpeg[:-30],
        "cut.dcm": dicom[: len(dicom) // 2],
        "header-only.dcm": dicom[:200],
        "tail.png": png + b"x" * 26,
        "flipped.png": png[:40] + bytes([png[40] ^ 0xFF]) + png[41:],
        "empty.jpg": b"",
        "notes.txt": b"patient list",
    }


def reason_for(name: str, data: bytes) -> str:
    with pytest.raises(UploadRejected) as refused:
        upload_check(upload_file(name, data))
    return refused.value.reason


def assert_plain(reason) -> None:
    assert isinstance(reason, str)
    assert reason[0].isupper() and reason.endswith("."), reason
    assert not NOT_PLAIN.search(reason), reason


@pytest.mark.parametrize(("name", "data"), damaged_files().items(), ids=list(damaged_files()))
def test_damaged_file_is_refused_in_plain_language(name, data):
    assert_plain(reason_for(name, data))


@pytest.mark.parametrize("case", hostile_corpus(), ids=lambda case: case.name)
def test_hostile_file_is_refused_in_plain_language(case):
    try:
        upload_check(upload_file(case.name, case.data))
    except UploadRejected as refused:
        assert_plain(refused.reason)


def test_file_over_the_size_limit_is_a_sentence(settings):
    settings.MAX_UPLOAD_BYTES = 1024 * 1024
    reason = reason_for("big.png", b"\x89PNG" + b"\0" * (2 * 1024 * 1024))
    assert reason == "The file is larger than the 1 MB limit."


def test_unforeseen_error_is_refused_without_its_text(monkeypatch):
    def broken(name, data, **options):
        raise RuntimeError(f"struct.error: unpack requires {object()!r}")

    monkeypatch.setattr(uploads, "_checked", broken)
    reason = reason_for("a.png", encode(synthetic_slice(1, 1)))
    assert_plain(reason)
    assert reason.startswith("The file could not be read as an image")


@pytest.mark.parametrize(
    ("number", "cause"),
    [
        (errno.ENOSPC, "its disk is full"),
        (errno.EROFS, "its storage is read-only"),
        (errno.EACCES, "it may not write to its storage"),
        (errno.EIO, "a storage error"),
        (None, "a storage error"),
    ],
)
def test_storage_failure_names_its_cause_in_plain_words(
    client, alice, monkeypatch, png_bytes, number, cause
):
    def refuse(**kwargs):
        raise OSError(number, "Input/output error [Errno]") if number else OSError("x")

    monkeypatch.setattr(uploads, "scan_create", refuse)
    client.force_login(alice)
    response = client.post(reverse("upload"), {"files": [upload_file("a.png", png_bytes)]})

    assert response.status_code == 503
    html = response.content.decode()
    assert f"The server could not store the file ({cause}); nothing was kept." in html
    assert "Input/output error" not in html and "Errno" not in html


def test_refusals_reach_the_batch_page_as_sentences(client, alice, png_bytes):
    client.force_login(alice)
    files = [upload_file("good.png", png_bytes)]
    files += [upload_file(name, data) for name, data in damaged_files().items()]
    response = client.post(reverse("upload"), {"files": files}, follow=True)

    reasons = re.findall(r'<td colspan="2" class="errors">(.*?)</td>', response.content.decode())
    assert len(reasons) == len(damaged_files())
    for reason in reasons:
        assert_plain(reason.replace("&#x27;", "'"))
