"""bench/load.py on a small scale: the real stack on the test database."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from integration.conftest import database_url

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]


def test_load_benchmark_reads_every_upload_and_reports_sane_figures(sample_dir):
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed: the bench starts its own")
    argv = [sys.executable, "bench/load.py", "--database-url", database_url()]
    argv += ["--uploads", "30", "--clients", "4", "--warmup", "3", "--timeout", "120"]
    argv += ["--image", str(sample_dir / "Stone")]

    result = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True)

    assert result.returncode == 0, result.stderr[-4000:]  # the bench's own account

    figures = json.loads(result.stdout)
    assert (figures["uploads"], figures["accepted"]) == (30, 30)
    assert (figures["errors"], figures["lost"], figures["failed"]) == (0, 0, 0)
    assert figures["heatmaps_missing"] == 0
    assert figures["uploads_per_s"] > 0
    assert figures["throughput_scans_per_s"] > 0
    for latency in (figures["upload_ms"], figures["done_ms"]):
        assert latency["max"] >= latency["p99"] >= latency["p95"] >= latency["p50"] > 0
    memory = figures["memory_mb"]
    for service in ("web", "worker"):
        assert memory[service]["before"] > 0
        assert memory[service]["after"] > 0
        assert isinstance(memory[service]["growth_percent"], float)
    assert memory["limit_percent"] == 10
    assert isinstance(memory["within_limit"], bool)
    assert figures["machine"]["cpus"] > 0
    assert figures["machine"]["cpu_model"]
