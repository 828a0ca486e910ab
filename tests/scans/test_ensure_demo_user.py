from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth import authenticate as django_authenticate
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import RequestFactory

pytestmark = pytest.mark.django_db


def authenticate(**credentials):
    """Django's authenticate, with the log-in request django-axes needs."""
    return django_authenticate(RequestFactory().post("/accounts/login/"), **credentials)


def run(*args: str) -> str:
    out = StringIO()
    call_command("ensure_demo_user", *args, stdout=out)
    return out.getvalue()


def test_creates_the_demo_user_and_prints_how_to_log_in(monkeypatch):
    monkeypatch.delenv("KIDNEYWEB_PORT", raising=False)  # make run's default port
    output = run()
    assert authenticate(username="demo", password="kidneyweb-demo")
    assert "http://127.0.0.1:8000/accounts/login/" in output
    assert "username: demo" in output
    assert "password: kidneyweb-demo" in output


def test_prints_the_port_make_run_serves_on(monkeypatch):
    monkeypatch.setenv("KIDNEYWEB_PORT", "8123")
    assert "Log in at http://127.0.0.1:8123/accounts/login/" in run()


def test_running_twice_keeps_one_demo_user():
    run()
    run()
    assert User.objects.filter(username="demo").count() == 1


def test_running_again_keeps_the_password_and_the_open_sessions(client):
    run()
    client.force_login(User.objects.get(username="demo"))
    output = run("--password", "another-secret")
    assert "password: unchanged" in output
    assert authenticate(username="demo", password="kidneyweb-demo")
    assert not authenticate(username="demo", password="another-secret")
    assert client.get("/").status_code == 200  # still logged in


def test_resets_the_password_only_when_asked():
    run()
    output = run("--reset-password", "--password", "another-secret")
    assert "password: another-secret" in output
    assert authenticate(username="demo", password="another-secret")
    assert not authenticate(username="demo", password="kidneyweb-demo")


def test_password_comes_from_the_environment_when_not_given(monkeypatch):
    monkeypatch.setenv("KIDNEYWEB_DEMO_PASSWORD", "from-env")
    assert "password: from-env" in run()
    assert authenticate(username="demo", password="from-env")


def test_reactivates_a_deactivated_demo_user():
    run()
    User.objects.filter(username="demo").update(is_active=False)
    run()
    assert authenticate(username="demo", password="kidneyweb-demo")
