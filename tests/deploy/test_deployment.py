"""There is no Docker engine here: the compose file and Dockerfile are checked as text
against the code they run (settings, commands, supervisord.conf of `make run`)."""

from __future__ import annotations

import configparser
import re
import shlex
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
APP_SERVICES = ("web", "worker", "heatmaps", "beat")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def settings_variables() -> set[str]:
    source = (ROOT / "kidneyweb" / "settings.py").read_text()
    names = set(re.findall(r'(?:getenv|envbool|envint|envlist)\(\s*"([A-Z_]+)"', source))
    return names | {"DATABASE_URL"}  # read by dj_database_url.config()


def test_compose_has_the_whole_platform(compose):
    assert set(compose["services"]) == {"web", "worker", "heatmaps", "beat", "redis", "postgres"}
    assert {"media", "models", "postgres-data"} <= set(compose["volumes"])


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_services_share_the_image_volumes_and_settings(compose, name):
    service = compose["services"][name]
    assert service["image"] == "kidneyweb:latest"
    assert service["build"] == "."
    assert "media:/data/media" in service["volumes"]
    assert "models:/data/models" in service["volumes"]
    env = service["environment"]
    assert (
        env["DATABASE_URL"].startswith("postgres://") and "@postgres:5432/" in env["DATABASE_URL"]
    )
    assert env["CELERY_BROKER_URL"] == "redis://redis:6379/0"
    assert env["MEDIA_ROOT"] == "/data/media"
    assert env["KIDNEYWEB_MODELS_DIR"] == "/data/models"
    assert set(env) <= settings_variables(), set(env) - settings_variables()
    assert service["depends_on"]["redis"] == {"condition": "service_healthy"}


def test_database_credentials_match_the_postgres_service(compose):
    url = compose["services"]["web"]["environment"]["DATABASE_URL"]
    postgres = compose["services"]["postgres"]["environment"]
    expected = (
        f"postgres://{postgres['POSTGRES_USER']}:{postgres['POSTGRES_PASSWORD']}"
        f"@postgres:5432/{postgres['POSTGRES_DB']}"
    )
    assert url == expected


def test_web_migrates_then_serves_with_gunicorn(compose):
    web = compose["services"]["web"]
    command = web["command"]
    assert command.index("migrate") < command.index("gunicorn kidneyweb.wsgi")
    assert "sync_model_versions" in command
    assert "0.0.0.0:8000" in command
    assert web["ports"] == ["8000:8000"]
    assert "/api/v1/health/" in " ".join(web["healthcheck"]["test"])
    assert web["depends_on"]["postgres"] == {"condition": "service_healthy"}


def make_run_commands() -> dict[str, list[str]]:
    make_run = configparser.ConfigParser(interpolation=None)
    make_run.read(ROOT / "supervisord.conf")
    return {
        section.removeprefix("program:"): shlex.split(make_run[section]["command"])
        for section in make_run.sections()
        if section.startswith("program:")
    }


def queues_served(argv: list[str]) -> str:
    return argv[argv.index("-Q") + 1]


def test_worker_and_beat_run_the_commands_of_make_run(compose):
    make_run = make_run_commands()
    for name in ("worker", "heatmaps", "beat"):
        compose_argv = shlex.split(compose["services"][name]["command"])
        assert compose_argv[:4] == make_run[name][:4]


def test_readings_never_queue_behind_heatmaps(compose, settings):
    """Separate queues, each served by its own worker processes, in make run and compose."""
    assert settings.CELERY_TASK_ROUTES["scans.tasks.explain_prediction"] == {
        "queue": settings.HEATMAP_QUEUE
    }
    assert "scans.tasks.classify_scan" not in settings.CELERY_TASK_ROUTES  # default queue
    services = compose["services"]
    for workers in (
        make_run_commands(),
        {name: shlex.split(services[name]["command"]) for name in ("worker", "heatmaps")},
    ):
        # The default KIDNEYWEB_TASK_QUEUE (tests may give a run a queue of its own).
        assert queues_served(workers["worker"]) == "kidneyweb"
        assert queues_served(workers["heatmaps"]) == "kidneyweb-heatmaps"
    assert f"{settings.CELERY_TASK_DEFAULT_QUEUE}-heatmaps" == settings.HEATMAP_QUEUE


@pytest.mark.parametrize("name", ["postgres", "redis", "web", "worker", "heatmaps"])
def test_long_running_services_have_health_checks(compose, name):
    assert compose["services"][name]["healthcheck"]["test"]


def test_every_management_command_named_in_compose_exists(compose):
    commands_dir = ROOT / "scans" / "management" / "commands"
    named = re.findall(r"manage\.py (\w+)", compose["services"]["web"]["command"])
    builtin = {"migrate", "collectstatic"}
    for command in named:
        assert command in builtin or (commands_dir / f"{command}.py").is_file(), command


def test_dockerfile_installs_the_pinned_requirements_and_runs_gunicorn():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "FROM python:3.11" in dockerfile
    assert "pip install -r requirements.txt" in dockerfile
    assert "collectstatic --noinput" in dockerfile
    assert "USER kidneyweb" in dockerfile
    assert '"gunicorn", "kidneyweb.wsgi"' in dockerfile
    assert re.search(r"^gunicorn==", (ROOT / "requirements.txt").read_text(), re.M)


def test_every_environment_variable_of_the_settings_is_documented():
    readme = (ROOT / "README.md").read_text()
    missing = sorted(name for name in settings_variables() if f"`{name}`" not in readme)
    assert missing == []


@pytest.mark.django_db
def test_models_and_migrations_agree():
    from django.core.management import call_command

    call_command("makemigrations", "--check", "--dry-run", verbosity=0)  # exits 1 if not
