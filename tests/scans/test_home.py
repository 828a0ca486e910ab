from __future__ import annotations

import json

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_anonymous_visitor_is_sent_to_login(client):
    response = client.get(reverse("home"))
    assert response.status_code == 302
    assert response.url == f"{reverse('login')}?next=/"


def test_home_says_the_platform_is_running(client, alice, settings, tmp_path):
    settings.MODELS_DIR = tmp_path
    client.force_login(alice)
    response = client.get(reverse("home"))
    assert response.status_code == 200
    assert b"kidneyweb is running" in response.content
    assert b"No model is active yet" in response.content


def test_home_shows_the_active_model_version(client, alice, settings, tmp_path):
    (tmp_path / "20250101-120000").mkdir()
    (tmp_path / "20250101-120000" / "metadata.json").write_text(
        json.dumps({"version": "20250101-120000", "metrics": {"validation": {"accuracy": 0.9}}})
    )
    (tmp_path / "ACTIVE").write_text("20250101-120000\n")
    settings.MODELS_DIR = tmp_path
    client.force_login(alice)
    response = client.get(reverse("home"))
    assert b"Version <strong>20250101-120000</strong>" in response.content
    assert b"90% accuracy on held-out slices" in response.content
