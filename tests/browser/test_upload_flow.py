"""A real browser (Debian's Chromium, driven by Playwright) against a live server."""

from __future__ import annotations

from pathlib import Path

import pytest
from factories import encode, synthetic_slice, upload_file
from playwright.sync_api import expect

from scans.models import Scan
from scans.services.accounts import user_language_set
from scans.services.readings import scan_classify
from scans.services.uploads import scan_create, upload_check

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"

pytestmark = pytest.mark.django_db(transaction=True)


def test_clinician_uploads_a_ct_slice_and_sees_the_reading(
    browser_page, log_in, live_server, alice, password, sample_dir
):
    page = browser_page
    log_in(page, live_server, alice, password)

    page.get_by_role("link", name="Upload scans").first.click()
    page.get_by_label("CT slices").set_input_files(str(sample_dir / "Stone" / "Stone- (395).jpg"))
    page.get_by_label("Note (optional)").fill("study 2026-114")
    page.screenshot(path=SCREENSHOTS / "upload.png", full_page=True)
    page.get_by_role("button", name="Upload and read").click()

    expect(page.locator(".diagnosis-label")).to_have_text("Stone")
    expect(page.get_by_role("meter")).to_be_visible()
    expect(page.locator(".chart-row")).to_have_count(4)
    expect(page.locator(".chart-row.winner .chart-label")).to_have_text("Stone")
    image = page.get_by_role("img", name="CT slice Stone- (395).jpg")
    image.evaluate("img => img.decode()")  # resolves once the private image view answered
    assert image.evaluate("img => img.naturalWidth") == 256
    page.screenshot(path=SCREENSHOTS / "result.png", full_page=True)

    page.get_by_role("link", name="Printable report").click()
    expect(page.get_by_role("heading", name="AI reading: Stone", exact=False)).to_be_visible()
    page.screenshot(path=SCREENSHOTS / "report.png", full_page=True)
    pdf = page.pdf(format="A4")  # what "Save as PDF" in the print dialog produces
    assert pdf.startswith(b"%PDF")
    page.go_back()

    page.get_by_role("link", name="History", exact=True).click()
    expect(page.locator("table.history tbody tr")).to_have_count(1)
    expect(page.locator("table.history")).to_contain_text("study 2026-114")
    page.screenshot(path=SCREENSHOTS / "history.png", full_page=True)


def test_a_coronal_slice_is_read_with_its_own_caveat(
    browser_page, log_in, live_server, alice, password, sample_dir
):
    page = browser_page
    log_in(page, live_server, alice, password)

    page.get_by_role("link", name="Upload scans").first.click()
    # The sample's Normal files 126-227 are a coronal series.
    page.get_by_label("CT slices").set_input_files(str(sample_dir / "Normal" / "Normal- (150).jpg"))
    page.get_by_role("button", name="Upload and read").click()

    caveat = page.locator(".caveat").first
    expect(caveat).to_contain_text("The body fills this slice from top to bottom")
    expect(caveat).to_be_visible()
    page.screenshot(path=SCREENSHOTS / "result-coronal.png", full_page=True)


