"""Nothing Django answers is kept in a browser's cache: ``Cache-Control: no-store``.

On a shared workstation a cached page, image or heatmap outlives the log-out and the
scan's deletion. The routes come from the access matrix, which reads them from the URL
conf: a new route is checked here as soon as it is classified there. Public answers
(the log-in page, the health check) are no-store too: one rule for everything Django
answers (scans.middleware.NoStoreMiddleware). Static files are not Django's answers:
WhiteNoise serves them, cacheable.
"""

from __future__ import annotations

import pytest
from django.test import Client
from django.utils.cache import get_max_age
from security.test_access_matrix import (
    ADMIN_ROUTES,
    SITE,
    admin_world,
    admitted_cases,
    logged_in,
    private_cache,
    send,
    with_token,
    world,
)

pytestmark = pytest.mark.django_db

__all__ = ["admin_world", "private_cache", "world"]  # the matrix's fixtures, used here


def assert_no_store(response, context) -> None:
    directives = [d.strip().lower() for d in response.get("Cache-Control", "").split(",")]
    assert "no-store" in directives, (context, response.status_code, response.get("Cache-Control"))


@pytest.mark.parametrize(("route", "method", "users"), admitted_cases())
def test_what_admitted_users_get_is_not_stored(world, route, method, users):
    for user in users:
        client = logged_in(getattr(world, user))
        response = send(client, method, world.url(route), world.payload(route))
        assert_no_store(response, (route, method, user))
        if method == "GET" and route.policy in ("api", "scan api"):
            assert_no_store(with_token(getattr(world, user)).get(world.url(route)), route)


@pytest.mark.parametrize("route", SITE, ids=str)
def test_refusals_and_anonymous_answers_are_not_stored(world, route):
    # Anonymous: the log-in redirect, 401, or the public page itself; bob, another
    # clinician: 404 on alice's scans, 403 on reviewer pages; 405 where GET is not allowed.
    for who, client in {"anonymous": Client(), "bob": logged_in(world.bob)}.items():
        assert_no_store(client.get(world.url(route)), (route, who))


@pytest.mark.parametrize("route", ADMIN_ROUTES, ids=str)
def test_admin_pages_are_not_stored(admin_world, route):
    assert_no_store(logged_in(admin_world.adam).get(admin_world.url(route)), route)


def test_static_files_stay_cacheable(settings):
    settings.WHITENOISE_USE_FINDERS = True  # serve from the app folders, as after collectstatic
    response = Client().get(f"{settings.STATIC_URL}scans/kidneyweb.css")
    assert response.status_code == 200
    assert get_max_age(response) > 0
