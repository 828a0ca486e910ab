"""API policies named in settings.REST_FRAMEWORK (kept apart from the views, which
DRF's settings cannot import while rest_framework.views itself is loading)."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from django.http.multipartparser import TooManyFilesSent
from django.utils.translation import gettext
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.throttling import UserRateThrottle

from scans.ratelimit import hits_count


class UserThrottle(UserRateThrottle):
    """Per-user request rate, KIDNEYWEB_API_THROTTLE_RATE (read per request, so that
    tests and deployments can change it without re-importing the class)."""

    def get_rate(self) -> str:
        return settings.API_THROTTLE_RATE

    def allow_request(self, request, view) -> bool:
        """A fixed window counted atomically (scans.ratelimit), not DRF's history list,
        which every process reads, extends and writes back: parallel requests each saw
        the same history and ~20 % extra got through."""
        self.key = self.get_cache_key(request, view)
        if self.rate is None or self.key is None:
            return True
        self.window = int(self.timer() // self.duration)
        hits = hits_count(key=f"{self.key}:{self.window}", seconds=self.duration)
        return hits <= self.num_requests

    def wait(self) -> float:
        return (self.window + 1) * self.duration - self.timer()


def api_exception_handler(exc: Exception, context: dict) -> Response | None:
    """DRF's handler, plus a JSON 400 for request bodies Django refuses to parse."""
    from rest_framework.views import exception_handler

    if isinstance(exc, TooManyFilesSent):
        exc = exceptions.ParseError(
            gettext("At most %(limit)d files per upload.")
            % {"limit": settings.MAX_FILES_PER_UPLOAD}
        )
    elif isinstance(exc, RequestDataTooBig | TooManyFieldsSent):
        exc = exceptions.ParseError(
            gettext("The request body is too large or has too many fields.")
        )
    return exception_handler(exc, context)
