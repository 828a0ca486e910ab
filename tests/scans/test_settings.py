from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from django.conf import settings

REPO = Path(__file__).resolve().parents[2]


def load_settings(**env: str) -> subprocess.CompletedProcess[str]:
    """Import kidneyweb.settings in a fresh interpreter with only the given Django env."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "KIDNEYWEB_"))}
    code = "import kidneyweb.settings as s; print(s.DEBUG, s.INFERENCE_RUNTIME)"
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        env={**clean, **env},
        capture_output=True,
        text=True,
        check=False,
    )


def test_settings_refuse_to_start_without_secret_key_when_debug_is_off():
    result = load_settings()
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "DJANGO_SECRET_KEY" in result.stderr


def test_settings_use_a_dev_secret_key_when_debug_is_on():
    result = load_settings(DJANGO_DEBUG="1")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "litert"]


def test_settings_accept_a_secret_key_with_debug_off():
    result = load_settings(DJANGO_SECRET_KEY="s3cret", KIDNEYWEB_INFERENCE_RUNTIME="keras")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "keras"]


def test_settings_reject_an_unknown_inference_runtime():
    result = load_settings(DJANGO_SECRET_KEY="s3cret", KIDNEYWEB_INFERENCE_RUNTIME="onnx")
    assert result.returncode != 0
    assert "KIDNEYWEB_INFERENCE_RUNTIME" in result.stderr


def test_settings_reject_a_debug_value_that_is_not_a_boolean():
    result = load_settings(DJANGO_DEBUG="yes please")
    assert result.returncode != 0
    assert "DJANGO_DEBUG" in result.stderr


def test_tests_run_with_debug_off_and_local_defaults():
    assert settings.DEBUG is False
    assert settings.MODELS_DIR == REPO / "models"
    assert settings.MAX_UPLOAD_BYTES == 20 * 1024 * 1024
    assert settings.MAX_IMAGE_PIXELS == 50_000_000
