"""Counting is atomic across processes, also on the file cache of a one-host setup
(the API throttle let ~20 % extra through under parallel requests)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
COUNT = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, {root!r})
    import django
    django.setup()
    from django.conf import settings
    settings.CACHES = {{"default": {{
        "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
        "LOCATION": {folder!r},
    }}}}
    from scans.ratelimit import hits_count
    for _ in range({per_process}):
        hits_count(key="race", seconds=600)
    """
)


def test_parallel_processes_lose_no_count_on_the_file_cache(tmp_path):
    processes, per_process = 6, 60
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "kidneyweb.settings",
        "DJANGO_SECRET_KEY": "ratelimit-test",
        "KIDNEYWEB_ENV_FILE": os.devnull,
    }
    script = COUNT.format(root=str(ROOT), folder=str(tmp_path / "cache"), per_process=per_process)
    running = [subprocess.Popen([sys.executable, "-c", script], env=env) for _ in range(processes)]
    assert all(p.wait(timeout=120) == 0 for p in running)

    final = [sys.executable, "-c", script.replace(f"range({per_process})", "range(1)")]
    total = subprocess.run(
        [*final[:2], final[2] + "\nprint(hits_count(key='race', seconds=600))"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert int(total.stdout.split()[-1]) == processes * per_process + 2
