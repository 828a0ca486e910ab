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

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import django

from bench import stack

USERNAME, PASSWORD = "bench", "bench-password-e2e"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    parser.add_argument("--singles", type=int, default=40)
    parser.add_argument("--burst", type=int, default=500)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--web-workers", type=int, default=4)
    parser.add_argument("--timeout", type=float, default=300)
    parser.add_argument(
        "--no-heatmaps", action="store_true", help="run the stack with KIDNEYWEB_HEATMAPS=0"
    )
    parser.add_argument(
        "--image",
        type=Path,
        default=stack.ROOT.parent / "shared" / "data" / "kidney-ct-sample" / "Stone",
        help="a JPEG/PNG file or a folder of them (default: the sample's Stone slices)",
    )
    args = parser.parse_args()
    images = load_images(args.image)

    work = Path(tempfile.mkdtemp(prefix="kidneyweb-e2e-"))
    database_url = args.database_url or f"sqlite:///{work / 'db.sqlite3'}"
    redis = stack.RedisServer(work).start()
    env = stack.stack_env(
        database_url=database_url,
        broker_url=redis.url,
        media_root=work / "media",
        KIDNEYWEB_HEATMAPS="0" if args.no_heatmaps else "1",
    )
    manage = [str(stack.BIN / "python"), "manage.py"]
    for command in (["migrate", "--noinput"], ["sync_model_versions"]):
        subprocess.run(manage + command, cwd=stack.ROOT, env=env, check=True, capture_output=True)
    create_user(env)
    os.environ.update(env)  # this process reads the same database
    os.environ["DJANGO_SETTINGS_MODULE"] = "kidneyweb.settings"
    django.setup()

    web = stack.web(env, work, workers=args.web_workers).start()
    worker = stack.worker(env, work).start()
    try:
        stack.wait_until_ready(web)
        stack.wait_until_ready(worker)
        processes = {"web": web.process.pid, "worker": worker.process.pid}
        processes["redis"] = redis.process.pid
        result = measure(web.url, images, args, processes)
    finally:
        for service in (worker, web, redis):
            service.stop()
    result.update(
        heatmaps=not args.no_heatmaps,
        database=database_url.split(":", 1)[0],
        broker="redis",
        web_workers=args.web_workers,
        machine={"cpus": os.cpu_count(), "python": platform.python_version()},
    )
    print(json.dumps(result, indent=2))


def load_images(path: Path) -> list[bytes]:
    files = sorted(p for p in path.iterdir() if p.is_file()) if path.is_dir() else [path]
    return [p.read_bytes() for p in files[:200]]


def create_user(env: dict) -> None:
    code = (
        "from django.contrib.auth.models import User\n"
        "from scans.roles import CLINICIAN, role_group\n"
        f"u, _ = User.objects.get_or_create(username={USERNAME!r})\n"
        f"u.set_password({PASSWORD!r}); u.save(); u.groups.add(role_group(CLINICIAN))"
    )
    subprocess.run(
        [str(stack.BIN / "python"), "manage.py", "shell", "-c", code],
        cwd=stack.ROOT,
        env=env,
        check=True,
        capture_output=True,
    )


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
    ordered = sorted(latencies)
    return {
        "p50_ms": round(statistics.median(latencies), 1),
        "p95_ms": round(ordered[min(int(0.95 * len(ordered)), len(ordered) - 1)], 1),
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
    accepted: list[int] = []
    errors = 0
    examples: list[str] = []  # what the first few errors were
    lock = threading.Lock()
    counter = iter(range(args.burst))
    browsers = [stack.Browser(base_url, USERNAME, PASSWORD) for _ in range(args.clients)]

    def client(browser: stack.Browser) -> None:
        nonlocal errors
        for i in counter:
            try:
                response = browser.upload((f"burst-{i}.jpg", images[i % len(images)]))
                scan_id = stack.scan_id_from(response)
            except Exception as exc:  # a refused or failed request is what this counts
                with lock:
                    errors += 1
                    if len(examples) < 3:
                        examples.append(f"{type(exc).__name__}: {exc}"[:300])
                continue
            with lock:
                accepted.append(scan_id)

    started = time.perf_counter()
    threads = [threading.Thread(target=client, args=(b,)) for b in browsers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    uploaded_s = time.perf_counter() - started

    # Completion is read from the database (as the status endpoint does), not by
    # polling 500 URLs, which would load the web server being measured.
    from scans.models import Scan

    done = Scan.objects.filter(pk__in=accepted, status=Scan.Status.DONE)
    deadline = time.monotonic() + args.timeout
    while done.count() < len(accepted) and time.monotonic() < deadline:
        time.sleep(0.05)
    elapsed = time.perf_counter() - started
    finished = done.count()
    return {
        "burst": args.burst,
        "clients": args.clients,
        "accepted": len(accepted),
        "uploads_per_s": round(len(accepted) / uploaded_s, 1),
        "throughput_scans_per_s": round(finished / elapsed, 1),
        "lost": len(accepted) - finished,
        "errors": errors,
        **({"error_examples": examples} if examples else {}),
    }


if __name__ == "__main__":
    main()
