"""The password page: wrong current passwords are audited and, like log-ins, limited."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.urls import reverse

from scans.models import AuditEvent

pytestmark = pytest.mark.django_db

NEW = "a different horse battery"


@pytest.fixture(autouse=True)
def fresh_counts():
    cache.clear()
    yield
    cache.clear()


def change(client, old: str):
    data = {"old_password": old, "new_password1": NEW, "new_password2": NEW}
    return client.post(reverse("password_change"), data)


def events(action) -> int:
    return AuditEvent.objects.filter(action=action).count()


def test_wrong_current_passwords_are_audited_then_blocked(client, alice, password, settings):
    settings.AXES_FAILURE_LIMIT = 3
    client.force_login(alice)

    answers = [change(client, f"guess-{i}").status_code for i in range(3)]
    assert answers == [200, 200, 429]
    assert events(AuditEvent.Action.PASSWORD_CHANGE_FAILED) == 2
    assert events(AuditEvent.Action.PASSWORD_CHANGE_BLOCKED) == 1

    blocked = change(client, password)  # even the right one, until the cool-off ends
    assert blocked.status_code == 429
    assert "blocked for 15 minutes" in blocked.content.decode()
    alice.refresh_from_db()
    assert alice.check_password(password)


def test_a_right_password_clears_the_count(client, alice, password, settings):
    settings.AXES_FAILURE_LIMIT = 2
    client.force_login(alice)
    assert change(client, "guess").status_code == 200
    assert change(client, password).status_code == 302  # still logged in after it

    assert change(client, "guess").status_code == 200  # one failure again, not two
