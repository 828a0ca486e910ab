"""Brute force: django-axes locks a user name out from one address after repeated
failures; the lock-out is audited and lifted by time or by an administrator."""

from __future__ import annotations

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from axes.utils import reset
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from scans.models import AuditEvent

pytestmark = pytest.mark.django_db

LIMIT = 5


@pytest.fixture(autouse=True)
def failure_limit(settings):
    settings.AXES_FAILURE_LIMIT = LIMIT


def log_in(client: Client, username: str, password: str, *, url: str | None = None):
    return client.post(url or reverse("login"), {"username": username, "password": password})


def fail(client: Client, username: str, times: int):
    return [log_in(client, username, "wrong password").status_code for _ in range(times)]


def test_failures_below_the_limit_only_show_the_form_again(client, alice, password):
    assert fail(client, "alice", LIMIT - 1) == [200] * (LIMIT - 1)
    response = log_in(client, "alice", password)
    assert response.status_code == 302  # the right password still works
    assert not AccessAttempt.objects.exists()  # and a success forgets the failures


def test_the_limit_locks_the_name_out_even_with_the_right_password(client, alice, password):
    statuses = fail(client, "alice", LIMIT)
    response = log_in(client, "alice", password)

    assert statuses[-1] == 429
    assert response.status_code == 429
    assert b"Log-in blocked for now" in response.content
    assert b"15 minutes" in response.content
    assert "_auth_user_id" not in client.session


def test_lockout_is_audited(client, alice):
    fail(client, "alice", LIMIT + 1)

    events = AuditEvent.objects.filter(action=AuditEvent.Action.LOCKED_OUT)
    assert events.exists()
    assert {e.actor_name for e in events} == {"alice"}
    assert {e.ip for e in events} == {"127.0.0.1"}
    failed = AuditEvent.objects.filter(action=AuditEvent.Action.LOGIN_FAILED).count()
    assert failed == LIMIT + 1


def test_lockout_is_per_name_and_address(client, alice, bob, password):
    fail(client, "alice", LIMIT)

    assert log_in(client, "bob", password).status_code == 302  # another name, same address
    elsewhere = Client(REMOTE_ADDR="10.0.0.7")
    assert log_in(elsewhere, "alice", password).status_code == 302  # same name, elsewhere


def test_admin_log_in_is_locked_out_too(client, adam, password):
    url = reverse("admin:login")
    for _ in range(LIMIT):
        log_in(client, "adam", "wrong password", url=url)
    assert log_in(client, "adam", password, url=url).status_code == 429


def test_lockout_ends_after_the_cool_off(client, alice, password):
    fail(client, "alice", LIMIT)
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=16))

    assert log_in(client, "alice", password).status_code == 302


def test_an_administrator_can_lift_a_lockout(client, alice, password):
    fail(client, "alice", LIMIT)
    reset(username="alice")  # what `manage.py axes_reset_username alice` does

    assert log_in(client, "alice", password).status_code == 302
