"""The Grad-CAM overlay in a real browser: read at full opacity, toggled the same way on
the result and review pages, and clear of the report's caption on screen and on paper."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from scans.models import Scan

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"

pytestmark = pytest.mark.django_db(transaction=True)


def opacity(locator) -> str:
    return locator.evaluate("img => getComputedStyle(img).opacity")


def test_heatmap_at_full_opacity_leaves_the_slice_readable_on_every_page(
    browser_page, log_in, live_server, alice, rita, password, sample_dir
):
    page = browser_page
    log_in(page, live_server, alice, password)
    page.get_by_role("link", name="Upload scans").first.click()
    page.get_by_label("CT slices").set_input_files(str(sample_dir / "Stone" / "Stone- (395).jpg"))
    page.get_by_role("button", name="Upload and read").click()

    heatmap = page.locator("img.heatmap")
    expect(heatmap).to_be_visible()
    heatmap.evaluate("img => img.decode()")
    page.get_by_role("img", name="CT slice Stone- (395).jpg").evaluate("img => img.decode()")
    assert opacity(heatmap) == "1"  # the page opens at full opacity
    expect(page.get_by_text("red where it looked most", exact=False)).to_be_visible()
    page.screenshot(path=SCREENSHOTS / "result-heatmap.png", full_page=True)
    page.get_by_label("Show heatmap").uncheck()
    assert opacity(heatmap) == "0"

    page.get_by_role("link", name="Printable report").click()
    overlay = page.locator(".report-images img.heatmap")
    overlay.evaluate("img => img.decode()")
    caption = page.locator("figure", has=page.locator("img.heatmap")).locator("figcaption")
    # On screen, then as printed: A4 less the 15 mm margins is 180 mm, 680 CSS pixels wide.
    for media, width in (("screen", 1200), ("print", 680)):
        page.emulate_media(media=media)
        page.set_viewport_size({"width": width, "height": 900})
        image, text = overlay.bounding_box(), caption.bounding_box()
        assert text["y"] >= image["y"] + image["height"], media  # the caption is below it
    page.screenshot(path=SCREENSHOTS / "report-print.png", full_page=True)
    assert page.pdf(format="A4").startswith(b"%PDF")
    page.emulate_media(media="screen")
    page.set_viewport_size({"width": 1200, "height": 900})

    page.context.clear_cookies()
    scan = Scan.objects.get()
    log_in(page, live_server, rita, password, next_url=f"/review/scans/{scan.pk}/")
    heatmap = page.locator("img.heatmap")
    expect(heatmap).to_be_visible()
    heatmap.evaluate("img => img.decode()")
    page.screenshot(path=SCREENSHOTS / "review-heatmap.png", full_page=True)
    page.get_by_label("Opacity").fill("40")
    assert opacity(heatmap) == "0.4"
    page.get_by_label("Show heatmap").uncheck()
    assert opacity(heatmap) == "0"
