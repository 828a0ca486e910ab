from __future__ import annotations

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from scans.services.accounts import api_token_create


@pytest.fixture(autouse=True)
def fresh_throttle_counts():
    """Throttling counts requests in the cache, which outlives a test's database."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def api():
    """An API client with no credentials."""
    return APIClient()


@pytest.fixture
def api_as():
    """An API client that sends ``user``'s token, as an integration would."""

    def make(user) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {api_token_create(user=user).key}")
        return client

    return make


@pytest.fixture
def unreachable_broker(monkeypatch):
    """Celery points at an address where nothing listens, then back where it was."""
    from kidneyweb.celery import app

    url = "redis://:hunter2@127.0.0.1:9/0"  # nothing listens on port 9
    # app.conf.broker_url reads CELERY_BROKER_URL first, so reading it back after the
    # setenv would save (and "restore") this very URL; set and restore the stored item.
    monkeypatch.setitem(app.conf, "broker_url", url)
    # The embedded default names its transport class (settings.CELERY_BROKER_TRANSPORT),
    # which would win over the URL's scheme: let the URL choose it.
    monkeypatch.setitem(app.conf, "broker_transport", None)
    monkeypatch.setenv("CELERY_BROKER_URL", url)  # Celery reads it before its settings
