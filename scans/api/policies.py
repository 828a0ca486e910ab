"""API policies named in settings.REST_FRAMEWORK (kept apart from the views, which
DRF's settings cannot import while rest_framework.views itself is loading)."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from django.http.multipartparser import TooManyFilesSent
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.throttling import UserRateThrottle


class UserThrottle(UserRateThrottle):
    """Per-user request rate, KIDNEYWEB_API_THROTTLE_RATE (read per request, so that
    tests and deployments can change it without re-importing the class)."""

    def get_rate(self) -> str:
        return settings.API_THROTTLE_RATE


def api_exception_handler(exc: Exception, context: dict) -> Response | None:
    """DRF's handler, plus a JSON 400 for request bodies Django refuses to parse."""
    from rest_framework.views import exception_handler

    if isinstance(exc, TooManyFilesSent):
        exc = exceptions.ParseError(f"At most {settings.MAX_FILES_PER_UPLOAD} files per upload.")
    elif isinstance(exc, RequestDataTooBig | TooManyFieldsSent):
        exc = exceptions.ParseError("The request body is too large or has too many fields.")
    return exception_handler(exc, context)
