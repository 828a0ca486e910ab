"""A strict Content-Security-Policy on every answer, and pages that need nothing it
forbids: no inline script, no event-handler attribute, no inline style attribute."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


class InlineFinder(HTMLParser):
    def __init__(self):
        super().__init__()
        self.found: list[str] = []
        self._inline_script = False

    def handle_starttag(self, tag, attrs):
        names = dict(attrs)
        for name, _ in attrs:
            if name == "style" or name.startswith("on"):
                self.found.append(f"<{tag} {name}=...>")
        self._inline_script = (
            tag == "script" and "src" not in names and names.get("type") != "application/json"
        )
        if tag == "style":
            self.found.append("<style> element")

    def handle_data(self, data):
        if self._inline_script and data.strip():
            self.found.append(f"inline <script>: {data.strip()[:40]}")

    def handle_endtag(self, tag):
        self._inline_script = False


def inline_code(html: str) -> list[str]:
    finder = InlineFinder()
    finder.feed(html)
    return finder.found


@pytest.fixture
def pages(alice, adam, make_scan):
    scan = make_scan(alice, label="Stone")
    return {
        "clinician": [
            reverse("home"),
            reverse("upload"),
            reverse("scan_detail", args=[scan.pk]),
            reverse("scan_report", args=[scan.pk]),
            reverse("model_card"),
            reverse("password_change"),
        ],
        "admin": [
            reverse("dashboard"),
            reverse("worklist"),
            reverse("review", args=[scan.pk]),
            reverse("admin:scans_scan_changelist"),
            reverse("admin:scans_scan_change", args=[scan.pk]),
        ],
    }


def test_every_page_has_the_policy_and_nothing_inline_it_would_block(client, alice, adam, pages):
    for user, key in ((alice, "clinician"), (adam, "admin")):
        client.force_login(user)
        for url in pages[key]:
            response = client.get(url)
            assert response.status_code == 200, url
            policy = response["Content-Security-Policy"]
            assert "script-src 'self'" in policy and "style-src 'self'" in policy
            assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
            assert inline_code(response.content.decode()) == [], url


def test_the_scan_admin_itself_uses_no_inline_style(client, adam, make_scan, alice):
    scan = make_scan(alice, label="Stone")
    client.force_login(adam)
    html = client.get(reverse("admin:scans_scan_change", args=[scan.pk])).content.decode()
    assert 'class="scan-large"' in html
    assert not re.search(r'<(img|div|span)[^>]* style="', html.split('id="content-main"')[1])


def test_api_docs_run_their_script_from_a_file(client, alice):
    """drf-spectacular's split view: Swagger UI's start-up script is a URL of its own.
    Only its template's small <style> element is blocked (cosmetic)."""
    client.force_login(alice)
    html = client.get("/api/v1/docs/").content.decode()
    assert [f for f in inline_code(html) if "script" in f] == []


def test_api_answers_and_error_pages_carry_the_policy_too(client, alice):
    client.force_login(alice)
    for url in ("/api/v1/scans/", "/no-such-page/", reverse("login")):
        assert "default-src 'self'" in client.get(url)["Content-Security-Policy"]
