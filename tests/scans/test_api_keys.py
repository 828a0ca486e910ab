"""API keys: never listed in clear, shown once when made in the admin, and revoked
when their owner's password changes, whichever door changed it."""

from __future__ import annotations

import pytest
from django.contrib.admin.models import LogEntry
from django.urls import reverse
from rest_framework.authtoken.models import Token

from scans.models import AuditEvent
from scans.services.accounts import api_token_create

pytestmark = pytest.mark.django_db

TOKENS = reverse("admin:authtoken_tokenproxy_changelist")


def revocations() -> list[dict]:
    return [
        e.detail
        for e in AuditEvent.objects.filter(action=AuditEvent.Action.API_TOKEN)
        if "revoked" in e.detail
    ]


def test_token_list_never_shows_a_key_in_clear(client, adam, alice):
    key = api_token_create(user=alice).key
    client.force_login(adam)
    html = client.get(TOKENS).content.decode()

    assert key not in html
    assert f"{key[:4]}…" in html


def test_key_made_in_the_admin_is_shown_once_and_audited(client, adam, alice):
    client.force_login(adam)
    response = client.post(
        reverse("admin:authtoken_tokenproxy_add"), {"user": alice.pk}, follow=True
    )

    key = Token.objects.get(user=alice).key
    assert key in response.content.decode()  # the message, once
    assert key not in client.get(TOKENS).content.decode()
    assert not LogEntry.objects.filter(object_repr__contains=key).exists()
    assert AuditEvent.objects.filter(action=AuditEvent.Action.API_TOKEN).count() == 1


def test_changing_the_password_on_the_page_revokes_the_key(client, alice, password):
    api_token_create(user=alice)
    client.force_login(alice)
    new = "a different horse battery"
    response = client.post(
        reverse("password_change"),
        {"old_password": password, "new_password1": new, "new_password2": new},
    )

    assert response.status_code == 302
    assert not Token.objects.filter(user=alice).exists()
    assert revocations() == [{"user": "alice", "revoked": "password changed"}]


def test_setting_a_password_in_the_admin_revokes_the_key(client, adam, alice):
    api_token_create(user=alice)
    client.force_login(adam)
    new = "a different horse battery"
    response = client.post(
        reverse("admin:auth_user_password_change", args=[alice.pk]),
        {"password1": new, "password2": new, "usable_password": "true"},
    )

    assert response.status_code == 302
    assert not Token.objects.filter(user=alice).exists()


def test_deleting_a_key_in_the_admin_is_audited(client, adam, alice):
    api_token_create(user=alice)
    client.force_login(adam)
    url = reverse("admin:authtoken_tokenproxy_delete", args=[alice.pk])
    client.post(url, {"post": "yes"})

    assert not Token.objects.filter(user=alice).exists()
    assert revocations() == [{"user": "alice", "revoked": "admin"}]
