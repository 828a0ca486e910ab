"""The `.env` that `make run` writes once, and how the entry points read it."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent


def write_env_file(path: Path) -> None:
    """The rule `make run` uses (KIDNEYWEB_ENV_FILE names the file)."""
    subprocess.run(["make", "-s", str(path), f"KIDNEYWEB_ENV_FILE={path}"], cwd=ROOT, check=True)


def django_debug(env_file: Path, **environment: str) -> subprocess.CompletedProcess:
    """settings.DEBUG as `manage.py` in a new shell sees it."""
    env = {"PATH": os.environ["PATH"], "KIDNEYWEB_ENV_FILE": str(env_file), **environment}
    return subprocess.run(
        [
            ".venv/bin/python",
            "manage.py",
            "shell",
            "-c",
            "from django.conf import settings; print(settings.DEBUG)",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_make_run_writes_local_settings_once_and_never_overwrites_them(tmp_path):
    env_file = tmp_path / ".env"
    write_env_file(env_file)
    settings = dict(line.split("=", 1) for line in env_file.read_text().splitlines() if "=" in line)
    assert settings["DJANGO_DEBUG"] == "1"
    assert len(settings["DJANGO_SECRET_KEY"]) >= 50
    assert settings["DATABASE_URL"] == f"sqlite:///{ROOT}/var/db.sqlite3"
    assert settings["CELERY_BROKER_URL"] == "filesystem://"

    env_file.write_text(env_file.read_text() + "# edited by hand\n")
    edited = env_file.read_text()
    write_env_file(env_file)
    assert env_file.read_text() == edited

    other = tmp_path / "other.env"
    write_env_file(other)
    assert other.read_text() != edited  # a new secret key for every checkout


def test_manage_py_reads_the_env_file_and_the_environment_wins(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("DJANGO_DEBUG=1\n")
    assert django_debug(env_file).stdout.split()[-1] == "True"

    refused = django_debug(env_file, DJANGO_DEBUG="0")
    assert refused.returncode != 0
    assert "Set DJANGO_SECRET_KEY" in refused.stderr


def test_without_an_env_file_the_settings_need_a_secret_key(tmp_path):
    refused = django_debug(tmp_path / "missing.env")
    assert "Set DJANGO_SECRET_KEY" in refused.stderr
