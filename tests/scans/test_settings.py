from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SETTINGS_ENV = ("DJANGO_", "KIDNEYWEB_", "DATABASE_URL", "CELERY_BROKER_URL")


def load_settings(*names: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Import kidneyweb.settings in a fresh interpreter that sees only the given Django env,
    and print the named settings, one a line."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(SETTINGS_ENV)}
    code = f"import kidneyweb.settings as s\nfor name in {names!r}: print(getattr(s, name))"
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
    result = load_settings("DEBUG", DJANGO_DEBUG="1")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["True"]


def test_settings_default_to_local_sqlite_folder_broker_and_litert():
    result = load_settings(
        "DEBUG",
        "DATABASES",
        "CELERY_BROKER_URL",
        "MODELS_DIR",
        "INFERENCE_RUNTIME",
        "MAX_UPLOAD_BYTES",
        "MAX_IMAGE_PIXELS",
        "ALLOWED_HOSTS",
        DJANGO_SECRET_KEY="s3cret",
    )
    assert result.returncode == 0, result.stderr
    debug, databases, broker, models_dir, runtime, max_bytes, max_pixels, hosts = (
        result.stdout.splitlines()
    )
    assert debug == "False"
    assert "django.db.backends.sqlite3" in databases
    assert str(REPO / "var" / "db.sqlite3") in databases
    assert broker == "filesystem://"
    assert models_dir == str(REPO / "models")
    assert runtime == "litert"
    assert max_bytes == str(20 * 1024 * 1024)
    assert max_pixels == str(4096 * 4096)
    assert hosts == "['localhost', '127.0.0.1']"


def test_settings_read_values_from_the_environment():
    result = load_settings(
        "DATABASES",
        "INFERENCE_RUNTIME",
        "ALLOWED_HOSTS",
        DJANGO_SECRET_KEY="s3cret",
        DATABASE_URL="postgres://postgres@db.example:5432/kidneyweb",
        KIDNEYWEB_INFERENCE_RUNTIME="keras",
        DJANGO_ALLOWED_HOSTS="kidney.example, www.kidney.example",
    )
    assert result.returncode == 0, result.stderr
    databases, runtime, hosts = result.stdout.splitlines()
    assert "'HOST': 'db.example'" in databases
    assert runtime == "keras"
    assert hosts == "['kidney.example', 'www.kidney.example']"


def test_settings_reject_an_unknown_inference_runtime():
    result = load_settings(DJANGO_SECRET_KEY="s3cret", KIDNEYWEB_INFERENCE_RUNTIME="onnx")
    assert result.returncode != 0
    assert "KIDNEYWEB_INFERENCE_RUNTIME" in result.stderr


def test_settings_reject_a_debug_value_that_is_not_a_boolean():
    result = load_settings(DJANGO_DEBUG="yes please")
    assert result.returncode != 0
    assert "DJANGO_DEBUG" in result.stderr


def test_cookies_are_https_only_and_hsts_is_on_when_debug_is_off():
    names = ("SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "SESSION_COOKIE_HTTPONLY")
    result = load_settings(*names, "SECURE_HSTS_SECONDS", DJANGO_SECRET_KEY="x" * 50)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["True", "True", "True", "31536000"]


def test_local_debug_serves_cookies_over_plain_http():
    result = load_settings("SESSION_COOKIE_SECURE", "SECURE_HSTS_SECONDS", DJANGO_DEBUG="1")
    assert result.stdout.splitlines() == ["False", "0"]


def test_redis_visibility_timeout_outlasts_a_task_and_the_one_before_it():
    result = load_settings(
        "CELERY_BROKER_TRANSPORT_OPTIONS",
        "CLASSIFY_TIME_LIMIT",
        DJANGO_SECRET_KEY="x",
        CELERY_BROKER_URL="redis://127.0.0.1:6379/0",
    )
    options, time_limit = result.stdout.splitlines()
    # With prefetch 1 and late acks, a message may wait behind one running task.
    assert ast.literal_eval(options)["visibility_timeout"] >= 2 * int(time_limit)


def test_media_goes_to_local_files_unless_a_bucket_is_named():
    assert "FileSystemStorage" in load_settings("STORAGES", DJANGO_DEBUG="1").stdout
    result = load_settings(
        "STORAGES",
        DJANGO_DEBUG="1",
        KIDNEYWEB_S3_BUCKET="scans",
        KIDNEYWEB_S3_ENDPOINT_URL="http://minio:9000",
    )
    default = ast.literal_eval(result.stdout)["default"]
    assert default["BACKEND"] == "storages.backends.s3.S3Storage"
    assert default["OPTIONS"]["bucket_name"] == "scans"
    assert default["OPTIONS"]["endpoint_url"] == "http://minio:9000"
    assert default["OPTIONS"]["default_acl"] == "private"


def test_importing_the_settings_creates_no_folder_and_starting_django_does(tmp_path):
    broker = tmp_path / "broker"
    result = load_settings("BROKER_DIR", DJANGO_DEBUG="1", KIDNEYWEB_BROKER_DIR=str(broker))
    assert result.returncode == 0, result.stderr
    assert not broker.exists()

    clean = {k: v for k, v in os.environ.items() if not k.startswith(SETTINGS_ENV)}
    env = {**clean, "DJANGO_DEBUG": "1", "KIDNEYWEB_BROKER_DIR": str(broker)}
    code = "import os, django\nos.environ['DJANGO_SETTINGS_MODULE'] = 'kidneyweb.settings'\n"
    code += "django.setup()"
    started = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True
    )
    assert started.returncode == 0, started.stderr
    assert (broker / "queue").is_dir() and (broker / "control").is_dir()
