"""The database goes away: pages answer 503 with a page that needs no database, the API
503 JSON, and the same web server answers again once the database is back.

The fast tests point this process's connection at a server that is not there (a closed
port, or an SQLite file in a missing folder): Django gets the real connection error.
The slow one restarts a private PostgreSQL server under a running gunicorn.
"""

from __future__ import annotations

import subprocess
from contextlib import contextmanager

import pytest
import requests
from django.db import connection
from django.test import Client
from django.urls import reverse
from factories import encode, stored_files, synthetic_slice, upload_file
from support import stack

from scans.middleware import API_DETAIL
from scans.services.accounts import api_token_create

FRIENDLY = "kidneyweb is briefly unavailable"


@contextmanager
def database_down(tmp_path):
    """Point the default connection where no database answers, then back."""
    params = connection.settings_dict
    saved = dict(params)
    connection.close()
    if connection.vendor == "sqlite":
        params["NAME"] = str(tmp_path / "no-such-folder" / "db.sqlite3")
    else:
        params["HOST"], params["PORT"] = "127.0.0.1", str(stack.free_port())
    try:
        yield
    finally:
        connection.close()
        params.update(saved)


def assert_friendly_503(response) -> None:
    assert response.status_code == 503
    assert response.headers["Content-Type"].startswith("text/html")
    assert response.headers["Retry-After"] == "30"
    page = response.content.decode()
    assert FRIENDLY in page
    assert "Traceback" not in page and "OperationalError" not in page


@pytest.mark.django_db(transaction=True)
def test_pages_and_api_answer_503_while_the_database_is_down_then_recover(
    client, alice, tmp_path, settings, caplog
):
    client.force_login(alice)
    token = api_token_create(user=alice).key
    api = Client(headers={"Authorization": f"Token {token}"})
    slice_ = upload_file("a.png", encode(synthetic_slice(0, 1)))

    with database_down(tmp_path):
        history = client.get(reverse("home"))
        upload = client.post(reverse("upload"), {"files": [slice_]})
        scans = api.get("/api/v1/scans/")
        health = api.get("/api/v1/health/")

    assert_friendly_503(history)  # the session lookup of login_required failed
    assert_friendly_503(upload)
    assert stored_files(settings.MEDIA_ROOT) == []
    assert scans.status_code == 503
    assert scans.json() == {"detail": API_DETAIL}
    assert health.status_code == 503  # the health check's own answer, unchanged
    assert health.json()["database"] == {"ok": False, "detail": "The database is unreachable."}
    assert "Database unavailable, 503 for GET /" in caplog.text
    assert client.get(reverse("home")).status_code == 200  # same session, reconnected
    assert api.get("/api/v1/scans/").status_code == 200


@pytest.mark.urls("faults.urls")
@pytest.mark.django_db(transaction=True)
def test_database_error_saving_the_session_after_the_view_is_503_too(tmp_path):
    client = Client(raise_request_exception=False)

    with database_down(tmp_path):
        response = client.get("/remember/")

    assert_friendly_503(response)
    assert client.get("/remember/").status_code == 200


@pytest.mark.urls("faults.urls")
def test_other_errors_are_still_500():
    response = Client(raise_request_exception=False).get("/broken/")

    assert response.status_code == 500
    assert FRIENDLY not in response.content.decode()


def manage(env: dict, *args: str, stdin: str | None = None) -> str:
    command = [str(stack.BIN / "python"), "manage.py", *args]
    done = subprocess.run(
        command, cwd=stack.ROOT, env=env, input=stdin, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def test_postgres_restart_answers_503_then_the_same_gunicorn_recovers(
    private_postgres, tmp_path, password
):
    env = stack.stack_env(
        database_url=private_postgres.url,
        broker_url=None,
        media_root=tmp_path / "media",
        KIDNEYWEB_BROKER_DIR=str(tmp_path / "broker"),
    )
    manage(env, "migrate", "--noinput")
    manage(env, "add_user", "carol", "--role", "clinician", "--password-stdin", stdin=password)
    token = manage(env, "create_api_token", "carol")
    web = stack.web(env, tmp_path).start()
    try:
        stack.wait_until_ready(web)
        browser = stack.Browser(web.url, "carol", password)
        api = {"Authorization": f"Token {token}"}

        def page():
            return browser.session.get(f"{web.url}/", timeout=10)

        def scans():
            return requests.get(f"{web.url}/api/v1/scans/", headers=api, timeout=10)

        assert page().status_code == scans().status_code == 200
        private_postgres.stop()
        # Several of each: both gunicorn workers hold a connection that just broke.
        pages, answers = [page() for _ in range(4)], [scans() for _ in range(4)]
        health = requests.get(f"{web.url}/api/v1/health/", timeout=10)
        upload = browser.upload(("a.png", encode(synthetic_slice(0, 1))))
        private_postgres.start()
        pages_after, answers_after = [page() for _ in range(4)], [scans() for _ in range(4)]
        running = web.running
    finally:
        web.stop()

    for response in [*pages, upload]:
        assert_friendly_503(response)
    for response in answers:
        assert response.status_code == 503
        assert response.json() == {"detail": API_DETAIL}
    assert health.status_code == 503 and health.json()["database"]["ok"] is False
    assert stored_files(tmp_path / "media") == []
    assert running  # never restarted
    assert [r.status_code for r in pages_after + answers_after] == [200] * 8
    assert all("/accounts/login/" not in r.url for r in pages_after)  # still logged in
    assert web.log().count("Database unavailable, 503 for") == 9
