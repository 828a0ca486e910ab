"""Inference speed and memory of the active model version; prints one JSON object.

    .venv/bin/python bench/inference.py [--image PATH] [--runs 300]

classify() is timed end to end on a real 256x256 JPEG (decode, preprocess,
forward pass) after warm-up, and compared with a plain ``model.predict`` on the
same image in the same run.
"""

from __future__ import annotations

import time

STARTED = time.perf_counter()

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
import resource  # noqa: E402
import statistics  # noqa: E402
from pathlib import Path  # noqa: E402

from mlcore.inference import DEFAULT_RUNTIME, load_classifier  # noqa: E402

# The application's settings, read here as kidneyweb/settings.py reads them (this
# script runs without Django): the models folder and the runtime.
classifier = load_classifier(
    models_dir=os.environ.get("KIDNEYWEB_MODELS_DIR") or None,
    runtime=os.environ.get("KIDNEYWEB_INFERENCE_RUNTIME") or DEFAULT_RUNTIME,
)
LOAD_S = time.perf_counter() - STARTED
RSS_MB = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SAMPLE = ROOT.parent / "shared" / "data" / "kidney-ct-sample"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(q / 100 * len(ordered)), len(ordered) - 1)]


def time_ms(function, data: bytes, runs: int) -> list[float]:
    for _ in range(10):
        function(data)
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        function(data)
        timings.append((time.perf_counter() - started) * 1000)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sample = Path(os.environ.get("KIDNEY_SAMPLE_DIR", DEFAULT_SAMPLE))
    parser.add_argument("--image", type=Path, default=sample / "Stone" / "Stone- (400).jpg")
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--batch", type=int, default=32)
    args = parser.parse_args()
    data = args.image.read_bytes()

    single = time_ms(classifier.classify, data, args.runs)
    batch = [data] * args.batch
    classifier.classify_batch(batch)
    started = time.perf_counter()
    rounds = max(args.runs // args.batch, 3)
    for _ in range(rounds):
        classifier.classify_batch(batch)
    batch_per_s = rounds * args.batch / (time.perf_counter() - started)

    import keras

    model = keras.saving.load_model(classifier.version_dir / "model.keras", compile=False)

    def predict(data: bytes):
        return model.predict(classifier.read(data).model_input[None], verbose=0)

    baseline = time_ms(predict, data, max(args.runs // 10, 20))
    p50 = statistics.median(single)
    result = {
        "model_version": classifier.version,
        "runtime": classifier.runtime,
        "image": args.image.name,
        "input_size": classifier.image_size,
        "p50_ms": round(p50, 3),
        "p95_ms": round(percentile(single, 95), 3),
        "batch_images_per_s": round(batch_per_s, 1),
        "load_s": round(LOAD_S, 3),
        "rss_mb": round(RSS_MB, 1),
        "baseline_predict_p50_ms": round(statistics.median(baseline), 3),
        "speedup_vs_predict": round(statistics.median(baseline) / p50, 1),
        "machine": {
            "cpus": os.cpu_count(),
            "processor": platform.processor() or platform.machine(),
            "python": platform.python_version(),
        },
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
