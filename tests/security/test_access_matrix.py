"""Who may reach what: a matrix over every route of the URL conf.

The routes are read from the resolver, so a new route is tested as soon as it exists.
``ACCESS`` says what each route is for; a route it does not name fails
``test_every_route_is_classified`` until someone classifies it (the admin, Django's own,
is covered as a group). Per-scan routes name alice's scans: bob, another clinician, gets
404 on every one, as for a scan that does not exist, and changes nothing.
"""

from __future__ import annotations

import re
import sys
import types
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import quote

import pytest
from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.contrib.sessions.models import Session
from django.core.files.base import ContentFile
from django.shortcuts import resolve_url
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, include, path, resolve, reverse
from factories import upload_file
from rest_framework.authtoken.models import Token

from scans import views
from scans.models import Review, Scan, UploadBatch
from scans.services.accounts import api_token_create
from scans.services.reviews import review_create

pytestmark = pytest.mark.django_db

# Policies: who may reach a route.
PUBLIC = "public"  # anybody, logged in or not
PAGE = "page"  # any logged-in user; anonymous: to the login page
SCAN_PAGE = "scan page"  # the scan's owner, reviewers and admins; anybody else: 404
REVIEWER_PAGE = "reviewer page"  # reviewers and admins; clinicians: 403
API = "api"  # a token or a session; anonymous: 401
SCAN_API = "scan api"  # as SCAN_PAGE, through the API
PUBLIC_API = "public api"  # no credentials at all (load balancers)
ADMIN = "admin"  # Django's admin, as a group: staff, by the admin's own permissions

SESSION_POLICIES = (PUBLIC, PAGE, SCAN_PAGE, REVIEWER_PAGE, API, SCAN_API)
DONE, FAILED = "done", "failed"


@dataclass(frozen=True)
class Access:
    policy: str
    # What each method answers a user the policy admits (per-scan routes: the owner),
    # sent the body of World.payload; a method not listed must answer 405.
    allowed: dict[str, int | tuple[int, ...]]
    # Which of alice's scans <scan_id> names: retry does nothing to a done scan.
    scan: str = DONE
    # Methods reviewers may not use on other users' scans: they see every scan, but
    # the role table gives them no right to delete one.
    owner_only: tuple[str, ...] = ()


ACCESS: dict[str, Access] = {
    # Django's form views take PUT as POST, but never parse a PUT body: an empty form.
    "login": Access(PUBLIC, {"GET": 200, "POST": 302, "PUT": 200}),
    "logout": Access(PUBLIC, {"POST": 302}),
    "signup": Access(PUBLIC, {"GET": 200, "POST": 302}),  # with KIDNEYWEB_ALLOW_SIGNUP=1
    "set_language": Access(PUBLIC, {"POST": 302}),  # the header's language switcher
    "javascript-catalog": Access(PUBLIC, {"GET": 200}),  # the scripts' translations
    "home": Access(PAGE, {"GET": 200}),
    "upload": Access(PAGE, {"GET": 200, "POST": 302}),
    "password_change": Access(PAGE, {"GET": 200, "POST": 302, "PUT": 200}),
    "password_change_done": Access(PAGE, {"GET": 200}),
    "api-docs": Access(PAGE, {"GET": 200}),
    "model_card": Access(PAGE, {"GET": 200}),
    "scan_rows": Access(PAGE, {"GET": 200}),  # only the listed scans the user may see
    "upload_batch": Access(SCAN_PAGE, {"GET": 200}),  # an upload's files: as its scans
    "scan_detail": Access(SCAN_PAGE, {"GET": 200}),
    "scan_image": Access(SCAN_PAGE, {"GET": 200}),
    "scan_thumbnail": Access(SCAN_PAGE, {"GET": 200}),
    "scan_status": Access(SCAN_PAGE, {"GET": 200}),
    "scan_heatmap": Access(SCAN_PAGE, {"GET": 200}),
    "scan_report": Access(SCAN_PAGE, {"GET": 200}),
    "scan_delete": Access(SCAN_PAGE, {"GET": 200, "POST": 302}, owner_only=("GET", "POST")),
    "scan_retry": Access(SCAN_PAGE, {"POST": 302}, scan=FAILED),
    "worklist": Access(REVIEWER_PAGE, {"GET": 200}),
    "review": Access(REVIEWER_PAGE, {"GET": 200, "POST": 302}),
    "dashboard": Access(REVIEWER_PAGE, {"GET": 200}),
    "api-scan-list": Access(API, {"GET": 200, "POST": 202}),
    "api-model-list": Access(API, {"GET": 200}),
    "api-schema": Access(API, {"GET": 200}),
    "api-scan-detail": Access(SCAN_API, {"GET": 200, "DELETE": 204}, owner_only=("DELETE",)),
    "api-scan-image": Access(SCAN_API, {"GET": 200}),
    "api-health": Access(PUBLIC_API, {"GET": (200, 503)}),  # 503: broker or model down
}


