from __future__ import annotations

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_login_page_has_labelled_fields(client):
    response = client.get(reverse("login"))
    assert response.status_code == 200
    assert b'<label for="id_username">' in response.content
    assert b'<label for="id_password">' in response.content


def test_user_logs_in_and_lands_on_home(client, alice, password):
    response = client.post(
        reverse("login"), {"username": "alice", "password": password}, follow=True
    )
    assert response.redirect_chain == [("/", 302)]
    assert b"<h1>My scans" in response.content


def test_wrong_password_does_not_log_in(client, alice):
    response = client.post(reverse("login"), {"username": "alice", "password": "nope"})
    assert response.status_code == 200
    assert b'role="alert"' in response.content
    assert "_auth_user_id" not in client.session


def test_login_returns_to_the_page_asked_for(client, alice, password):
    response = client.post(
        f"{reverse('login')}?next=/", {"username": "alice", "password": password, "next": "/"}
    )
    assert response.url == "/"


def test_user_logs_out_and_home_needs_login_again(client, alice):
    client.force_login(alice)
    response = client.post(reverse("logout"))
    assert response.url == reverse("login")
    assert client.get(reverse("home")).status_code == 302


def test_user_changes_password_and_logs_in_with_the_new_one(client, alice, password):
    client.force_login(alice)
    response = client.post(
        reverse("password_change"),
        {
            "old_password": password,
            "new_password1": "a much longer new secret",
            "new_password2": "a much longer new secret",
        },
    )
    assert response.url == reverse("password_change_done")
    client.logout()
    assert logs_in(client, "alice", "a much longer new secret")
    client.logout()
    assert not logs_in(client, "alice", password)


def test_password_change_needs_login(client):
    response = client.get(reverse("password_change"))
    assert response.url.startswith(reverse("login"))


def test_other_users_are_unaffected_by_a_password_change(client, alice, bob, password):
    client.force_login(alice)
    client.post(
        reverse("password_change"),
        {
            "old_password": password,
            "new_password1": "a much longer new secret",
            "new_password2": "a much longer new secret",
        },
    )
    client.logout()
    assert logs_in(client, "bob", password)


def logs_in(client, username: str, password: str) -> bool:
    """Through the log-in page, as a person does (and as django-axes counts)."""
    response = client.post(reverse("login"), {"username": username, "password": password})
    return response.status_code == 302 and "_auth_user_id" in client.session
