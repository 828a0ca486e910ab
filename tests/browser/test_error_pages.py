"""Error pages in a real browser: the site's header, why, and a way back; JSON under /api/."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"

pytestmark = pytest.mark.django_db(transaction=True)


def test_clinician_opening_the_worklist_sees_why_and_finds_the_way_back(
    browser_page, log_in, live_server, alice, password
):
    page = browser_page
    log_in(page, live_server, alice, password)

    response = page.goto(f"{live_server.url}/review/")

    assert response.status == 403
    expect(page.get_by_role("heading", name="You cannot open this page")).to_be_visible()
    expect(page.get_by_role("navigation", name="Main")).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text("for reviewers and administrators")
    page.screenshot(path=SCREENSHOTS / "403.png", full_page=True)
    page.get_by_role("link", name="Back to your scans").click()
    expect(page.get_by_role("heading", name="My scans")).to_be_visible()


def test_missing_scan_server_error_and_unknown_api_address(
    browser_page, log_in, live_server, alice, password, monkeypatch
):
    page = browser_page
    log_in(page, live_server, alice, password)

    response = page.goto(f"{live_server.url}/scans/999999/")
    assert response.status == 404
    expect(page.get_by_role("heading", name="Page not found")).to_be_visible()
    expect(page.get_by_role("alert")).to_have_text("No such scan.")
    page.screenshot(path=SCREENSHOTS / "404.png", full_page=True)

    def fail(**kwargs):
        raise RuntimeError("a bug")

    with monkeypatch.context() as patched:  # seen by the live server's thread too
        patched.setattr("scans.views.scan_list_for_user", fail)
        response = page.goto(f"{live_server.url}/")
    assert response.status == 500
    expect(page.get_by_role("heading", name="Something went wrong on our side")).to_be_visible()
    page.screenshot(path=SCREENSHOTS / "500.png", full_page=True)
    page.get_by_role("link", name="Back to your scans").click()
    expect(page.get_by_role("heading", name="My scans")).to_be_visible()

    response = page.goto(f"{live_server.url}/api/v1/no-such-route/")
    assert response.status == 404
    assert response.json() == {"detail": "Not found."}
