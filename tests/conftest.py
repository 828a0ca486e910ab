from __future__ import annotations

import os

import django
import pytest
from django.conf import settings

# Settings refuse to start without a secret key unless DJANGO_DEBUG=1, and tests run with
# DEBUG off, as in production. pytest-django would import settings before this file loads
# if DJANGO_SETTINGS_MODULE were in pyproject.toml, so both are set here instead.
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kidneyweb.settings")
os.environ.setdefault("DJANGO_SECRET_KEY", "tests-only-secret-key")


def pytest_configure() -> None:
    django.setup()
    # The default hasher is slow on purpose; tests only need logins to work.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def password() -> str:
    return "correct horse battery staple"


@pytest.fixture
def alice(django_user_model, password):
    return django_user_model.objects.create_user("alice", "alice@example.org", password)


@pytest.fixture
def bob(django_user_model, password):
    return django_user_model.objects.create_user("bob", "bob@example.org", password)
