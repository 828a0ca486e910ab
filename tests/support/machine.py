"""The machine a figure was measured on, as the benchmarks report it."""

from __future__ import annotations

import os
import platform
from pathlib import Path


def machine() -> dict:
    models = [
        line.split(":", 1)[1].strip()
        for line in Path("/proc/cpuinfo").read_text().splitlines()
        if line.startswith("model name")
    ]
    return {
        "cpu_model": models[0] if models else platform.processor(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
    }
