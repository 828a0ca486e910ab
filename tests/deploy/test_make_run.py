"""`make run` as a user runs it: one crashed process is restarted, the others keep
serving, and a scan uploaded while the worker was down is read once it is back.

support.stack.make_run starts the real process set (supervisord: web, worker,
heatmaps, beat) on a free port with its own database, media, broker folder and
`.env`, heatmaps off to keep it light, in a new session it stops at the end.
"""

from __future__ import annotations

import os
import signal

import requests
from factories import encode, synthetic_slice
from support import stack


def test_a_killed_worker_is_restarted_while_the_site_keeps_serving(tmp_path):
    with stack.make_run(tmp_path, KIDNEYWEB_HEATMAPS="0") as run:
        headers = {"Authorization": f"Token {run.api_token()}"}
        worker, web = run.program_pid("worker"), run.program_pid("web")
        assert worker and web

        os.kill(worker, signal.SIGKILL)
        upload = requests.post(
            f"{run.url}/api/v1/scans/",
            headers=headers,
            files={"files": ("slice.png", encode(synthetic_slice(1, 1, size=128)), "image/png")},
            timeout=30,
        )
        assert upload.status_code == 202, upload.text
        scan_url = f"{run.url}/api/v1/scans/{upload.json()['scans'][0]['id']}/"
        assert run.answers()

        new_worker = stack.wait_for(
            lambda: (pid := run.program_pid("worker")) != worker and pid,
            timeout=60,
            what="a new worker",
        )
        stack.wait_for(
            lambda: requests.get(scan_url, headers=headers, timeout=10).json()["status"] == "done",
            timeout=120,
            what="the scan uploaded while the worker was down",
            interval=0.5,
        )
        assert run.program_pid("web") == web  # the site was never restarted
        log = run.log.read_text()
        assert "exited: worker (terminated by SIGKILL; not expected)" in log
        assert f"spawned: 'worker' with pid {new_worker}" in log
