from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from factories import encode, synthetic_slice

from mlcore import versions

ROOT = Path(__file__).resolve().parents[2]


def test_inference_benchmark_prints_one_json_object(tiny_version, tmp_path):
    models = tmp_path / "models"
    shutil.copytree(tiny_version, models / tiny_version.name)
    versions.activate(tiny_version.name, models)
    image = tmp_path / "slice.jpg"
    image.write_bytes(encode(synthetic_slice(2, 1, size=256), "JPEG"))

    result = subprocess.run(
        [sys.executable, "bench/inference.py", "--image", str(image), "--runs", "20"],
        cwd=ROOT,
        env={**os.environ, "KIDNEYWEB_MODELS_DIR": str(models), "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        check=True,
    )

    figures = json.loads(result.stdout)
    assert figures["model_version"] == tiny_version.name
    for key in ("p50_ms", "p95_ms", "batch_images_per_s", "load_s", "rss_mb"):
        assert figures[key] > 0
    assert figures["baseline_predict_p50_ms"] > 0
    assert figures["p95_ms"] >= figures["p50_ms"]
