from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_sign_up_is_off_by_default(client):
    assert client.get(reverse("signup")).status_code == 404
    assert b"Sign up" not in client.get(reverse("login")).content


def test_sign_up_when_enabled_creates_an_account_and_logs_in(client, settings):
    settings.ALLOW_SIGNUP = True
    assert b"Sign up" in client.get(reverse("login")).content
    response = client.post(
        reverse("signup"),
        {
            "username": "carol",
            "password1": "a long Pass phrase 9",
            "password2": "a long Pass phrase 9",
        },
    )
    assert response.status_code == 302
    assert User.objects.filter(username="carol").exists()
    assert client.get(reverse("home")).status_code == 200


def test_sign_up_applies_the_password_validators(client, settings):
    settings.ALLOW_SIGNUP = True
    response = client.post(
        reverse("signup"), {"username": "dave", "password1": "123", "password2": "123"}
    )
    assert response.status_code == 200
    assert not User.objects.filter(username="dave").exists()
    assert b"too short" in response.content
