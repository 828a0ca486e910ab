from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from scans.models import AuditEvent

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = io.StringIO()
    call_command("create_api_token", *args, stdout=out)
    return out.getvalue()


def test_prints_only_the_new_key(alice):
    output = run("alice")
    assert output == f"{Token.objects.get(user=alice).key}\n"
    assert len(output.strip()) == 40
    event = AuditEvent.objects.get(action="api_token")
    assert event.detail == {"user": "alice", "rotated": False}


def test_a_second_run_prints_the_same_key(alice):
    assert run("alice") == run("alice")
    assert AuditEvent.objects.filter(action="api_token").count() == 1


def test_rotate_replaces_the_key_and_the_old_one_stops_working(alice):
    old = run("alice").strip()
    new = run("alice", "--rotate").strip()
    assert new != old
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {old}")
    assert api.get("/api/v1/scans/").status_code == 401
    api.credentials(HTTP_AUTHORIZATION=f"Token {new}")
    assert api.get("/api/v1/scans/").status_code == 200


def test_unknown_user_is_one_clear_error():
    with pytest.raises(CommandError, match="No user 'ghost'"):
        run("ghost")


def test_inactive_user_gets_no_key(alice):
    alice.is_active = False
    alice.save()
    with pytest.raises(CommandError, match="inactive"):
        run("alice")
    assert not Token.objects.exists()
