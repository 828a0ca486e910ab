"""Load: many uploads from concurrent clients against the real stack; prints one JSON object.

    .venv/bin/python bench/load.py [--database-url URL] [--uploads 2000] [--clients 16]

Starts, like bench/e2e.py, a private redis-server, gunicorn (``--web-workers``) and
one Celery worker with its default concurrency on loopback, migrates the database
(``--database-url``, default ``$DATABASE_URL``, else a new SQLite file) and logs in
``--clients`` HTTP clients as a bench clinician. Every upload is one real slice
from the sample (``--image``, default its ``Stone/`` folder).

1. Warm-up: ``--warmup`` uploads from the same clients, then a wait until they are
   read and their Grad-CAM heatmaps are drawn. Python code is imported when it is
   first used: Django views in each gunicorn worker, TensorFlow (for the heatmaps)
   in each worker pool process, which alone adds some hundreds of MB. Without the
   warm-up the memory "growth" would mostly be these one-off imports, not a leak.
   The warm-up cannot prove that every process has imported everything it ever
   will; its uploads are spread over the clients to reach as many as it can.
2. Memory before: resident memory (RSS, from /proc) of the gunicorn master and its
   workers ("web") and of the Celery main process and its pool processes
   ("worker"), each summed over the processes, so pages shared after fork count
   once per process.
3. Load: ``--uploads`` uploads, each client sending one after another.
   ``upload_ms``: the time of each upload POST until its answer (the redirect to
   the new scan). ``done_ms``: from the moment that POST was sent until the scan's
   ``done_at``, which the worker writes in the same transaction that makes the
   status endpoint say ``done`` (both clocks are this machine's wall clock). The
   scans are not polled one by one over HTTP, which would load the web server
   being measured: the bench reads the database (a count every 0.2 s, then the
   ``done_at`` of each), after the burst and during the wait.
4. Memory after: once every scan is done and the heatmaps queued behind them are
   drawn (they are served when no scan waits), so both services are idle again.

Reported: p50/p95/p99 (nearest rank) of both latencies; ``uploads_per_s``
(accepted uploads over the time from the first POST to the last answer);
``throughput_scans_per_s`` (scans done over the time from the first POST to the
last ``done_at``); ``errors`` (requests not answered with the redirect to a new
scan, first examples in ``error_examples``); ``lost`` (accepted but not done
within ``--timeout`` seconds after the last upload; ``failed`` says how many of
them were read and failed); memory before and after with the growth in percent
against a limit of 10 %.

Hostile mix (``--hostile-percent``, default 10): attack files sent alongside the
burst by clients of their own, each to be refused (400), and the health check
asked every 0.25 s: ``hostile`` reports the refusals, any other answer and the
health check's slowest answer (target: ``errors`` 0 for the real uploads and
every health answer under 1 s).
"""

from __future__ import annotations

import json
import sys
import threading
import time
from contextlib import suppress
from datetime import UTC, datetime
from pathlib import Path

# The repository (mlcore, kidneyweb) and tests/ (support: the stack, the corpus).
sys.path[:0] = [str(Path(__file__).resolve().parent.parent / d) for d in ("", "tests")]

from support import stack  # noqa: E402
from support.machine import machine  # noqa: E402

USERNAME, PASSWORD = "load", "bench-password-load"
MEMORY_GROWTH_LIMIT_PERCENT = 10


