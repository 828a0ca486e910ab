"""Errors leave a trace: one line per event on stderr, with the request id that the
response also carries (X-Request-ID), in web, worker and beat."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.urls import reverse

from scans import request_id

ROOT = Path(__file__).resolve().parents[2]

PROVOKE_500 = textwrap.dedent(
    """
    import sys
    sys.path[:0] = [{root!r}, {tests!r}]
    import django
    django.setup()
    from django.conf import settings
    from django.test import Client
    settings.ALLOWED_HOSTS = ["testserver"]
    settings.ROOT_URLCONF = "faults.urls"
    client = Client(raise_request_exception=False)
    response = client.get("/broken/")
    missing = client.get("/no-such-page/")
    print(response.status_code, response["X-Request-ID"], missing["X-Request-ID"])
    """
)


def test_a_500_and_a_404_leave_their_lines_with_their_request_ids(tmp_path):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "kidneyweb.settings",
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": "logging-test",
        "KIDNEYWEB_ENV_FILE": os.devnull,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
    }
    script = PROVOKE_500.format(root=str(ROOT), tests=str(ROOT / "tests"))
    run = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60
    )

    status, rid, missing = run.stdout.split()
    assert status == "500"
    assert any(
        f"[{missing}] django.request: Not Found: /no-such-page/" in line
        for line in run.stderr.splitlines()
    )
    lines = [line for line in run.stderr.splitlines() if f"[{rid}]" in line]
    error = next(line for line in lines if " ERROR " in line)
    assert "django.request: Internal Server Error: /broken/" in error
    assert "Traceback (most recent call last):" in error
    assert "RuntimeError: an ordinary bug" in error  # the whole traceback, same line


@pytest.mark.django_db
def test_every_response_carries_a_request_id(client):
    first = client.get(reverse("login"))["X-Request-ID"]
    second = client.get(reverse("login"))["X-Request-ID"]
    assert first and second and first != second


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("sent", "kept"),
    [("proxy-1a2b.3", True), ("a\nfake log line", False), ("x" * 65, False), ("<b>", False)],
)
def test_a_proxys_request_id_is_kept_only_when_sane(client, sent, kept):
    answered = client.get(reverse("login"), headers={"X-Request-ID": sent})["X-Request-ID"]
    assert (answered == sent) is kept


def test_a_task_logs_under_the_id_of_the_request_that_sent_it():
    headers = {}
    token = request_id.request_id_set("upload-42")
    try:
        request_id._send_request_id(headers=headers)
    finally:
        request_id.request_id_reset(token)
    assert headers == {"request_id": "upload-42"}

    before = request_id.request_id_get()
    task = SimpleNamespace(request=SimpleNamespace(request_id="upload-42"))
    request_id._task_starts(task_id="task-1", task=task)
    assert request_id.request_id_get() == "upload-42"
    request_id._task_ends(task_id="task-1")
    assert request_id.request_id_get() == before


def test_a_task_sent_by_beat_gets_an_id_of_its_own():
    headers = {}
    token = request_id.request_id_set(request_id.NONE)  # no request around: beat
    try:
        request_id._send_request_id(headers=headers)
    finally:
        request_id.request_id_reset(token)
    assert headers["request_id"] not in ("", request_id.NONE)


def test_a_real_worker_reads_the_request_id_from_the_tasks_headers():
    """Published through a broker and run by a worker thread (Celery's test worker on
    its in-memory transport): the signal handlers carry the id across."""
    from celery import Celery, _state
    from celery.contrib.testing.worker import start_worker

    # start_worker makes its app the process's current and default one, which shared
    # tasks (scans.tasks) are sent through: give both back, or later tests' tasks go to
    # this app's stopped in-memory broker and wait there for ever.
    current, default = _state.get_current_app(), _state.default_app
    app = Celery("request-id-test", broker="memory://", backend="cache+memory://")
    app.conf.worker_hijack_root_logger = False

    @app.task(name="request_id_seen")
    def seen() -> str:
        return request_id.request_id_get()

    try:
        with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
            token = request_id.request_id_set("upload-77")
            try:
                result = seen.delay()
            finally:
                request_id.request_id_reset(token)
            assert result.get(timeout=10) == "upload-77"
    finally:
        current.set_current()
        _state.set_default_app(default)
