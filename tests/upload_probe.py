"""Measure one upload check in a fresh process: ``python tests/upload_probe.py FILE``.

Prints JSON: milliseconds, the growth of the process's peak resident memory (MB)
over what it held with the file read and every module loaded, and the refusal
reason if the file was refused. The budget tests (tests/security/test_upload_budget.py)
and bench/upload_budget.py run it (support.probe.probe_upload), so one measurement
never inherits another's memory.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main(path: str) -> None:
    sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kidneyweb.settings")
    os.environ.setdefault("DJANGO_SECRET_KEY", "upload-probe-only")
    os.environ.setdefault("KIDNEYWEB_ENV_FILE", os.devnull)
    import django

    django.setup()
    import numpy  # noqa: F401  (loaded before the baseline)
    import pydicom.pixels  # noqa: F401
    from django.core.files.uploadedfile import SimpleUploadedFile

    from scans.services.uploads import UploadRejected, upload_check

    upload = SimpleUploadedFile(Path(path).name, Path(path).read_bytes())
    before = _peak_mb()
    start = time.perf_counter()
    reason = None
    try:
        upload_check(upload)
    except UploadRejected as exc:
        reason = exc.reason
    elapsed = (time.perf_counter() - start) * 1000
    print(
        json.dumps({"ms": round(elapsed), "peak_mb": round(_peak_mb() - before), "reason": reason})
    )


def _peak_mb() -> float:
    """The peak resident memory of this process since it started this program.

    Not getrusage's ru_maxrss: Linux carries it over an exec from the process that
    forked, so under a large parent (pytest, the bench) growth read 0 MB whatever
    the check cost. VmHWM belongs to the program's own address space."""
    status = Path("/proc/self/status").read_text()
    return int(re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE).group(1)) / 1024


if __name__ == "__main__":
    main(sys.argv[1])