# The admin by section, for reviewers: none of user administration, the audit trail and
# the log-in lock-outs; the scans, reviews and model versions to read, without adding or
# deleting.
ADMIN_STAFF_ONLY = {
    "auth.user",
    "auth.group",
    "authtoken.tokenproxy",
    "scans.auditevent",
    "axes.accessattempt",
    "axes.accesslog",
    "axes.accessfailurelog",
}
ADMIN_FOR_REVIEWERS = {"scans.scan", "scans.review", "scans.modelversion"}

WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
NEW_PASSWORD = "a new horse battery staple"
MISSING_SCAN_ID = 999_999


@dataclass(frozen=True)
class Route:
    key: str  # "namespace:name", or the pattern of an unnamed route
    pattern: str  # the full pattern, e.g. "scans/<int:scan_id>/"
    namespace: str
    params: tuple[str, ...]
    callback: object

    def __str__(self) -> str:
        return self.key

    @property
    def access(self) -> Access:
        return ACCESS[self.key]

    @property
    def policy(self) -> str | None:
        if self.key in ACCESS:
            return ACCESS[self.key].policy
        return ADMIN if self.namespace == "admin" else None

    @property
    def admin_model(self) -> str | None:
        """The model of an admin section route ("scans.scan"), else None."""
        parts = self.pattern.split("/")
        if self.namespace != "admin" or len(parts) < 4:
            return None
        try:
            return apps.get_model(parts[1], parts[2])._meta.label_lower
        except LookupError:
            return None


def url_routes(patterns=None, prefix: str = "", namespace: str = "") -> Iterator[Route]:
    """Every route of settings.ROOT_URLCONF, includes walked recursively."""
    for entry in get_resolver().url_patterns if patterns is None else patterns:
        pattern = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            inner = ":".join(n for n in (namespace, entry.namespace) if n)
            yield from url_routes(entry.url_patterns, pattern, inner)
        elif isinstance(entry, URLPattern):
            name = f"{namespace}:{entry.name}" if namespace and entry.name else entry.name
            params = re.findall(r"\(\?P<(\w+)>|<(?:\w+:)?(\w+)>", pattern)
            yield Route(
                key=name or pattern,
                pattern=pattern,
                namespace=namespace,
                params=tuple(a or b for a, b in params),
                callback=entry.callback,
            )


def unclassified(routes) -> list[str]:
    return [route.key for route in routes if route.policy is None]


ROUTES = list(url_routes())
SITE = [route for route in ROUTES if route.key in ACCESS]
ADMIN_ROUTES = [route for route in ROUTES if route.policy == ADMIN]


def cases(policies, *, methods=(*WRITE_METHODS, "GET")) -> list:
    """(route, method) for each route under ``policies`` and each method it allows."""
    return [
        pytest.param(route, method, id=f"{route.key}-{method}")
        for route in SITE
        if route.policy in policies
        for method in route.access.allowed
        if method in methods
    ]


