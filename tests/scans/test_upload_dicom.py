from __future__ import annotations

import numpy as np
import pytest
from django.urls import reverse
from factories import ct_dicom, expected_grey, hounsfield_slice, upload_file
from PIL import Image
from support.corpus import tolerated_dicom_corpus

from scans.models import Scan

pytestmark = pytest.mark.django_db


@pytest.fixture
def upload_and_read(client, eager_tasks, django_capture_on_commit_callbacks):
    def run(data: bytes, **fields):
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(
                reverse("upload"),
                {"files": [upload_file("slice.dcm", data, "application/dicom")], **fields},
            )

    return run


def test_dicom_slice_is_windowed_read_and_kept_without_its_header(client, alice, upload_and_read):
    data = ct_dicom(hounsfield_slice(), patient="Doe^Jane")
    client.force_login(alice)
    upload_and_read(data)

    scan = Scan.objects.get()
    assert scan.status == Scan.Status.DONE
    assert scan.image_format == "DICOM"
    assert scan.size_bytes == len(data)
    assert scan.dicom["modality"] == "CT"
    assert scan.dicom["window"] == {"level": 40.0, "width": 400.0}
    with scan.image.open("rb") as handle:
        stored = handle.read()
    assert stored.startswith(b"\x89PNG")
    assert b"Doe" not in stored and b"ID-123" not in stored
    assert np.array_equal(
        np.asarray(Image.open(scan.image.path)), expected_grey(hounsfield_slice())
    )
    html = client.get(reverse("scan_detail", args=[scan.pk])).content.decode()
    assert "CT, study 20260301, slice 5.0 mm" in html
    assert "Doe" not in html


def test_dicom_window_can_be_set_on_upload(client, alice, upload_and_read):
    client.force_login(alice)
    upload_and_read(ct_dicom(hounsfield_slice()), window_level="300", window_width="1500")
    scan = Scan.objects.get()
    assert scan.dicom["window"] == {"level": 300.0, "width": 1500.0}
    grey = np.asarray(Image.open(scan.image.path))
    assert np.array_equal(grey, expected_grey(hounsfield_slice(), 300, 1500))


def test_multi_frame_dicom_is_rejected_with_its_reason(client, alice, upload_and_read):
    client.force_login(alice)
    response = upload_and_read(ct_dicom(hounsfield_slice(), frames=2))
    assert response.status_code == 400
    assert b"holds 2 frames" in response.content
    assert not Scan.objects.exists()


@pytest.mark.parametrize("case", tolerated_dicom_corpus(), ids=lambda case: case.name)
def test_odd_optional_header_number_is_left_out_and_the_slice_kept(client, alice, case):
    client.force_login(alice)
    response = client.post(reverse("upload"), {"files": [upload_file(case.name, case.data)]})

    assert response.status_code == 302
    scan = Scan.objects.get()
    assert scan.dicom[case.reason] is None
    assert client.get(reverse("scan_detail", args=[scan.pk])).status_code == 200
