from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from django.urls import reverse
from factories import stored_files, upload_file
from PIL import Image

from scans.classifier import classifier_get
from scans.models import Scan

pytestmark = pytest.mark.django_db
STATIC = Path(__file__).resolve().parents[2] / "scans" / "static" / "scans"


@pytest.fixture
def read_scan(client, alice, eager_tasks, django_capture_on_commit_callbacks, sample_dir):
    client.force_login(alice)
    data = (sample_dir / "Stone" / "Stone- (395).jpg").read_bytes()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("upload"), {"files": [upload_file("s.jpg", data, "image/jpeg")]})
    return Scan.objects.select_related("prediction").get()


def test_worker_stores_a_heatmap_with_the_prediction(client, read_scan):
    heatmap = read_scan.prediction.heatmap
    assert heatmap
    overlay = Image.open(heatmap.open("rb"))
    size = classifier_get().image_size  # the model input's size
    assert overlay.mode == "RGBA" and overlay.size == (size, size)
    alpha = np.asarray(overlay)[..., 3]
    assert alpha.max() == 255  # the hottest point is opaque


def test_result_page_overlays_the_heatmap_with_toggle_and_opacity(client, read_scan):
    html = client.get(reverse("scan_detail", args=[read_scan.pk])).content.decode()
    assert reverse("scan_heatmap", args=[read_scan.pk]) in html
    assert 'id="heatmap-toggle"' in html and 'id="heatmap-opacity"' in html
    response = client.get(reverse("scan_heatmap", args=[read_scan.pk]))
    assert Image.open(io.BytesIO(b"".join(response.streaming_content))).mode == "RGBA"
    assert client.get(reverse("scan_status", args=[read_scan.pk])).json()["heatmap"] is True


def test_other_users_cannot_see_the_heatmap(client, read_scan, bob):
    client.force_login(bob)
    assert client.get(reverse("scan_heatmap", args=[read_scan.pk])).status_code == 404


def test_deleting_the_scan_deletes_its_heatmap(
    client, read_scan, media_root, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("scan_delete", args=[read_scan.pk]))
    assert stored_files(media_root) == []


def test_no_heatmap_when_they_are_switched_off(
    client, alice, settings, eager_tasks, django_capture_on_commit_callbacks, png_bytes
):
    settings.HEATMAPS = False
    client.force_login(alice)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("upload"), {"files": [upload_file("a.png", png_bytes)]})
    assert not Scan.objects.get().prediction.heatmap


def test_printable_report_has_everything_a_reader_needs(client, read_scan, rita):
    from scans import services

    services.review_create(scan=read_scan, reviewer=rita, verdict="confirmed", comment="agree")
    html = client.get(reverse("scan_report", args=[read_scan.pk])).content.decode()

    prediction = read_scan.prediction
    assert f"AI reading: {prediction.label}" in html
    assert reverse("scan_image", args=[read_scan.pk]) in html
    assert reverse("scan_heatmap", args=[read_scan.pk]) in html
    assert html.count("<tr") >= 4 + 4  # facts and the four probabilities
    assert f"version {prediction.model_version_id}" in html
    assert "temperature scaling, T = " in html
    assert "Confirmed by rita" in html and "agree" in html
    assert "Decision support, not a diagnosis." in html
    assert "scans/report.css" in html
    assert "@media print" in (STATIC / "report.css").read_text()


def test_report_of_another_users_scan_is_404(client, read_scan, bob):
    client.force_login(bob)
    assert client.get(reverse("scan_report", args=[read_scan.pk])).status_code == 404