@dataclass
class World:
    alice: object
    bob: object
    rita: object
    adam: object
    done: Scan
    failed: Scan
    password: str
    png: bytes
    batch: UploadBatch | None = None

    def path_value(self, route: Route, param: str, scan_id: int | None):
        if param == "scan_id":
            return scan_id or (self.failed if route.access.scan == FAILED else self.done).pk
        if param == "batch_id":
            return scan_id or self.batch.pk
        if route.pattern.startswith("admin/r/"):  # the admin's "view on site"
            scan_type = ContentType.objects.get_for_model(Scan)
            return {"content_type_id": scan_type.pk, "object_id": self.done.pk}[param]
        if param in ("object_id", "id"):
            return self.admin_object_id(route.admin_model)
        return {"app_label": "scans", "url": "no-such-page/"}[param]

    def admin_object_id(self, label: str):
        """A real object of the admin section: alice, her done scan, its review..."""
        if label == "authtoken.tokenproxy":
            return self.alice.pk  # the token admin finds a token by its user
        first = apps.get_model(label).objects.order_by("pk").first()
        assert first, f"nothing to open in the admin's {label}: make one in admin_world"
        return first.pk

    def url(self, route: Route, *, scan_id: int | None = None) -> str:
        """The route with real objects in it; it must resolve back to the same view."""

        def value(match: re.Match) -> str:
            return str(self.path_value(route, match[1], scan_id))

        url = re.sub(r"\(\?P<(\w+)>[^)]*\)", value, route.pattern)
        url = "/" + re.sub(r"<(?:\w+:)?(\w+)>", value, url).replace("^", "").replace("$", "")
        assert resolve(url).func is route.callback, (route.key, url)
        return url

    def payload(self, route: Route) -> dict:
        """A valid body: a request that gets through does change something."""
        if route.key in ("upload", "api-scan-list"):
            return {"files": [upload_file("slice.png", self.png)]}
        new_password = {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
        return {
            "login": {"username": "bob", "password": self.password},
            "signup": {"username": "eve", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
            "password_change": {"old_password": self.password, **new_password},
            "review": {"verdict": "confirmed"},
            "set_language": {"language": "id"},
        }.get(route.key, {})


@pytest.fixture(autouse=True)
def private_cache(settings):
    # The API throttle counts requests in the cache: keep them out of the file cache
    # every test of this process shares (KIDNEYWEB_CACHE_DIR, tests/conftest.py).
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}


@pytest.fixture
def world(settings, alice, bob, rita, adam, make_scan, png_bytes, password) -> World:
    settings.ALLOW_SIGNUP = True  # the widest the site gets
    done = make_scan(alice)
    done.prediction.heatmap.save("heatmap.png", ContentFile(png_bytes))
    failed = make_scan(alice, status=Scan.Status.FAILED)
    review_create(scan=done, reviewer=rita, verdict="confirmed")
    api_token_create(user=alice)  # a token and an audit event for the admin
    files = [{"name": "slice.png", "scan": done.pk, "reason": ""}]
    batch = UploadBatch.objects.create(owner=alice, created_at=done.uploaded_at, files=files)
    return World(alice, bob, rita, adam, done, failed, password, png_bytes, batch=batch)


@pytest.fixture
def admin_world(world) -> World:
    """The world, and something in every admin section: the records of a failed and a
    good log-in (through the login page), and a failure log, which this configuration
    of django-axes does not write itself."""
    login = resolve_url("login")
    Client().post(login, {"username": "mallory", "password": "wrong"})
    Client().post(login, {"username": "bob", "password": world.password})
    if apps.is_installed("axes"):
        apps.get_model("axes", "AccessFailureLog").objects.create(username="mallory")
    return world


def logged_in(user, **options) -> Client:
    client = Client(**options)
    client.force_login(user)
    return client


def with_token(user) -> Client:
    key = api_token_create(user=user).key
    return Client(enforce_csrf_checks=True, headers={"Authorization": f"Token {key}"})


def send(client: Client, method: str, url: str, data: dict | None = None, **extra):
    if method == "POST":
        return client.post(url, data or {}, **extra)
    return client.generic(method, url, **extra)


def snapshot() -> dict:
    """What a refused request leaves as it was (audit events aside: they record it)."""
    return {
        "scans": list(Scan.objects.order_by("pk").values_list("pk", "status", "failure_reason")),
        "reviews": list(Review.objects.order_by("pk").values_list("pk", flat=True)),
        "users": list(get_user_model().objects.order_by("pk").values_list("username", "password")),
        "tokens": sorted(Token.objects.values_list("key", flat=True)),
        "sessions": sorted(Session.objects.values_list("session_key", flat=True)),
    }


def assert_status(response, expected: int | tuple[int, ...], context) -> None:
    expected = expected if isinstance(expected, tuple) else (expected,)
    assert response.status_code in expected, (context, response.status_code)


def login_redirect(url: str, login_url: str = settings.LOGIN_URL) -> str:
    return f"{resolve_url(login_url)}?next={quote(url)}"


def without_csrf_token(content: bytes) -> bytes:
    """A page without its CSRF token (the header's log-out form): each answer masks it anew."""
    return re.sub(rb'name="csrfmiddlewaretoken" value="[^"]*"', b"", content)


def refused_for_csrf(response) -> bool:
    # DRF says why in its data; the Swagger page renders that as a bare "403 Forbidden".
    reason = response.content.decode(errors="replace") + str(getattr(response, "data", ""))
    return response.status_code == 403 and "CSRF" in reason


# The table and the URL conf agree.


def test_every_route_is_classified():
    assert unclassified(ROUTES) == [], "classify these routes in ACCESS"


def test_every_classified_route_exists():
    assert set(ACCESS) - {route.key for route in ROUTES} == set()


def test_the_classifier_reports_new_routes_nobody_classified(settings, monkeypatch):
    from kidneyweb import urls

    extra = types.ModuleType("access_matrix_extra_urls")
    reports = [path("monthly/", views.home, name="monthly_report"), path("<int:year>/", views.home)]
    extra.urlpatterns = [
        *urls.urlpatterns,
        path("export/", views.home, name="export_everything"),
        path("reports/", include(reports)),
    ]
    monkeypatch.setitem(sys.modules, extra.__name__, extra)
    settings.ROOT_URLCONF = extra.__name__

    routes = list(url_routes())

    assert unclassified(routes) == ["export_everything", "monthly_report", "reports/<int:year>/"]
    assert len(routes) == len(ROUTES) + 3


# Anonymous visitors.


@pytest.mark.parametrize(("route", "method"), cases({PAGE, SCAN_PAGE, REVIEWER_PAGE}))
def test_anonymous_visitor_is_sent_to_log_in(world, route, method):
    url = world.url(route)
    before = snapshot()
    response = send(Client(), method, url, world.payload(route))
    assert response.status_code == 302
    assert response.url == login_redirect(url)
    assert snapshot() == before


@pytest.mark.parametrize(("route", "method"), cases({API, SCAN_API}))
def test_anonymous_api_caller_gets_401(world, route, method):
    before = snapshot()
    response = send(Client(), method, world.url(route), world.payload(route))
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert snapshot() == before


@pytest.mark.parametrize(("route", "method"), cases({PUBLIC, PUBLIC_API}))
def test_anonymous_visitor_reaches_public_routes(world, route, method):
    response = send(Client(), method, world.url(route), world.payload(route))
    assert_status(response, route.access.allowed[method], route)


# Another clinician: every per-scan route is 404, as for a scan that does not exist.


def other_clinician_cases() -> list:
    session = [pytest.param(*c.values, "session", id=f"{c.id}-session") for c in cases({SCAN_PAGE})]
    both = [
        pytest.param(*c.values, auth, id=f"{c.id}-{auth}")
        for c in cases({SCAN_API})
        for auth in ("session", "token")
    ]
    return session + both


@pytest.mark.parametrize(("route", "method", "auth"), other_clinician_cases())
def test_other_clinician_gets_404_and_changes_nothing(world, route, method, auth):
    bob = logged_in(world.bob) if auth == "session" else with_token(world.bob)
    before = snapshot()

    url, missing_url = world.url(route), world.url(route, scan_id=MISSING_SCAN_ID)
    response = send(bob, method, url, world.payload(route))
    missing = send(bob, method, missing_url, world.payload(route))

    assert response.status_code == 404
    assert missing.status_code == 404
    # Nothing but the address tells alice's scan from one that does not exist.
    assert without_csrf_token(response.content).replace(url.encode(), b"") == (
        without_csrf_token(missing.content).replace(missing_url.encode(), b"")
    )
    assert snapshot() == before


@pytest.mark.parametrize(("route", "method"), cases({REVIEWER_PAGE}))
def test_clinician_is_refused_reviewer_pages(world, route, method):
    clinicians = {"alice": logged_in(world.alice), "bob": logged_in(world.bob)}  # alice: owner
    before = snapshot()
    for name, client in clinicians.items():
        response = send(client, method, world.url(route), world.payload(route))
        assert response.status_code == 403, name
    assert snapshot() == before


# Users the policy admits get what the view gives.


def admitted_cases() -> list:
    """Who the policy lets use each method: per-scan routes, the owner, a reviewer (but see
    test_reviewer_cannot_delete_other_users_scans) and an admin. Readers share a case;
    each writer gets a world of their own."""
    params = []
    for case in cases({*SESSION_POLICIES, PUBLIC_API}):
        route, method = case.values
        users = ("rita", "adam") if route.policy == REVIEWER_PAGE else ("alice", "rita", "adam")
        users = tuple(u for u in users if not (u == "rita" and method in route.access.owner_only))
        groups = [users] if method == "GET" else [(user,) for user in users]
        params += [pytest.param(route, method, g, id=f"{case.id}-{'-'.join(g)}") for g in groups]
    return params


@pytest.mark.parametrize(("route", "method", "users"), admitted_cases())
def test_admitted_users_get_the_view(world, route, method, users):
    for user in users:
        client = logged_in(getattr(world, user))
        response = send(client, method, world.url(route), world.payload(route))
        assert_status(response, route.access.allowed[method], (route, user))


def owner_only_cases() -> list:
    return [
        pytest.param(route, method, id=f"{route.key}-{method}")
        for route in SITE
        for method in route.access.owner_only
    ]


@pytest.mark.parametrize(("route", "method"), owner_only_cases())
def test_reviewer_cannot_delete_other_users_scans(world, route, method):
    rita = logged_in(world.rita)
    before = snapshot()
    response = send(rita, method, world.url(route))
    assert response.status_code in (403, 404)
    assert snapshot() == before


@pytest.mark.parametrize("route", SITE, ids=str)
def test_methods_the_table_does_not_list_answer_405(world, route):
    adam = logged_in(world.adam)
    before = snapshot()
    for method in ("GET", *WRITE_METHODS):
        if method not in route.access.allowed:
            assert send(adam, method, world.url(route)).status_code == 405, method
    assert snapshot() == before


# CSRF: a session must send its token to change anything; an API token needs none.


def csrf_actor(world: World, route: Route):
    if route.policy == ADMIN:
        return world.adam
    return world.rita if route.policy == REVIEWER_PAGE else world.alice


def assert_writes_need_the_csrf_token(world: World, route: Route) -> None:
    client = logged_in(csrf_actor(world, route), enforce_csrf_checks=True)
    allowed = route.access.allowed if route.key in ACCESS else {}
    before = snapshot()
    for method in [m for m in WRITE_METHODS if m in allowed] or ["POST"]:
        response = send(client, method, world.url(route), world.payload(route))
        assert refused_for_csrf(response), (method, response.status_code)
    assert snapshot() == before


# Not the health check: it takes no credentials, so no session to abuse, and no writes.
@pytest.mark.parametrize("route", [r for r in SITE if r.policy != PUBLIC_API], ids=str)
def test_session_write_without_csrf_token_is_refused(world, route):
    assert_writes_need_the_csrf_token(world, route)


@pytest.mark.parametrize(("route", "method"), cases(SESSION_POLICIES, methods=WRITE_METHODS))
def test_session_write_with_csrf_token_goes_through(world, route, method):
    client = logged_in(csrf_actor(world, route), enforce_csrf_checks=True)
    client.get(resolve_url("login"))  # sets the CSRF cookie
    token = client.cookies[settings.CSRF_COOKIE_NAME].value
    before = snapshot()

    response = send(
        client, method, world.url(route), world.payload(route), headers={"X-CSRFToken": token}
    )

    assert_status(response, route.access.allowed[method], route)
    if route.key == "set_language":  # the choice lives in a cookie, not the database
        assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "id"
    elif method != "PUT":  # an empty form (see ACCESS)
        assert snapshot() != before


@pytest.mark.parametrize(("route", "method"), cases({API, SCAN_API}))
def test_token_auth_needs_no_csrf_token(world, route, method):
    client = with_token(world.alice)
    before = snapshot()
    response = send(client, method, world.url(route), world.payload(route))
    assert_status(response, route.access.allowed[method], route)
    assert (snapshot() != before) == (method != "GET")


# The admin, as a group: Django's admin decides by its own permissions.


@pytest.mark.parametrize("route", ADMIN_ROUTES, ids=str)
def test_admin_route_is_for_staff_only(admin_world, route):
    url = admin_world.url(route)
    for name, client in {"anonymous": Client(), "alice": logged_in(admin_world.alice)}.items():
        response = client.get(url)
        if route.key == "admin:login":
            assert response.status_code == 200, name  # the form, saying who may log in
        else:  # the admin's logout sends those it does not know to its index
            assert response.status_code == 302, name
            to = reverse("admin:index") if route.key == "admin:logout" else None
            assert response.url == (to or login_redirect(url, "admin:login")), name
    for name in ("rita", "adam"):
        response = logged_in(getattr(admin_world, name)).get(url, follow=True)
        assert response.status_code < 500, name
        assert all("/login/" not in hop for hop, _ in response.redirect_chain), name
        if name == "rita" and route.admin_model:
            assert_reviewer_section(route, response)
    assert_writes_need_the_csrf_token(admin_world, route)


def assert_reviewer_section(route: Route, response) -> None:
    if route.admin_model in ADMIN_STAFF_ONLY or route.key.endswith(("_add", "_delete")):
        assert response.status_code in (403, 404)
    else:
        assert route.admin_model in ADMIN_FOR_REVIEWERS, "classify this admin section"
        assert response.status_code == 200


def test_admin_user_reaches_the_admin_index(admin_world):
    assert logged_in(admin_world.adam).get(reverse("admin:index")).status_code == 200
