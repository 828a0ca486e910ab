"""Every page in a real browser at a phone's width and a laptop's: no sideways scrolling,
no serious or critical axe-core violation, every control reachable by keyboard; and the
lists that update by themselves (history, batch page) seen updating.

Screenshots: docs/screenshots/<page>-390.png and <page>-1366.png; the main pages in
Bahasa Indonesia as <page>-id-390.png and <page>-id-1366.png.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from factories import encode, synthetic_slice
from playwright.sync_api import expect

from scans.models import Diagnosis, ModelVersion, Prediction, Scan, UploadBatch
from scans.services.reviews import review_create

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
AXE = "/static/vendor/axe-core/axe.min.js"
PHONE, LAPTOP = 390, 1366
LONG_NAME = "CT_kidney_left_upper-pole_2026-05-01_series-0042_slice-0117_reconstructed.png"

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def clinic(rita, make_scan):
    """A few weeks of rita's scans in every state, some reviewed (rita reviews, and
    uploads as anybody may: one user sees every page filled)."""
    now = timezone.now()
    scans = [
        make_scan(rita, name=LONG_NAME, label="Stone", confidence=0.998, note="study 2026-114"),
        make_scan(rita, name="refused.png", reading_state="not_a_ct"),
        make_scan(
            rita, name="unsure.png", label="Tumor", confidence=0.52, reading_state="uncertain"
        ),
        make_scan(rita, name="broken.png", status=Scan.Status.FAILED),
        make_scan(rita, name="waiting.png", status=Scan.Status.QUEUED),
    ]
    for day, label in enumerate(Diagnosis.values):
        old = make_scan(
            rita,
            name=f"old-{label}.png",
            label=label,
            uploaded_at=now - timedelta(days=3 * day + 1),
        )
        review_create(scan=old, reviewer=rita, verdict="confirmed" if day % 2 else Diagnosis.CYST)
    files = [{"name": scan.original_name, "scan": scan.pk, "reason": ""} for scan in scans]
    files.append({"name": "notes.txt", "scan": None, "reason": "Not a JPEG, PNG or DICOM image."})
    batch = UploadBatch.objects.create(owner=rita, created_at=now, files=files)
    return {"scans": scans, "batch": batch}


def pages(clinic) -> dict[str, str]:
    done, refused = clinic["scans"][0], clinic["scans"][1]
    return {
        "history": "/",
        "history-filter-error": "/?date_from=2026-05-10&date_to=2026-05-01",
        "upload": "/upload/",
        "batch": f"/uploads/{clinic['batch'].pk}/",
        "result": f"/scans/{done.pk}/",
        "result-refused": f"/scans/{refused.pk}/",
        "report": f"/scans/{done.pk}/report/",
        "worklist": "/review/",
        "review": f"/review/scans/{done.pk}/",
        "dashboard": "/dashboard/?days=30",
        "dashboard-year": "/dashboard/?days=365",
        "model-card": "/model/",
        "password": "/accounts/password/",
        "not-found": "/scans/999999/",
    }


def scrolls_sideways(page) -> int:
    """How many pixels the page is wider than the window (0: it fits)."""
    return page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )


def axe_violations(page, live_server) -> list[dict]:
    """Serious and critical axe-core violations of the page as it is now."""
    page.add_script_tag(url=f"{live_server.url}{AXE}")  # same origin: the CSP allows it
    result = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def tab_through(page, presses: int) -> set[str]:
    """The elements Tab reaches in ``presses`` presses (enough to go round the page: focus
    leaves the page after its last control and comes back to its first)."""
    reached = set()
    for _ in range(presses):
        page.keyboard.press("Tab")
        key = page.evaluate(
            "() => { const e = document.activeElement;"
            " if (!e || e === document.body) return null;"
            " if (!e.dataset.tabKey) e.dataset.tabKey = String(Math.random());"
            " return e.dataset.tabKey; }"
        )
        if key:
            reached.add(key)
    return reached


def visible_controls(page) -> int:
    """Links, buttons and fields a person can see and use (what Tab must reach)."""
    return page.evaluate(
        "() => [...document.querySelectorAll('a[href], button, input, select, textarea, summary')]"
        ".filter(e => !e.disabled && e.getAttribute('tabindex') !== '-1' && e.type !== 'hidden'"
        " && e.checkVisibility({visibilityProperty: true}))"
        ".map(e => { e.dataset.tabKey = e.dataset.tabKey || String(Math.random());"
        " return e.dataset.tabKey; })"
    )


@pytest.mark.parametrize("width", [360, PHONE, LAPTOP])
def test_every_page_fits_the_screen_passes_axe_and_works_by_keyboard(
    browser_page, log_in, live_server, rita, password, clinic, width
):
    page = browser_page
    page.set_viewport_size({"width": width, "height": 900})
    failures = {}

    page.goto(f"{live_server.url}/accounts/login/")
    failures["login"] = check(page, live_server, "login", width)
    log_in(page, live_server, rita, password)
    for name, url in pages(clinic).items():
        page.goto(f"{live_server.url}{url}")
        failures[name] = check(page, live_server, name, width)

    failed = {name: f for name, f in failures.items() if f}
    assert not failed, json.dumps(failed, indent=1)


INDONESIAN_PAGES = (
    "history",
    "upload",
    "batch",
    "result",
    "result-refused",
    "report",
    "worklist",
    "review",
    "dashboard",
    "model-card",
)


@pytest.mark.parametrize("width", [PHONE, LAPTOP])
def test_main_pages_in_indonesian_through_the_switcher(
    browser_page, log_in, live_server, rita, password, clinic, width
):
    page = browser_page
    page.set_viewport_size({"width": width, "height": 900})
    log_in(page, live_server, rita, password)
    if width == PHONE:  # the switcher sits in the folded menu
        page.get_by_role("button", name="Menu").click()
    page.get_by_label("Language").select_option("id")
    page.get_by_role("button", name="Change").click()
    expect(page.locator("html")).to_have_attribute("lang", "id")
    expect(page.get_by_role("heading", level=1)).to_have_text("Pindaian saya")

    failures = {}
    urls = pages(clinic)
    for name in INDONESIAN_PAGES:
        page.goto(f"{live_server.url}{urls[name]}")
        failures[name] = check(page, live_server, f"{name}-id", width)

    failed = {name: f for name, f in failures.items() if f}
    assert not failed, json.dumps(failed, indent=1)


def check(page, live_server, name: str, width: int) -> dict:
    """What is wrong with the page as it is: sideways scrolling, axe-core's serious and
    critical violations, controls Tab does not reach. Screenshot first, unfocused."""
    if width in (PHONE, LAPTOP):
        page.screenshot(path=SCREENSHOTS / f"{name}-{width}.png", full_page=True)
    found = {}
    if overflow := scrolls_sideways(page):
        found["wider than the window by px"] = overflow
    if violations := axe_violations(page, live_server):
        found["axe"] = json.dumps(violations)
    controls = set(visible_controls(page))
    missed = controls - tab_through(page, 2 * len(controls) + 3)
    if missed:
        found["not reachable by Tab"] = page.evaluate(
            "keys => keys.map(k => document.querySelector(`[data-tab-key='${k}']`)"
            ".outerHTML.slice(0, 120))",
            sorted(missed),
        )
    return found


def test_phone_menu_opens_by_keyboard_and_closes_with_escape(
    browser_page, log_in, live_server, alice, password
):
    page = browser_page
    page.set_viewport_size({"width": PHONE, "height": 800})
    log_in(page, live_server, alice, password)

    menu = page.get_by_role("button", name="Menu")
    upload = page.get_by_role("navigation", name="Main").get_by_role("link", name="Upload scans")
    expect(menu).to_have_attribute("aria-expanded", "false")
    expect(upload).to_be_hidden()
    menu.focus()
    page.keyboard.press("Enter")
    expect(menu).to_have_attribute("aria-expanded", "true")
    expect(upload).to_be_visible()
    page.screenshot(path=SCREENSHOTS / f"menu-open-{PHONE}.png")
    page.keyboard.press("Escape")
    expect(upload).to_be_hidden()
    expect(menu).to_be_focused()

    # The filters fold on a phone, and open with the keyboard.
    search = page.get_by_label("Search")
    expect(search).to_be_hidden()
    page.locator("summary", has_text="Filters and search").focus()
    page.keyboard.press("Enter")
    expect(search).to_be_visible()


def test_laptop_shows_menu_and_filters_unfolded(browser_page, log_in, live_server, alice, password):
    page = browser_page
    page.set_viewport_size({"width": LAPTOP, "height": 800})
    log_in(page, live_server, alice, password)
    expect(page.get_by_role("button", name="Menu")).to_be_hidden()
    expect(
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Upload scans")
    ).to_be_visible()
    expect(page.get_by_label("Search")).to_be_visible()


def read(scan: Scan, label: str = "Stone", confidence: float = 0.93) -> None:
    """What the worker does when it has read a scan, without the model."""
    version, _ = ModelVersion.objects.get_or_create(id="test-version")
    rest = (1 - confidence) / 3
    prediction = Prediction.objects.create(
        scan=scan,
        model_version=version,
        label=label,
        confidence=confidence,
        probabilities={n: confidence if n == label else rest for n in Diagnosis.values},
        milliseconds=3.0,
    )
    Scan.objects.filter(pk=scan.pk).update(
        status=Scan.Status.DONE, prediction=prediction, done_at=timezone.now()
    )


def test_history_rows_update_without_a_reload(
    browser_page, log_in, live_server, alice, password, make_scan
):
    waiting = make_scan(alice, name="waiting.png", status=Scan.Status.QUEUED)
    make_scan(alice, name="read.png", label="Cyst")
    page = browser_page
    log_in(page, live_server, alice, password)
    row = page.locator(f'tr[data-scan-id="{waiting.pk}"]')
    expect(row.locator('[data-cell="status"]')).to_have_text("Queued")
    page.evaluate("window.notReloaded = true")

    Scan.objects.filter(pk=waiting.pk).update(status=Scan.Status.PROCESSING)
    expect(row.locator('[data-cell="status"]')).to_have_text("Processing", timeout=10_000)
    read(waiting)

    expect(row.locator('[data-cell="reading"]')).to_have_text("Stone", timeout=15_000)
    expect(row.locator('[data-cell="confidence"]')).to_have_text("93.0%")
    expect(row.locator('[data-cell="status"]')).to_have_text("Done")
    assert page.evaluate("window.notReloaded") is True


def test_upload_previews_files_and_lands_on_a_batch_page_that_updates(
    browser_page, log_in, live_server, alice, password
):
    from kidneyweb.celery import app

    app.conf.task_always_eager = False  # the scans wait in the broker as for a busy worker
    page = browser_page
    page.set_viewport_size({"width": PHONE, "height": 900})
    log_in(page, live_server, alice, password)
    page.goto(f"{live_server.url}/upload/")
    dicom = page.locator("#dicom-options")
    expect(dicom).to_be_hidden()  # no DICOM file chosen

    files = [
        {"name": "left.png", "mimeType": "image/png", "buffer": encode(synthetic_slice(1, 1))},
        {
            "name": "right.jpg",
            "mimeType": "image/jpeg",
            "buffer": encode(synthetic_slice(2, 1), "JPEG"),
        },
        {"name": "notes.txt", "mimeType": "text/plain", "buffer": b"not an image"},
    ]
    page.get_by_label("CT slices").set_input_files(files)
    expect(page.locator(".preview")).to_have_count(3)
    expect(page.locator(".preview.refused")).to_have_count(1)
    expect(page.locator(".preview.refused")).to_contain_text("Not a JPEG, PNG or DICOM file.")
    expect(page.locator("#preview-summary")).to_have_text(
        "3 files chosen. 1 will be refused (see below)."
    )
    expect(dicom).to_be_hidden()
    page.screenshot(path=SCREENSHOTS / f"upload-preview-{PHONE}.png", full_page=True)

    page.get_by_role("button", name="Upload and read").click()
    expect(page.get_by_role("heading", name="Files sent")).to_be_visible()
    expect(page.locator("tr.refused-row")).to_contain_text("notes.txt")
    expect(page.locator("#live-summary")).to_have_text("0 of 2 scans read, 2 waiting.")
    page.screenshot(path=SCREENSHOTS / f"batch-waiting-{PHONE}.png", full_page=True)
    page.evaluate("window.notReloaded = true")

    first, second = Scan.objects.order_by("pk")
    read(first, "Cyst", 0.91)
    expect(page.locator(f'tr[data-scan-id="{first.pk}"] [data-cell="reading"]')).to_have_text(
        "Cyst", timeout=15_000
    )
    expect(page.locator("#live-summary")).to_have_text("1 of 2 scans read, 1 waiting.")
    read(second, "Normal", 0.88)
    expect(page.locator("#live-summary")).to_have_text("All 2 scans are read.", timeout=15_000)
    assert page.evaluate("window.notReloaded") is True
    page.screenshot(path=SCREENSHOTS / f"batch-read-{PHONE}.png", full_page=True)


def test_choosing_a_dicom_file_unfolds_the_window_options(
    browser_page, log_in, live_server, alice, password
):
    from factories import ct_dicom, hounsfield_slice

    page = browser_page
    log_in(page, live_server, alice, password)
    page.goto(f"{live_server.url}/upload/")
    dicom = {
        "name": "slice.dcm",
        "mimeType": "application/dicom",
        "buffer": ct_dicom(hounsfield_slice()),
    }
    page.get_by_label("CT slices").set_input_files([dicom])
    expect(page.get_by_label("DICOM window level (HU)")).to_be_visible()
    expect(page.locator(".preview")).to_contain_text("DICOM")
    page.get_by_label("CT slices").set_input_files([])
    expect(page.locator("#dicom-options")).to_be_hidden()


def test_files_dropped_on_the_field_are_the_ones_sent(
    browser_page, log_in, live_server, alice, password
):
    page = browser_page
    log_in(page, live_server, alice, password)
    page.goto(f"{live_server.url}/upload/")
    png = list(encode(synthetic_slice(3, 1)))
    page.evaluate(
        """bytes => {
            const transfer = new DataTransfer();
            const file = new File([new Uint8Array(bytes)], "dropped.png", {type: "image/png"});
            transfer.items.add(file);
            const zone = document.getElementById("drop-zone");
            const options = {dataTransfer: transfer, bubbles: true, cancelable: true};
            zone.dispatchEvent(new DragEvent("dragover", options));
            zone.dispatchEvent(new DragEvent("drop", options));
        }""",
        png,
    )
    expect(page.locator(".preview")).to_contain_text("dropped.png")
    assert page.get_by_label("CT slices").evaluate("input => input.files[0].name") == "dropped.png"
    page.get_by_role("button", name="Upload and read").click()
    expect(page.locator(".file-name")).to_have_text("dropped.png")  # one file: its result page


def test_admin_scan_list_fits_a_laptop_screen(
    browser_page, log_in, live_server, adam, password, clinic
):
    page = browser_page
    page.set_viewport_size({"width": LAPTOP, "height": 900})
    log_in(page, live_server, adam, password)
    page.goto(f"{live_server.url}/admin/scans/scan/")
    expect(page.locator("#result_list")).to_be_visible()
    page.screenshot(path=SCREENSHOTS / f"admin-scans-{LAPTOP}.png", full_page=True)
    hidden = page.evaluate(
        "() => { const t = document.querySelector('#result_list');"
        " return t.scrollWidth - t.parentElement.clientWidth; }"
    )
    assert hidden <= 0, f"{hidden} px of the scan list's columns are cut off"
    assert scrolls_sideways(page) == 0


@pytest.mark.parametrize("width", [PHONE, LAPTOP])
def test_admin_and_api_docs_fit_the_screen_and_pass_axe(
    browser_page, log_in, live_server, adam, password, clinic, width
):
    page = browser_page
    page.set_viewport_size({"width": width, "height": 900})
    log_in(page, live_server, adam, password)
    done = clinic["scans"][0]
    urls = {
        "admin": "/admin/",
        "admin-scans": "/admin/scans/scan/",
        "admin-scan": f"/admin/scans/scan/{done.pk}/change/",
        "admin-versions": "/admin/scans/modelversion/",
        "admin-audit": "/admin/scans/auditevent/",
        "api-docs": "/api/v1/docs/",
    }
    failures = {}
    for name, url in urls.items():
        page.goto(f"{live_server.url}{url}")
        if name == "api-docs":
            expect(page.locator(".opblock")).to_have_count(7)  # Swagger UI has drawn
        failures[name] = check(page, live_server, name, width)

    failed = {name: f for name, f in failures.items() if f}
    assert not failed, json.dumps(failed, indent=1)
