from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np
import pytest
from django.test.html import parse_html
from django.urls import reverse
from factories import stored_files, upload_file
from PIL import Image

from mlcore.heatmaps import overlay_rgba
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
    assert alpha.max() >= 200  # the hottest point is nearly opaque
    assert (alpha == 0).mean() > 0.3  # where the model hardly looked, the slice shows


def test_result_page_overlays_the_heatmap_with_toggle_and_opacity(client, read_scan):
    html = client.get(reverse("scan_detail", args=[read_scan.pk])).content.decode()
    assert reverse("scan_heatmap", args=[read_scan.pk]) in html
    assert 'id="heatmap-toggle"' in html and 'id="heatmap-opacity"' in html
    assert 'id="heatmap-opacity" min="0" max="100" value="100"' in html  # made to be read so
    assert "red where it looked most" in html  # the legend says what the colours mean
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
    from scans.services.reviews import review_create

    review_create(scan=read_scan, reviewer=rita, verdict="confirmed", comment="agree")
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


def test_review_page_has_the_same_overlay_toggle(client, read_scan, rita):
    client.force_login(rita)
    html = client.get(reverse("review", args=[read_scan.pk])).content.decode()
    assert reverse("scan_heatmap", args=[read_scan.pk]) in html
    assert 'id="heatmap-toggle"' in html and 'id="heatmap-opacity"' in html
    assert "scans/heatmap.js" in html
    assert "red where it looked most" in html


@pytest.mark.parametrize("page", ["scan_detail", "review", "scan_report"])
def test_the_overlay_needs_no_inline_style_or_script(client, read_scan, rita, page):
    # A strict Content-Security-Policy blocks style="" attributes and inline scripts.
    client.force_login(rita)
    elements = [element for element, _ in _elements(client, page, read_scan)]
    overlay = [e for e in elements if "heatmap" in _classes(e) or e.name == "script"]
    assert any("heatmap" in _classes(e) for e in overlay)
    assert all("style" not in dict(e.attributes) for e in overlay)
    assert all(dict(e.attributes).get("src") for e in overlay if e.name == "script")


def test_report_caption_is_not_inside_the_overlay_box(client, read_scan):
    # The heatmap is absolutely placed over its .overlay-stack: a caption inside that box
    # was covered by it.
    elements = _elements(client, "scan_report", read_scan)
    box, figure = next(p[::-1][:2] for e, p in elements if "heatmap" in _classes(e))
    assert "overlay-stack" in _classes(box) and figure.name == "figure"
    captions = [(e, p) for e, p in elements if e.name == "figcaption" and figure in p]
    assert len(captions) == 1
    caption, parents = captions[0]
    assert box not in parents
    assert "red where it looked most" in str(caption)


def test_legend_bar_shows_the_overlay_colours():
    css = (STATIC / "kidneyweb.css").read_text()
    rule = re.search(r"\.heatmap-scale \{[^}]*linear-gradient\(to right, ([^;]*)\), #", css)
    stops = re.findall(r"rgb\((\d+) (\d+) (\d+) / ([\d.]+)\) (\d+)%", rule.group(1))
    assert len(stops) >= 5
    for red, green, blue, alpha, position in stops:
        expected = overlay_rgba(np.array([int(position) / 100]))[0]
        shown = (int(red), int(green), int(blue), round(255 * float(alpha)))
        assert np.abs(np.array(shown) - expected).max() <= 2, position


def _elements(client, page: str, scan: Scan) -> list:
    """Every element of a page with its ancestors, outermost first."""
    html = client.get(reverse(page, args=[scan.pk])).content.decode()
    return list(_walk(parse_html(html)))


def _walk(node, parents=()):
    for child in node.children:
        if not isinstance(child, str):
            yield child, parents
            yield from _walk(child, (*parents, child))


def _classes(element) -> list[str]:
    return (dict(element.attributes).get("class") or "").split()