def test_clinician_who_chose_indonesian_uploads_and_reads_in_indonesian(
    browser_page, live_server, alice, password, sample_dir
):
    user_language_set(user=alice, language="id")  # chosen before, in another browser
    page = browser_page
    page.goto(f"{live_server.url}/accounts/login/")  # this browser asks for English
    page.get_by_label("Username").fill(alice.username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()

    expect(page.locator("html")).to_have_attribute("lang", "id")
    expect(page.get_by_role("heading", level=1)).to_have_text("Pindaian saya")
    page.get_by_role("link", name="Unggah pindaian").first.click()
    page.get_by_label("Irisan CT").set_input_files(str(sample_dir / "Stone" / "Stone- (395).jpg"))
    page.get_by_label("Catatan (opsional)").fill("studi 2026-114")
    page.get_by_role("button", name="Unggah dan baca").click()

    expect(page.locator(".diagnosis-label")).to_have_text("Batu")
    expect(page.locator(".chart-row.winner .chart-label")).to_have_text("Batu")
    page.screenshot(path=SCREENSHOTS / "result-id.png", full_page=True)
    page.get_by_role("link", name="Laporan untuk dicetak").click()
    expect(page.get_by_role("heading", name="Pembacaan AI: Batu", exact=False)).to_be_visible()
    page.go_back()
    page.get_by_role("link", name="Riwayat", exact=True).click()
    expect(page.locator("table.history tbody tr")).to_have_count(1)
    expect(page.locator("table.history")).to_contain_text("studi 2026-114")
    expect(page.locator("table.history")).to_contain_text("Batu")
    assert Scan.objects.get().prediction.label == "Stone"  # stored language-neutral


def test_result_page_updates_by_itself_when_the_scan_is_read(
    browser_page, log_in, live_server, alice, password, settings, tmp_path, sample_dir
):
    # Upload with no model: the scan waits, as it would in the queue.
    models_dir = settings.MODELS_DIR
    settings.MODELS_DIR = tmp_path
    page = browser_page
    log_in(page, live_server, alice, password)
    page.get_by_role("link", name="Upload scans").first.click()
    page.get_by_label("CT slices").set_input_files(str(sample_dir / "Cyst" / "Cyst- (390).jpg"))
    page.get_by_role("button", name="Upload and read").click()
    expect(page.get_by_text("could not be read")).to_be_visible()

    scan = Scan.objects.get()
    Scan.objects.filter(pk=scan.pk).update(status=Scan.Status.QUEUED, failure_reason="")
    page.reload()
    expect(page.get_by_role("progressbar")).to_be_visible()

    settings.MODELS_DIR = models_dir
    scan_classify(scan_id=scan.pk)

    expect(page.locator(".diagnosis-label")).to_be_visible(timeout=15_000)
    expect(page.locator(".chart-row")).to_have_count(4)


def test_reviewer_confirms_with_the_keyboard_and_sees_the_dashboard(
    browser_page, log_in, live_server, alice, rita, password
):
    from scans.models import Review, Scan

    for name in ("first.png", "second.png"):
        checked = upload_check(upload_file(name, encode(synthetic_slice(2, 2, size=128))))
        scan = scan_create(owner=alice, checked=checked)
        scan_classify(scan_id=scan.pk)
    first, second = Scan.objects.order_by("prediction__confidence", "pk")

    page = browser_page
    log_in(page, live_server, rita, password)
    page.get_by_role("link", name="Review", exact=True).click()
    expect(page.get_by_role("heading", name="Review worklist")).to_be_visible()
    page.screenshot(path=SCREENSHOTS / "worklist.png", full_page=True)
    page.get_by_role("link", name=f"Scan {first.pk}", exact=True).first.click()
    expect(page.get_by_role("heading", name=f"Review scan {first.pk}")).to_be_visible()
    page.screenshot(path=SCREENSHOTS / "review.png", full_page=True)

    # The synthetic slices are refused as not a CT slice: C confirms the refusal, then
    # the next scan of the worklist opens.
    assert first.prediction.out_of_distribution and second.prediction.out_of_distribution
    expect(page.locator("#refused-reading")).to_be_visible()
    # The shortcuts' script is deferred: it listens once the page has loaded (the heading
    # can be drawn a moment before; a key pressed then was lost, seen once in CI).
    page.wait_for_load_state("load")
    page.keyboard.press("c")
    expect(page.get_by_role("heading", name=f"Review scan {second.pk}")).to_be_visible()
    assert Review.objects.get(scan=first).verdict == "not_a_ct"

    page.wait_for_load_state("load")
    page.keyboard.press("1")  # overrule the refusal: it is a CT slice showing a Cyst
    expect(page.get_by_role("heading", name="Review worklist")).to_be_visible()
    assert Review.objects.get(scan=second).true_label == "Cyst"

    page.get_by_role("link", name="Dashboard", exact=True).click()
    expect(page.locator("#kpi-agreement")).to_be_visible()
    page.screenshot(path=SCREENSHOTS / "dashboard.png", full_page=True)
