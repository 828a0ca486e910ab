"""Run tests/upload_probe.py on one file in a fresh process, so one measurement never
inherits another's memory: the budget tests and bench/upload_budget.py both do."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

PROBE = Path(__file__).resolve().parent.parent / "upload_probe.py"


def probe_upload(path: Path, *, timeout: float = 600) -> dict:
    """``{"ms", "peak_mb", "reason"}`` of checking the file at ``path`` as an upload
    (``reason`` None when it is accepted). ``timeout`` only stops a hung probe."""
    run = subprocess.run(
        [sys.executable, str(PROBE), str(path)], capture_output=True, text=True, timeout=timeout
    )
    if run.returncode != 0:
        raise RuntimeError(f"{PROBE.name} {path.name} failed:\n{run.stderr[-3000:]}")
    return json.loads(run.stdout.strip().splitlines()[-1])
