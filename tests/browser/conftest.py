"""A real browser (Debian's Chromium, driven by Playwright) against a live server."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.db import connections
from playwright.sync_api import expect, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture
def browser_page(settings, monkeypatch, eager_tasks):
    if not CHROMIUM.exists():
        pytest.skip("needs Debian's chromium (.ci/run installs it)")
    # Tasks run in the live server's thread: the worker is tests/integration's subject.
    # The live server speaks plain HTTP; production cookies are HTTPS-only.
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = False
    # Playwright's sync API runs an event loop in this thread; the ORM calls made by the
    # test itself are still plain synchronous code.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"]
        )
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        yield page
        browser.close()
        # While Playwright's loop runs, Django keeps this thread's database connections
        # apart from the usual ones; close them here, or the test database stays in use.
        connections.close_all()


@pytest.fixture
def log_in():
    """Log in through the login form, as a person would."""

    def log_in(page, live_server, user, password, next_url: str = "/"):
        page.goto(f"{live_server.url}{next_url}")
        expect(page).to_have_url(f"{live_server.url}/accounts/login/?next={next_url}")
        page.get_by_label("Username").fill(user.username)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Log in").click()
        if next_url == "/":
            expect(page.get_by_role("heading", name="My scans")).to_be_visible()

    return log_in
