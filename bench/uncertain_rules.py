"""What other rules for the "uncertain" threshold would flag and let through on new
patients, read off a cross-validation's records; prints one JSON object.

    .venv/bin/python bench/uncertain_rules.py docs/crossval/ensemble-masked-e60-and-crop-128-e30

Every fold is read as ``crossvalidate_model`` reads it for its confidently-wrong
figure: a temperature and a threshold fitted on the other folds' out-of-fold
readings only, so the fold's patients are new to both. Per rule: confidently wrong
(wrong, not flagged, not refused: share of the fold's readings) and uncertain (flagged
for review), per fold, their mean and the worst fold; and the threshold the rule
gives when fitted on every fold, as ``calibrate_model --crossvalidation`` fits the
shipped one. The first rule is the code's (:func:`mlcore.calibration.uncertain_threshold`
with ``mlcore.crossval.TARGET_ACCURACY``): its figures are the summary's.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mlcore.calibration import (  # noqa: E402
    THRESHOLD_GRID,
    apply_temperature,
    fit_temperature,
    uncertain_threshold,
)
from mlcore.crossval import TARGET_ACCURACY  # noqa: E402

# Thresholds tried by the finer rules: the code's steps of 0.01 up to 0.9, then 0.001.
FINE_GRID = np.concatenate(
    [np.round(np.arange(0.25, 0.9, 0.01), 2), np.round(np.arange(0.9, 1.0, 0.001), 3)]
)

Rule = Callable[[np.ndarray, np.ndarray], float]


def accurate_above(grid: np.ndarray) -> Rule:
    """The code's rule (the lowest threshold at or above which readings were
    TARGET_ACCURACY right) over the thresholds of ``grid``."""
    return lambda p, y: uncertain_threshold(p, y, target_accuracy=TARGET_ACCURACY, grid=grid)


def wrong_unflagged_at_most(share: float) -> Rule:
    """The lowest threshold at which wrong unflagged readings are at most ``share`` of all."""

    def fit(probabilities: np.ndarray, labels: np.ndarray) -> float:
        confidence = probabilities.max(axis=1)
        wrong = probabilities.argmax(axis=1) != labels
        for threshold in FINE_GRID:
            if np.mean((confidence >= threshold) & wrong) <= share:
                return float(threshold)
        return float(FINE_GRID[-1])

    return fit


RULES: dict[str, Rule] = {
    "readings above it 99 % right, steps of 0.01 (the code's rule)": accurate_above(THRESHOLD_GRID),
    "readings above it 99 % right, steps of 0.001 above 0.9": accurate_above(FINE_GRID),
    "wrong and unflagged at most 0.2 % of readings": wrong_unflagged_at_most(0.002),
    "wrong and unflagged at most 0.5 % of readings": wrong_unflagged_at_most(0.005),
    "wrong and unflagged at most 1 % of readings": wrong_unflagged_at_most(0.01),
}


def load_folds(run: Path) -> list[tuple[int, np.ndarray, np.ndarray, np.ndarray]]:
    folds = []
    for path in sorted(run.glob("fold-*.json")):
        record = json.loads(path.read_text())
        predictions = record["predictions"]
        folds.append(
            (
                record["fold"],
                np.array([p["probabilities"] for p in predictions], dtype=np.float64),
                np.array([p["label"] for p in predictions], dtype=np.int64),
                np.array([p["refused"] for p in predictions], dtype=bool),
            )
        )
    if len(folds) < 2:
        raise SystemExit(f"{run}: needs the records of at least two folds (fold-K.json)")
    return folds


def measure(folds: list, rule: Rule) -> dict:
    per_fold = []
    for index, (fold, probabilities, labels, refused) in enumerate(folds):
        others = [f for other, f in enumerate(folds) if other != index]
        fit_p = np.vstack([f[1] for f in others])
        fit_y = np.concatenate([f[2] for f in others])
        temperature = fit_temperature(fit_p, fit_y)
        threshold = rule(apply_temperature(fit_p, temperature), fit_y)
        scaled = apply_temperature(probabilities, temperature)
        confident = (scaled.max(axis=1) >= threshold) & ~refused
        wrong = scaled.argmax(axis=1) != labels
        per_fold.append(
            {
                "fold": fold,
                "threshold": threshold,
                "confidently_wrong": float(np.mean(confident & wrong)),
                "uncertain_share": float(np.mean(~confident & ~refused)),
            }
        )
    all_p = np.vstack([f[1] for f in folds])
    all_y = np.concatenate([f[2] for f in folds])
    temperature = fit_temperature(all_p, all_y)
    wrong_rates = [row["confidently_wrong"] for row in per_fold]
    return {
        "confidently_wrong_mean": float(np.mean(wrong_rates)),
        "confidently_wrong_worst": float(np.max(wrong_rates)),
        "uncertain_share_mean": float(np.mean([row["uncertain_share"] for row in per_fold])),
        "threshold_all_folds": rule(apply_temperature(all_p, temperature), all_y),
        "per_fold": per_fold,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="a folder of fold-K.json records")
    args = parser.parse_args()
    folds = load_folds(args.run)
    report = {
        "run": str(args.run),
        "folds": [fold for fold, *_ in folds],
        "rules": {name: measure(folds, rule) for name, rule in RULES.items()},
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
