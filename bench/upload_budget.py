"""The upload budget (README "Upload budget"), measured; prints one JSON object and exits
1 when a figure is over its budget.

    .venv/bin/python bench/upload_budget.py [--runs 3] [--output FILE]

Files: each is checked ``--runs`` times, every time in a fresh process
(tests/upload_probe.py), which reports the time of the check and the growth of its peak
resident memory: one file of each kind at the 4,096 x 4,096 pixel limit, the deflated
DICOM bombs and a PNG one pixel past the limit. The baseline of the run is a plain
512 x 512 slice, checked the same way first. Per file: the median time, the
largest memory growth and ``x_baseline``, the median time over the baseline's.

Request: the worst upload, four files at the limit (the most one upload may hold) and
46 bombs through the upload page (Django's test client in this process, a new SQLite
database, media and broker folder in a temporary folder, no worker), timed from the
POST to its answer. Its baseline is an upload of the plain slice, sent twice, the
second one timed (the first imports the views).

The budgets are the README's, absolute: a file at the limit 3 s and 450 MB, a bomb
0.5 s and 100 MB, a header past the limit 50 ms and 5 MB, the worst request 12 s.
``x_baseline`` tells a machine that is slow today (the baseline is slow too) from a
check that became slower (the ratio grew). Whether each file was read or refused as
it must be is the tests' job (tests/security/test_upload_budget.py); the bench reports
it too (``as_expected``), since a file refused early would measure nothing.

Run it when nothing else loads the machine (no training): it competes for the cores.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The repository (scans, kidneyweb) and tests/ (support: the corpus, the probe).
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from support.corpus import (  # noqa: E402
    LIMIT_SIDE,
    Case,
    at_the_limit,
    deflate_bombs,
    plain_slice,
    png_16bit,
)
from support.machine import machine  # noqa: E402
from support.probe import probe_upload  # noqa: E402

# (milliseconds, MB of peak memory growth) per file, seconds per request: the README's.
FILE_BUDGET = {"at the limit": (3_000, 450), "bomb": (500, 100), "past the limit": (50, 5)}
REQUEST_BUDGET_S = 12
BOMBS_PER_REQUEST = 46


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="fresh processes per file (3)")
    parser.add_argument("--output", type=Path, help="also write the JSON to this file")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="kidneyweb-upload-budget-") as state:
        files = measure_files(Path(state), args.runs)
        request = measure_request(Path(state))
    figures = {
        "files": files,
        "request": request,
        "within_budget": files["baseline"]["as_expected"]
        and all(f["within_budget"] and f["as_expected"] for f in files["cases"])
        and request["within_budget"]
        and request["as_expected"],
        "runs": args.runs,
        "load_average": [round(load, 2) for load in os.getloadavg()],
        "machine": machine(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    text = json.dumps(figures, indent=2)
    print(text)
    if args.output:
        args.output.write_text(text + "\n")
    sys.exit(0 if figures["within_budget"] else 1)


def measure_files(folder: Path, runs: int) -> dict:
    cases = [("at the limit", case) for case in at_the_limit()]
    cases += [("bomb", case) for case in deflate_bombs()]
    cases.append(("past the limit", Case("past.png", png_16bit(LIMIT_SIDE, LIMIT_SIDE + 1), "")))
    baseline = probe_runs(folder, plain_slice(), runs)
    results = []
    for kind, case in cases:
        result = probe_runs(folder, case, runs)
        budget_ms, budget_mb = FILE_BUDGET[kind]
        accepted = result.pop("reason") is None
        results.append(
            {
                "name": case.name,
                "kind": kind,
                **result,
                "x_baseline": round(result["ms"] / max(baseline["ms"], 1), 1),
                "budget_ms": budget_ms,
                "budget_mb": budget_mb,
                "within_budget": result["ms"] <= budget_ms and result["peak_mb"] <= budget_mb,
                "as_expected": accepted == (kind == "at the limit"),
            }
        )
    baseline["as_expected"] = baseline.pop("reason") is None
    return {"baseline": {"name": plain_slice().name, **baseline}, "cases": results}


def probe_runs(folder: Path, case: Case, runs: int) -> dict:
    """Median time and largest memory growth over ``runs`` fresh processes."""
    path = folder / case.name
    path.write_bytes(case.data)
    probes = [probe_upload(path) for _ in range(runs)]
    return {
        "ms": round(statistics.median(p["ms"] for p in probes)),
        "ms_each": [p["ms"] for p in probes],
        "peak_mb": max(p["peak_mb"] for p in probes),
        "reason": probes[-1]["reason"],
    }


def measure_request(folder: Path) -> dict:
    client, uploads = django_client(folder)
    from django.core.files.uploadedfile import SimpleUploadedFile

    from scans.models import Scan

    plain = plain_slice()
    for _ in range(2):  # the first request imports the views: time the second
        baseline_s, _ = timed_upload(client, uploads, [SimpleUploadedFile(plain.name, plain.data)])
    before = Scan.objects.count()
    bombs = deflate_bombs()
    files = [SimpleUploadedFile(case.name, case.data) for case in at_the_limit()]
    for i in range(BOMBS_PER_REQUEST):
        files.append(SimpleUploadedFile(f"bomb-{i}.dcm", bombs[i % len(bombs)].data))
    seconds, status = timed_upload(client, uploads, files)
    kept = Scan.objects.count() - before
    return {
        "files": len(files),
        "kept": kept,
        "s": round(seconds, 2),
        "baseline_s": round(baseline_s, 3),
        "x_baseline": round(seconds / baseline_s, 1),
        "budget_s": REQUEST_BUDGET_S,
        "within_budget": seconds <= REQUEST_BUDGET_S,
        "as_expected": status == 302 and kept == len(at_the_limit()),
    }


def timed_upload(client, url: str, files: list) -> tuple[float, int]:
    started = time.perf_counter()
    response = client.post(url, {"files": files})
    return time.perf_counter() - started, response.status_code


def django_client(folder: Path):
    """A logged-in test client on a new database, media and broker folder under
    ``folder``; tasks go to that folder broker, where no worker reads them."""
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "kidneyweb.settings",
            "KIDNEYWEB_ENV_FILE": os.devnull,  # not the checkout's .env and database
            "DATABASE_URL": f"sqlite:///{folder / 'db.sqlite3'}",
            "MEDIA_ROOT": str(folder / "media"),
            "CELERY_BROKER_URL": "filesystem://",
            "KIDNEYWEB_BROKER_DIR": str(folder / "broker"),
            "DJANGO_SSL_REDIRECT": "0",
        }
    )
    os.environ.setdefault("DJANGO_SECRET_KEY", "upload-budget-bench-only")
    import django

    django.setup()
    from django.core.management import call_command
    from django.test import Client
    from django.test.utils import setup_test_environment
    from django.urls import reverse

    from scans.services.accounts import user_create

    setup_test_environment()  # lets the test client's host in
    call_command("migrate", verbosity=0)
    user = user_create(username="budget", role="clinician")  # no password: force_login
    client = Client()
    client.force_login(user)
    return client, reverse("upload")


if __name__ == "__main__":
    main()
