"""Production settings pass Django's deployment checks; secrets come only from the
environment; passwords go through Django's validators."""

from __future__ import annotations

import ast
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from django.urls import reverse

ROOT = Path(__file__).resolve().parents[2]
SECRET_NAMES = re.compile(r"SECRET|PASSWORD|TOKEN|_KEY\b|ACCESS_KEY", re.IGNORECASE)


def check_deploy(tmp_path, **env: str) -> subprocess.CompletedProcess[str]:
    """`manage.py check --deploy` as a production host runs it: only its own variables."""
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "KIDNEYWEB_", "DATABASE_URL", "CELERY_"))
    }
    production = {
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_ALLOWED_HOSTS": "kidney.example",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'check.sqlite3'}",
    }
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env={**clean, **production, **env},
        capture_output=True,
        text=True,
        check=False,
    )


def test_check_deploy_is_clean_under_production_settings(tmp_path):
    result = check_deploy(tmp_path)
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_check_deploy_catches_a_deployment_over_plain_http(tmp_path):
    result = check_deploy(tmp_path, DJANGO_SECURE_COOKIES="0", DJANGO_HSTS_SECONDS="0")
    assert result.returncode != 0
    for check in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert check in result.stderr


def test_check_deploy_refuses_a_weak_secret_key(tmp_path):
    result = check_deploy(tmp_path, DJANGO_SECRET_KEY="short")
    assert result.returncode != 0
    assert "security.W009" in result.stderr


def test_settings_assign_no_secret_literal():
    tree = ast.parse((ROOT / "kidneyweb" / "settings.py").read_text())
    literal = [
        target.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
        for target in node.targets
        if isinstance(target, ast.Name) and SECRET_NAMES.search(target.id)
    ]
    assert literal == []


def _compose_values(node, path=""):
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _compose_values(value, f"{path}.{key}")
    elif isinstance(node, list):
        for value in node:
            yield from _compose_values(value, path)
    else:
        yield path, str(node)


def test_compose_takes_every_secret_from_the_environment():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    required = re.compile(r"^\$\{[A-Z_]+:\?[^}]+\}$")
    for path, value in _compose_values(compose):
        name = path.rsplit(".", 1)[-1]
        if SECRET_NAMES.search(name):
            assert required.match(value), f"{path} = {value!r}"
        for password in re.findall(r"://[^:/@\s]+:([^@\s]+)@", value):
            assert required.match(password), f"{path} holds a password: {value!r}"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("new_password", "message"),
    [
        ("Xy7!q", "too short"),
        ("password123", "too common"),
        ("6402918375", "entirely numeric"),
        ("alice@example.org", "too similar"),
    ],
)
def test_weak_passwords_are_refused(client, alice, password, new_password, message):
    client.force_login(alice)
    response = client.post(
        reverse("password_change"),
        {"old_password": password, "new_password1": new_password, "new_password2": new_password},
    )
    assert response.status_code == 200
    assert message in response.content.decode()
    alice.refresh_from_db()
    assert alice.check_password(password)
