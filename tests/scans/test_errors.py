"""Error pages (403, 404, 500, 400, CSRF) with the site's header and a way back, and
JSON in the API's format for every error under /api/. Debug is off, as in production."""

from __future__ import annotations

import json

import pytest
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.test import Client, RequestFactory
from django.urls import Resolver404, reverse
from django.utils.functional import SimpleLazyObject
from factories import upload_file

from scans import errors
from scans.services.accounts import api_token_create

HEADER = 'class="site-header"'
WAY_BACK = '<a href="/">Back to your scans</a>'


@pytest.fixture(autouse=True)
def production_errors(settings):
    settings.DEBUG = False  # Django's technical pages otherwise
    # The API throttle counts requests in the cache: keep them out of the file cache
    # every test of this process shares (KIDNEYWEB_CACHE_DIR, tests/conftest.py).
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}


def explode(*args, **kwargs):
    raise RuntimeError("this must not be called")


def page(response) -> str:
    assert response["Content-Type"].startswith("text/html")
    assert response["Cache-Control"] == "no-store"
    return response.content.decode()


def api_client(user) -> Client:
    return Client(headers={"Authorization": f"Token {api_token_create(user=user).key}"})


# Pages.


@pytest.mark.django_db
def test_clinician_opening_the_worklist_gets_a_styled_403(client, alice):
    client.force_login(alice)
    response = client.get(reverse("worklist"))

    assert response.status_code == 403
    html = page(response)
    assert HEADER in html and ">alice<" in html  # the header, with her menu
    assert "You cannot open this page" in html
    assert "for reviewers and administrators" in html
    assert WAY_BACK in html


@pytest.mark.django_db
def test_403_says_why_when_the_view_said_why(client, alice, rita, make_scan):
    client.force_login(rita)  # a reviewer sees alice's scan, but may not delete it
    response = client.get(reverse("scan_delete", args=[make_scan(alice).pk]))

    assert response.status_code == 403
    assert "Only the scan&#x27;s owner or an administrator may delete it." in page(response)


@pytest.mark.django_db
def test_unknown_address_gets_a_styled_404(client, alice):
    client.force_login(alice)
    response = client.get("/no-such-page/")

    assert response.status_code == 404
    html = page(response)
    assert HEADER in html and ">alice<" in html
    assert "Page not found" in html and "There is nothing at this address" in html
    assert "Resolver404" not in html and "no-such-page" not in html
    assert WAY_BACK in html


@pytest.mark.django_db
def test_a_deleted_or_missing_scan_gets_the_404_page_saying_so(client, alice):
    client.force_login(alice)
    html = page(client.get(reverse("scan_detail", args=[999_999])))
    assert "No such scan." in html
    assert "A scan that was deleted, or that belongs to somebody else, is not shown." in html


@pytest.mark.django_db
def test_page_500_is_styled(client, alice, monkeypatch):
    monkeypatch.setattr("scans.views.scan_list_for_user", explode)
    client.force_login(alice)
    client.raise_request_exception = False

    response = client.get(reverse("home"))

    assert response.status_code == 500
    html = page(response)
    assert HEADER in html and "Something went wrong on our side" in html
    assert ">alice<" not in html  # rendered with no context: no menu
    assert "RuntimeError" not in html and "Traceback" not in html
    assert WAY_BACK in html


def test_500_page_needs_neither_the_database_nor_context_processors(settings):
    # No django_db mark: any query fails the test. A context processor that raises
    # and a user that raises when looked up stand for a database that is down.
    settings.TEMPLATES = [
        {
            **settings.TEMPLATES[0],
            "OPTIONS": {"context_processors": [f"{__name__}.explode"]},
        }
    ]
    request = RequestFactory().get("/scans/1/")
    request.user = SimpleLazyObject(explode)

    response = errors.server_error(request)

    assert response.status_code == 500
    assert "Something went wrong on our side" in response.content.decode()


@pytest.mark.django_db
def test_form_sent_without_its_csrf_token_gets_a_styled_403(alice, png_bytes):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    response = client.post(reverse("upload"), {"files": [upload_file("a.png", png_bytes)]})

    assert response.status_code == 403
    html = page(response)
    assert HEADER in html and "This form has expired" in html and "CSRF" in html
    assert WAY_BACK in html


@pytest.mark.django_db
def test_request_for_an_unknown_host_gets_the_styled_400():
    response = Client(HTTP_HOST="evil.example").get("/")
    assert response.status_code == 400
    assert HEADER in page(response)


# The API: JSON, {"detail": ...}, for every error.


@pytest.mark.parametrize("url", ["/api/", "/api/v1/no-such-route/", "/api/v1/scans/abc/"])
@pytest.mark.django_db
def test_api_unknown_route_is_a_json_404(url, alice):
    for client in (Client(), api_client(alice)):
        response = client.get(url)
        assert response.status_code == 404
        assert response["Content-Type"] == "application/json"
        assert response.json() == {"detail": "Not found."}


@pytest.mark.django_db
def test_api_500_is_json(alice, monkeypatch):
    monkeypatch.setattr("scans.api.views.scan_list_visible_to", explode)
    client = api_client(alice)
    client.raise_request_exception = False

    response = client.get(reverse("api-scan-list"))

    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "A server error occurred."}


@pytest.mark.django_db
def test_api_request_for_an_unknown_host_is_a_json_400():
    response = Client(HTTP_HOST="evil.example").get("/api/v1/scans/")
    assert response.status_code == 400
    assert response.json() == {"detail": "The request could not be understood."}


# DRF answers its own errors in JSON; these are the ones Django answers, raised outside
# DRF's views (a middleware, a plain view under /api/).


@pytest.mark.parametrize(
    ("handler", "exception", "status", "detail"),
    [
        (errors.permission_denied, PermissionDenied(), 403, "You do not have permission"),
        (errors.permission_denied, PermissionDenied("Not yours."), 403, "Not yours."),
        (errors.page_not_found, Resolver404({"path": "x"}), 404, "Not found."),
        (errors.page_not_found, Http404("No such scan."), 404, "No such scan."),
        (errors.csrf_failure, "CSRF cookie not set.", 403, "CSRF check failed"),
    ],
)
def test_errors_django_answers_under_api_are_json(handler, exception, status, detail):
    response = handler(RequestFactory().post("/api/v1/scans/"), exception)
    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    assert json.loads(response.content)["detail"].startswith(detail)
