"""`make run` as a user runs it: one crashed process is restarted, the others keep
serving, and a scan uploaded while the worker was down is read once it is back.

Starts the real process set (supervisord: web, worker, heatmaps, beat) on a free
port with its own database, media and broker folders and `.env`, heatmaps off to
keep it light. Everything it starts runs in one new session, stopped at the end
by Ctrl-C's signal and then, for anything left, by process id.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
import requests
from factories import encode, synthetic_slice

ROOT = Path(__file__).resolve().parent.parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def session_processes(session: int) -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, command line) of every process of that session."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[3]) == session:
            found[int(entry.name)] = (int(fields[1]), cmdline)
    return found


def program_pid(session: int, program: str) -> int | None:
    """The process supervisord started for `program` (not its children)."""
    processes = session_processes(session)
    needle = {"worker": "-Q kidneyweb ", "web": "runserver"}[program]
    for pid, (parent, cmdline) in processes.items():
        if needle in cmdline and "supervisord" in processes.get(parent, (0, ""))[1]:
            return pid
    return None


def wait_for(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.5)
    pytest.fail(f"timed out waiting for {what}")


def answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=5).status_code == 200
    except requests.ConnectionError:
        return False


@pytest.fixture
def make_run(tmp_path):
    port = free_port()
    env = {
        "PATH": os.environ["PATH"].replace(f"{ROOT / '.venv' / 'bin'}:", ""),
        "HOME": os.environ.get("HOME", str(tmp_path)),
        "KIDNEYWEB_ENV_FILE": str(tmp_path / ".env"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "MEDIA_ROOT": str(tmp_path / "media"),
        "KIDNEYWEB_BROKER_DIR": str(tmp_path / "broker"),
        "KIDNEYWEB_PORT": str(port),
        "KIDNEYWEB_HEATMAPS": "0",
    }
    log = tmp_path / "make-run.log"
    with open(log, "w") as out:
        process = subprocess.Popen(
            ["make", "run"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    site = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: answers(f"{site}/accounts/login/"), 240, "the site")
        wait_for(
            lambda: "readings@" in log.read_text() and "ready" in log.read_text(), 120, "the worker"
        )
        yield site, env, process.pid, log
    finally:
        os.killpg(process.pid, signal.SIGINT)  # Ctrl-C: supervisord stops its programs
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=60)
        for pid in session_processes(process.pid):
            os.kill(pid, signal.SIGKILL)


def api_token(env: dict[str, str]) -> str:
    result = subprocess.run(
        [".venv/bin/python", "manage.py", "create_api_token", "demo"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return result.stdout.strip()


def test_a_killed_worker_is_restarted_while_the_site_keeps_serving(make_run):
    site, env, session, log = make_run
    headers = {"Authorization": f"Token {api_token(env)}"}
    worker = program_pid(session, "worker")
    web = program_pid(session, "web")
    assert worker and web

    os.kill(worker, signal.SIGKILL)
    upload = requests.post(
        f"{site}/api/v1/scans/",
        headers=headers,
        files={"files": ("slice.png", encode(synthetic_slice(1, 1, size=128)), "image/png")},
        timeout=30,
    )
    assert upload.status_code == 202, upload.text
    scan_id = upload.json()["scans"][0]["id"]
    assert answers(f"{site}/accounts/login/")

    new_worker = wait_for(
        lambda: (pid := program_pid(session, "worker")) != worker and pid, 60, "a new worker"
    )

    def status() -> str:
        return requests.get(f"{site}/api/v1/scans/{scan_id}/", headers=headers, timeout=10).json()[
            "status"
        ]

    wait_for(lambda: status() == "done", 120, "the scan uploaded during the gap")
    assert program_pid(session, "web") == web  # the site was never restarted
    text = log.read_text()
    assert "exited: worker (terminated by SIGKILL; not expected)" in text
    assert f"spawned: 'worker' with pid {new_worker}" in text
