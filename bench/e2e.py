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
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import stack

USERNAME, PASSWORD = "bench", "bench-password-e2e"


def main() -> None:
    parser = stack.bench_parser(__doc__, timeout=300)
    parser.add_argument("--singles", type=int, default=40)
    parser.add_argument("--burst", type=int, default=500)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument(
        "--no-heatmaps", action="store_true", help="run the stack with KIDNEYWEB_HEATMAPS=0"
    )
    args = parser.parse_args()
    images = stack.load_images(args.image)

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


if __name__ == "__main__":
    main()
