"""End-to-end latency and throughput of the real stack on loopback; prints one JSON object.

    .venv/bin/python bench/e2e.py [--database-url URL] [--burst 500] [--clients 8]

Starts a private redis-server, gunicorn and one Celery worker with its default
concurrency, logs in over HTTP and measures:

- ``p50_ms`` / ``p95_ms``: from the upload POST to the status endpoint saying
  ``done``, one upload at a time, the stack otherwise idle;
- a burst of ``--burst`` uploads sent by ``--clients`` concurrent clients:
  ``throughput_scans_per_s`` (first POST until every accepted scan is done),
  ``lost`` (accepted but not done within the timeout) and ``errors``
  (responses other than the redirect to the new scan).

The database is ``--database-url`` (default ``$DATABASE_URL``, else a new SQLite
file); it is migrated and a bench user is created in it.

``--make-run`` measures instead what a user of ``make run`` sees (SQLite, the
folder broker, supervisord's web, readings worker, heatmap worker and beat),
once with heatmaps on and once off, each from a cold start in a new state folder:

- ``startup_s``: from ``make run`` (already installed) until the site answers and
  both workers are ready;
- ``first_reading_s``: the first upload after that, until it is done (target <= 3 s);
- ``upload_50``: one API upload of 50 files; per file, from the POST until it is
  done: ``p50_s``, ``p95_s`` (target <= 2 s with heatmaps on), ``max_s``.

Run it when nothing else loads the machine (no training): it competes for the cores.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import requests

# The repository (mlcore, kidneyweb) and tests/ (support: the stack, the corpus).
sys.path[:0] = [str(Path(__file__).resolve().parent.parent / d) for d in ("", "tests")]

from support import stack  # noqa: E402

USERNAME, PASSWORD = "bench", "bench-password-e2e"


def main() -> None:
    parser = stack.bench_parser(__doc__, timeout=300)
    parser.add_argument("--singles", type=int, default=40)
    parser.add_argument("--burst", type=int, default=500)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument(
        "--no-heatmaps", action="store_true", help="run the stack with KIDNEYWEB_HEATMAPS=0"
    )
    parser.add_argument(
        "--make-run", action="store_true", help="measure make run, heatmaps on and off"
    )
    args = parser.parse_args()
    images = stack.load_images(args.image)
    if args.make_run:
        print(json.dumps(measure_make_run(images, timeout=args.timeout), indent=2))
        return

    with stack.bench_stack(
        "e2e",
        database_url=args.database_url,
        web_workers=args.web_workers,
        username=USERNAME,
        password=PASSWORD,
        KIDNEYWEB_HEATMAPS="0" if args.no_heatmaps else "1",
    ) as bench:
        result = measure(bench.web.url, images, args, bench.pids())
    result.update(
        heatmaps=not args.no_heatmaps,
        database=bench.database_url.split(":", 1)[0],
        broker="redis",
        web_workers=args.web_workers,
        machine={"cpus": os.cpu_count(), "python": platform.python_version()},
    )
    print(json.dumps(result, indent=2))


def measure(base_url: str, images: list[bytes], args, processes: dict[str, int]) -> dict:
    browser = stack.Browser(base_url, USERNAME, PASSWORD)
    for data in images[:5]:  # warm-up: first requests import and connect lazily
        wait_done(browser, stack.scan_id_from(browser.upload(("warm.jpg", data))), 60)

    latencies = []
    for i in range(args.singles):
        data = images[i % len(images)]
        started = time.perf_counter()
        scan_id = stack.scan_id_from(browser.upload((f"single-{i}.jpg", data)))
        wait_done(browser, scan_id, 60)
        latencies.append((time.perf_counter() - started) * 1000)
        time.sleep(0.05)  # at rest between uploads

    def cpu() -> dict[str, float]:
        return stack.cpu_seconds(processes, {"postgres": "postgres"}, {"clients": os.getpid()})

    before = cpu()
    burst = run_burst(base_url, images, args)
    after = cpu()
    # Where the two cores went during the burst, per part (CPU seconds per scan done).
    burst["cpu_ms_per_scan"] = {
        name: round(1000 * (after[name] - before[name]) / max(burst["accepted"], 1), 2)
        for name in after
    }
    return {
        "p50_ms": round(statistics.median(latencies), 1),
        "p95_ms": round(stack.percentile(latencies, 0.95), 1),
        "singles": args.singles,
        **burst,
    }


def wait_done(browser: stack.Browser, scan_id: int, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = browser.status(scan_id)["status"]
        if status in ("done", "failed"):
            return status
        time.sleep(0.002)
    return "timeout"


def run_burst(base_url: str, images: list[bytes], args) -> dict:
    browsers = [stack.Browser(base_url, USERNAME, PASSWORD) for _ in range(args.clients)]
    burst = stack.upload_burst(browsers, images, args.burst, prefix="burst")
    accepted = [upload.scan_id for upload in burst.uploads]
    finished = stack.wait_scans_done(accepted, timeout=args.timeout)
    elapsed = time.perf_counter() - burst.started
    return {
        "burst": args.burst,
        "clients": args.clients,
        "accepted": len(accepted),
        "uploads_per_s": round(len(accepted) / burst.seconds, 1),
        "throughput_scans_per_s": round(finished / elapsed, 1),
        "lost": len(accepted) - finished,
        "errors": len(burst.errors),
        **({"error_examples": burst.errors[:3]} if burst.errors else {}),
    }


def measure_make_run(images: list[bytes], *, timeout: float) -> dict:
    result = {}
    for heatmaps in ("1", "0"):
        with tempfile.TemporaryDirectory(prefix="kidneyweb-e2e-") as state:
            started = time.perf_counter()
            with stack.make_run(Path(state), KIDNEYWEB_HEATMAPS=heatmaps) as run:
                startup_s = time.perf_counter() - started
                headers = {"Authorization": f"Token {run.api_token()}"}
                first = upload_until_done(run.url, headers, images[:1], timeout)
                batch = upload_until_done(run.url, headers, (images * 50)[:50], timeout)
        result["heatmaps_on" if heatmaps == "1" else "heatmaps_off"] = {
            "startup_s": round(startup_s, 1),
            "first_reading_s": round(first[0], 2),
            "upload_50": {
                "p50_s": round(statistics.median(batch), 2),
                "p95_s": round(stack.percentile(batch, 0.95), 2),
                "max_s": round(max(batch), 2),
                "done": len(batch),
            },
        }
    result["machine"] = {"cpus": os.cpu_count(), "python": platform.python_version()}
    return result


def upload_until_done(url: str, headers: dict, images: list[bytes], timeout: float) -> list[float]:
    """One API upload of these images; seconds from the POST until each was seen done."""
    files = [("files", (f"slice-{i}.jpg", data, "image/jpeg")) for i, data in enumerate(images)]
    started = time.perf_counter()
    response = requests.post(f"{url}/api/v1/scans/", headers=headers, files=files, timeout=120)
    response.raise_for_status()
    waiting = {scan["id"] for scan in response.json()["scans"]}
    seconds = []
    deadline = time.monotonic() + timeout
    while waiting and time.monotonic() < deadline:
        page = requests.get(
            f"{url}/api/v1/scans/", headers=headers, params={"page_size": 100}, timeout=30
        ).json()
        now = time.perf_counter() - started
        for scan in page["results"]:
            if scan["id"] in waiting and scan["status"] in ("done", "failed"):
                waiting.discard(scan["id"])
                seconds.append(now)
        time.sleep(0.05)
    if waiting:
        raise TimeoutError(f"{len(waiting)} scans not read within {timeout:g} s")
    return seconds


if __name__ == "__main__":
    main()
