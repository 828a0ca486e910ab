"""Responses kept out of browser caches, and a database outage answered with a 503
page that needs no database, not a 500."""

from __future__ import annotations

import logging
import sys

from django.conf import settings
from django.core.signals import got_request_exception
from django.db.utils import InterfaceError, OperationalError
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string

from scans.errors import is_api_request
from scans.request_id import HEADER, request_id_new, request_id_set

logger = logging.getLogger(__name__)

# The database is unreachable or went away mid-request (restart, failover, network).
DATABASE_DOWN = (OperationalError, InterfaceError)
RETRY_AFTER_SECONDS = 30
API_DETAIL = "The database is unavailable for a moment. Try again in a minute."


class RequestIdMiddleware:
    """First in MIDDLEWARE: the request's id on every log line it causes and in the
    ``X-Request-ID`` response header (scans.request_id)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.id = request_id_new(request.headers.get(HEADER))
        # Not reset on the way out: Django logs a 4xx after the whole middleware chain
        # returned, and that line must carry the id too; the next request sets its own.
        request_id_set(request.id)
        response = self.get_response(request)
        response[HEADER] = request.id
        return response


class ContentSecurityPolicyMiddleware:
    """``Content-Security-Policy`` (settings.CONTENT_SECURITY_POLICY) on every response:
    scripts and styles only from files of our own origin, no inline script, handler or
    style attribute, no plugins, no framing; markup that slipped into a page could
    run nothing."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.setdefault("Content-Security-Policy", settings.CONTENT_SECURITY_POLICY)
        return response


class NoStoreMiddleware:
    """``Cache-Control: no-store`` on every response that does not set its own.

    Pages, images, heatmaps and API answers show patients' scans: on a shared
    workstation a cached copy outlives the log-out and the scan's deletion. Public
    answers (the log-in page, the health check) get it too: one rule, and neither
    gains from a cache. Static files never come here (WhiteNoise, above, answers
    them) and stay cacheable. tests/security/test_cache_control.py checks every route.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if not response.has_header("Cache-Control"):
            response["Cache-Control"] = "no-store"
        return response


class DatabaseUnavailableMiddleware:
    """Answer 503 while the database is down: a plain page, or JSON under /api/.

    Listed above SessionMiddleware and AuthenticationMiddleware. Their lookups run
    lazily inside the view (``login_required``, DRF authentication) and reach
    ``process_exception``; what they raise themselves (saving a session after the
    view) Django turns into a 500 before it gets here, which ``__call__`` replaces.
    Nothing is restarted afterwards: connections are checked before reuse
    (``conn_health_checks``), so the first request after the outage reconnects.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        error = getattr(request, "database_error", None)
        if error is not None and response.status_code == 500:
            return database_unavailable(request, error)
        return response

    def process_exception(self, request: HttpRequest, exception: Exception):
        if isinstance(exception, DATABASE_DOWN):
            return database_unavailable(request, exception)
        return None


@receiver(got_request_exception)
def note_database_error(sender, request=None, **kwargs) -> None:
    """Mark a request whose exception, raised outside the view, was a database outage."""
    error = sys.exc_info()[1]
    if request is not None and isinstance(error, DATABASE_DOWN):
        request.database_error = error


def database_unavailable(request: HttpRequest, error: Exception) -> HttpResponse:
    logger.error("Database unavailable, 503 for %s %s: %s", request.method, request.path, error)
    if is_api_request(request):
        response = JsonResponse({"detail": API_DETAIL}, status=503)
    else:
        # Rendered without the request: no context processor may look up the user.
        response = HttpResponse(render_to_string("503.html"), status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response
