"""What other rules for the "uncertain" threshold would flag and let through on new
patients, read off a cross-validation's records; prints one JSON object.

    .venv/bin/python bench/uncertain_rules.py docs/crossval/ensemble-masked-e60-and-crop-128-e30

Every fold is read as ``crossvalidate_model`` reads it for its confidently-wrong
figure (:func:`mlcore.crossval.read_as_new_patients`): a temperature and a threshold
fitted on the other folds' out-of-fold readings only, so the fold's patients are new
to both. Per rule: confidently wrong
(wrong, not flagged, not refused: share of the fold's readings) and uncertain (flagged
for review), per fold, their mean and the worst fold; and the threshold the rule
gives when fitted on every fold, as ``calibrate_model --crossvalidation`` fits the
shipped one. The first rule is the code's (:func:`mlcore.crossval.accurate_above`):
its figures are the summary's.

With ``--data-dir`` (each folder the cross-validation read) it also tries each rule
by plane (``by_plane``): every reading of a slice whose body fills it from top to
bottom (coronal: :func:`mlcore.subgroups.slice_plane`) is flagged, and the threshold
is fitted on the other folds' axial readings only (the temperature on all of them).

    .venv/bin/python bench/uncertain_rules.py docs/crossval/ensemble-masked-and-crop-128-e60 \
        --data-dir ../shared/data/kidney-ct-sample --data-dir ../shared/data/kidney-ct-extra
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mlcore.calibration import apply_temperature, fit_temperature, uncertain_threshold  # noqa: E402
from mlcore.crossval import (  # noqa: E402
    TARGET_ACCURACY,
    ThresholdRule,
    accurate_above,
    out_of_fold_calibration,
    read_as_new_patients,
    read_records,
)
from mlcore.data import DatasetError  # noqa: E402
from mlcore.subgroups import AXIAL, record_planes  # noqa: E402

# Thresholds tried by the finer rules: the code's steps of 0.01 up to 0.9, then 0.001.
FINE_GRID = np.concatenate(
    [np.round(np.arange(0.25, 0.9, 0.01), 2), np.round(np.arange(0.9, 1.0, 0.001), 3)]
)


def accurate_above_on(grid: np.ndarray) -> ThresholdRule:
    """The code's rule (the lowest threshold at or above which readings were
    TARGET_ACCURACY right) over the thresholds of ``grid``."""
    return lambda p, y: uncertain_threshold(p, y, target_accuracy=TARGET_ACCURACY, grid=grid)


def wrong_unflagged_at_most(share: float) -> ThresholdRule:
    """The lowest threshold at which wrong unflagged readings are at most ``share`` of all."""

    def fit(probabilities: np.ndarray, labels: np.ndarray) -> float:
        confidence = probabilities.max(axis=1)
        wrong = probabilities.argmax(axis=1) != labels
        for threshold in FINE_GRID:
            if np.mean((confidence >= threshold) & wrong) <= share:
                return float(threshold)
        return float(FINE_GRID[-1])

    return fit


RULES: dict[str, ThresholdRule] = {
    "readings above it 99 % right, steps of 0.01 (the code's rule)": accurate_above,
    "readings above it 99 % right, steps of 0.001 above 0.9": accurate_above_on(FINE_GRID),
    "wrong and unflagged at most 0.2 % of readings": wrong_unflagged_at_most(0.002),
    "wrong and unflagged at most 0.5 % of readings": wrong_unflagged_at_most(0.005),
    "wrong and unflagged at most 1 % of readings": wrong_unflagged_at_most(0.01),
}


def load_records(run: Path) -> list[dict]:
    records = read_records(run)
    if len(records) < 2:
        raise SystemExit(f"{run}: needs the records of at least two folds (fold-K.json)")
    return records


def measure(records: list[dict], rule: ThresholdRule) -> dict:
    per_fold = [
        {
            "fold": record["fold"],
            **read_as_new_patients(record, [r for r in records if r is not record], rule),
        }
        for record in records
    ]
    return {
        **_over_folds(per_fold),
        "threshold_all_folds": out_of_fold_calibration(records, rule)["uncertain_below"],
        "per_fold": per_fold,
    }


def _over_folds(per_fold: list[dict]) -> dict:
    """Confidently wrong (mean, worst fold) and uncertain (mean) over the folds."""
    wrong_rates = [row["confidently_wrong"] for row in per_fold]
    return {
        "confidently_wrong_mean": float(np.mean(wrong_rates)),
        "confidently_wrong_worst": float(np.max(wrong_rates)),
        "uncertain_share_mean": float(np.mean([row["uncertain_share"] for row in per_fold])),
    }


def measure_by_plane(records: list[dict], planes: dict[str, str], rule: ThresholdRule) -> dict:
    """:func:`measure` with every non-axial reading flagged and the threshold fitted on
    the other folds' axial readings (``planes``: each prediction's path -> plane)."""
    per_fold = []
    for record in records:
        others = [p for r in records if r is not record for p in r["predictions"]]
        probabilities, labels, _, axial = _arrays(others, planes)
        temperature = fit_temperature(probabilities, labels)
        scaled = apply_temperature(probabilities, temperature)
        threshold = rule(scaled[axial], labels[axial])
        probabilities, labels, refused, axial = _arrays(record["predictions"], planes)
        scaled = apply_temperature(probabilities, temperature)
        confident = (scaled.max(axis=1) >= threshold) & axial & ~refused
        wrong = scaled.argmax(axis=1) != labels
        per_fold.append(
            {
                "fold": record["fold"],
                "threshold": threshold,
                "confidently_wrong": float(np.mean(confident & wrong)),
                "uncertain_share": float(np.mean(~confident & ~refused)),
                "axial_unflagged": float(np.mean(confident[axial])) if axial.any() else None,
            }
        )
    return {**_over_folds(per_fold), "per_fold": per_fold}


def _arrays(predictions: list[dict], planes: dict[str, str]):
    probabilities = np.array([p["probabilities"] for p in predictions], dtype=np.float64)
    labels = np.array([p["label"] for p in predictions], dtype=np.int64)
    refused = np.array([p["refused"] for p in predictions], dtype=bool)
    axial = np.array([planes[p["path"]] == AXIAL for p in predictions], dtype=bool)
    return probabilities, labels, refused, axial


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="a folder of fold-K.json records")
    parser.add_argument(
        "--data-dir",
        type=Path,
        action="append",
        default=[],
        help="a data folder the cross-validation read (repeatable): also try each rule by plane",
    )
    args = parser.parse_args()
    records = load_records(args.run)
    report = {
        "run": str(args.run),
        "folds": [record["fold"] for record in records],
        "rules": {name: measure(records, rule) for name, rule in RULES.items()},
    }
    if args.data_dir:
        try:
            planes = record_planes(records, [path.resolve() for path in args.data_dir])
        except DatasetError as exc:
            raise SystemExit(str(exc)) from exc
        report["by_plane"] = {
            name: measure_by_plane(records, planes, rule) for name, rule in RULES.items()
        }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
