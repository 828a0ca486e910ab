"""The site's URLs plus two views for the outage tests: one that touches the database
only through SessionMiddleware (after the view), and one with an ordinary bug."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.urls import path

from kidneyweb.urls import urlpatterns as site


def remember(request: HttpRequest) -> HttpResponse:
    request.session["seen"] = True  # a new session: saved, in the database, after the view
    return HttpResponse("remembered")


def broken(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("an ordinary bug")


urlpatterns = [path("remember/", remember), path("broken/", broken), *site]
