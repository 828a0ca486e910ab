from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"

pytestmark = pytest.mark.django_db(transaction=True)


def test_api_docs_render_every_operation_from_our_own_server_only(
    browser_page, log_in, live_server, alice, password
):
    page = browser_page
    hosts = set()
    page.on("request", lambda request: hosts.add(urlsplit(request.url).netloc))
    log_in(page, live_server, alice, password, next_url="/api/v1/docs/")

    operations = page.locator(".opblock")
    expect(operations).to_have_count(7)  # Swagger UI ran and read the schema
    expect(
        page.locator(".opblock-summary-path", has_text="/api/v1/scans/{scan_id}/image")
    ).to_be_visible()
    page.screenshot(path=SCREENSHOTS / "api-docs.png")
    assert hosts == {urlsplit(live_server.url).netloc}  # no CDN, no font service
