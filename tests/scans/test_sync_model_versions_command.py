from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from scans.models import ModelVersion

pytestmark = pytest.mark.django_db


def test_command_mirrors_the_shipped_versions_and_names_the_active_one(settings):
    out = io.StringIO()
    call_command("sync_model_versions", stdout=out)
    active = (settings.MODELS_DIR / "ACTIVE").read_text().strip()
    assert out.getvalue() == f"Active model version: {active}\n"
    assert ModelVersion.objects.filter(id=active).exists()


def test_command_says_when_no_version_is_active(settings, tmp_path):
    settings.MODELS_DIR = tmp_path
    out = io.StringIO()
    call_command("sync_model_versions", stdout=out)
    assert "No model version is active" in out.getvalue()