def main() -> None:
    parser = stack.bench_parser(__doc__, timeout=600)
    parser.add_argument("--uploads", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--warmup", type=int, default=48, help="uploads before the load")
    parser.add_argument(
        "--hostile-percent",
        type=float,
        default=10.0,
        help="attack files (tests/corpus.py) sent alongside, as a share of --uploads; 0: none",
    )
    args = parser.parse_args()
    images = stack.load_images(args.image)

    with stack.bench_stack(
        "load",
        database_url=args.database_url,
        web_workers=args.web_workers,
        username=USERNAME,
        password=PASSWORD,
    ) as bench:
        result = measure(bench, images, args)
    result.update(
        database=bench.database_url.split(":", 1)[0],
        broker="redis",
        web_workers=args.web_workers,
        machine=machine(),
        date=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    print(json.dumps(result, indent=2))


def measure(bench: stack.Bench, images: list[bytes], args) -> dict:
    browsers = [stack.Browser(bench.web.url, USERNAME, PASSWORD) for _ in range(args.clients)]
    services = {"web": bench.web.process.pid, "worker": bench.worker.process.pid}

    warm = stack.upload_burst(browsers, images, args.warmup, prefix="warm")
    warmed = settle([u.scan_id for u in warm.uploads], timeout=args.timeout)
    if warm.errors or warmed != (args.warmup, 0):
        raise RuntimeError(f"The warm-up did not go through: {warmed}, {warm.errors[:3]}")
    before = stack.rss_mb(services)

    hostile = HostileMix(bench.web.url, round(args.uploads * args.hostile_percent / 100))
    hostile.start()
    burst = stack.upload_burst(browsers, images, args.uploads, prefix="load")
    hostile.stop()
    accepted = [u.scan_id for u in burst.uploads]
    finished, heatmaps_missing = settle(accepted, timeout=args.timeout)
    after = stack.rss_mb(services)

    done_at, failed = finish_times(accepted)
    read = [u for u in burst.uploads if u.scan_id in done_at]
    done_ms = [1000 * (done_at[u.scan_id] - u.sent_at) for u in read]
    first_post = min((u.sent_at for u in burst.uploads), default=0.0)
    busy_s = max(done_at.values(), default=first_post) - first_post
    return {
        "uploads": args.uploads,
        "clients": args.clients,
        "warmup": args.warmup,
        "accepted": len(accepted),
        "errors": len(burst.errors),
        **({"error_examples": burst.errors[:3]} if burst.errors else {}),
        "lost": len(accepted) - finished,
        "failed": failed,
        "uploads_per_s": round(len(accepted) / burst.seconds, 1),
        "throughput_scans_per_s": round(finished / busy_s, 1) if busy_s else 0.0,
        "duration_s": round(busy_s, 1),
        "upload_ms": percentiles([1000 * u.seconds for u in burst.uploads]),
        "done_ms": percentiles(done_ms),
        "heatmaps_missing": heatmaps_missing,
        "memory_mb": memory_growth(before, after),
        "hostile": hostile.report(),
    }


class HostileMix:
    """Attack files among the real uploads, and the health check watched throughout.

    Two clients of their own send ``count`` files of tests/corpus.py (bombs within
    the byte cap, malformed DICOM headers, files past the pixel limit, polyglots),
    each of which must be refused with a 400; a third asks /api/v1/health/ every
    0.25 s until the burst ends. Reported: how many attack files were refused, any
    other answer, and the health check's slowest answer (the target: under 1 s).
    """

    def __init__(self, base_url: str, count: int):
        from support.corpus import hostile_corpus, malformed_dicom_corpus

        self.base = base_url
        self.cases = [c for c in hostile_corpus() + malformed_dicom_corpus() if c.data]
        self.count = count
        self.browsers = [stack.Browser(base_url, USERNAME, PASSWORD) for _ in range(2)]
        self.refused = 0
        self.other: list[str] = []
        self.health_ms: list[float] = []
        self.done = threading.Event()
        self.threads: list[threading.Thread] = []
        self.sequence = iter(range(count))
        self.lock = threading.Lock()

    def start(self) -> None:
        targets = [self._attack for _ in self.browsers] + [self._watch_health]
        self.threads = [threading.Thread(target=t, args=(i,)) for i, t in enumerate(targets)]
        for thread in self.threads:
            thread.start()

    def stop(self) -> None:
        self.done.set()
        for thread in self.threads:
            thread.join()

    def _attack(self, index: int) -> None:
        browser = self.browsers[index]
        for i in self.sequence:
            case = self.cases[i % len(self.cases)]
            try:
                status = browser.upload((case.name, case.data)).status_code
            except Exception as exc:  # a dropped connection is what this counts
                status = f"{type(exc).__name__}: {exc}"[:200]
            with self.lock:
                if status == 400:
                    self.refused += 1
                else:
                    self.other.append(f"{case.name}: {status}")

    def _watch_health(self, index: int) -> None:
        import requests

        while not self.done.is_set():
            began = time.perf_counter()
            with suppress(requests.RequestException):
                requests.get(f"{self.base}/api/v1/health/", timeout=30)
            self.health_ms.append(1000 * (time.perf_counter() - began))
            self.done.wait(0.25)

    def report(self) -> dict:
        return {
            "sent": self.count,
            "refused": self.refused,
            "other_answers": len(self.other),
            **({"other_examples": self.other[:3]} if self.other else {}),
            "health_checks": len(self.health_ms),
            "health_max_ms": round(max(self.health_ms, default=0.0)),
            "health_over_1s": sum(ms > 1000 for ms in self.health_ms),
        }


def settle(scan_ids: list[int], *, timeout: float) -> tuple[int, int]:
    """Wait until the scans are done and their heatmaps drawn, so that the stack is idle;
    return how many scans are done and how many heatmaps are still missing."""
    finished = stack.wait_scans_done(scan_ids, timeout=timeout, interval=0.2)
    from scans.models import Prediction

    # A refused (not-a-CT-slice) reading gets no heatmap.
    missing = Prediction.objects.filter(scan_id__in=scan_ids, out_of_distribution=False, heatmap="")
    with suppress(TimeoutError):  # what is still missing then is reported
        stack.wait_for(lambda: not missing.exists(), timeout=timeout, what="heatmaps", interval=0.2)
    return finished, missing.count()


def finish_times(scan_ids: list[int]) -> tuple[dict[int, float], int]:
    """The wall-clock time each done scan was done, and how many scans failed."""
    from scans.models import Scan

    scans = Scan.objects.filter(pk__in=scan_ids)
    done = scans.filter(status=Scan.Status.DONE).values_list("pk", "done_at")
    failed = scans.filter(status=Scan.Status.FAILED).count()
    return {pk: when.timestamp() for pk, when in done}, failed


def percentiles(milliseconds: list[float]) -> dict[str, float]:
    if not milliseconds:
        return {}
    figures = {f"p{q}": stack.percentile(milliseconds, q / 100) for q in (50, 95, 99)}
    figures["max"] = max(milliseconds)
    return {name: round(value, 1) for name, value in figures.items()}


def memory_growth(before: dict[str, float], after: dict[str, float]) -> dict:
    figures: dict = {
        name: {
            "before": before[name],
            "after": after[name],
            "growth_percent": round(100 * (after[name] - before[name]) / before[name], 1),
        }
        for name in before
    }
    figures["limit_percent"] = MEMORY_GROWTH_LIMIT_PERCENT
    figures["within_limit"] = all(
        figures[name]["growth_percent"] <= MEMORY_GROWTH_LIMIT_PERCENT for name in before
    )
    return figures


if __name__ == "__main__":
    main()
