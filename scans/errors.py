"""The views Django calls for errors (handler400/403/404/500, CSRF_FAILURE_VIEW).

People get a page with the site's header and a way back; anything under /api/, even
an address that matches no route, gets JSON in the API's own format (``{"detail":
...}``, as DRF answers its own errors).
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.multipartparser import MultiPartParserError, TooManyFilesSent
from django.shortcuts import render
from django.utils.translation import gettext
from django.views import csrf, defaults
from rest_framework import exceptions


def is_api_request(request: HttpRequest) -> bool:
    """Whether errors are answered in JSON: every address under /api/."""
    return request.path_info.startswith("/api/")


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """The 400 page, saying what was wrong when Django refused a request unread."""
    reason = _bad_request_reason(exception)
    if is_api_request(request):
        return _api_error(reason, 400)
    return render(request, "400.html", {"reason": reason}, status=400)


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    reason = _reason(exception)
    if is_api_request(request):
        return _api_error(reason or exceptions.PermissionDenied.default_detail, 403)
    return render(request, "403.html", {"reason": reason}, status=403)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    reason = _reason(exception)
    if is_api_request(request):
        return _api_error(reason or exceptions.NotFound.default_detail, 404)
    return render(request, "404.html", {"reason": reason}, status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    if is_api_request(request):
        return _api_error(exceptions.APIException.default_detail, 500)
    # Django's view renders 500.html with no context and no request: no context
    # processor runs and nothing looks up the user, as the database may be what failed.
    return defaults.server_error(request)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """A form sent without its CSRF token: 403_csrf.html, or JSON under /api/ (DRF's
    own views check the token themselves and answer JSON already)."""
    if is_api_request(request):
        return _api_error(f"CSRF check failed: {reason}", 403)
    return csrf.csrf_failure(request, reason)


def _reason(exception: Exception | None) -> str:
    """What the code said when it refused ("No such scan.", "Only the scan's owner...").

    Empty for the URL resolver's 404: its argument is the patterns it tried, not a
    sentence for people.
    """
    args = getattr(exception, "args", ())
    return args[0] if args and isinstance(args[0], str) else ""


def _bad_request_reason(exception: Exception) -> str:
    if isinstance(exception, TooManyFilesSent):
        return gettext(
            "At most %(limit)d files per upload: please send them in smaller groups."
        ) % {"limit": settings.MAX_FILES_PER_UPLOAD}
    if isinstance(exception, MultiPartParserError):
        return gettext(
            "The upload could not be read: the form data was malformed or cut off. "
            "Please choose the files and send them again."
        )
    if isinstance(exception, RequestDataTooBig | TooManyFieldsSent):
        return gettext("The request was larger than this server accepts.")
    return gettext("The request could not be understood.")


def _api_error(detail: str, status: int) -> JsonResponse:
    return JsonResponse({"detail": str(detail)}, status=status)
