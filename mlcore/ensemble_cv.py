"""Cross-validated figures of an ensemble of recipes, from their recorded folds.

Two recipes cross-validated on the same patient blocks each left, for every held-out
slice, what their fold network read (``fold-K.json``). The ensemble that averages
the two networks' probabilities (the shipped ensembles average the same way) reads
each held-out slice as the mean of those readings: its out-of-fold predictions, and
so every figure of :func:`mlcore.crossval.summarize` (per fold, mean ± spread, the
out-of-fold calibration), follow without training anything.

Where the ensemble looks cannot be read off the records: ``attention_in_body`` is
the mean of the members' own measurements, and is marked so (``of_members``).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from mlcore import data
from mlcore.crossval import balanced_accuracy, summarize, write_json
from mlcore.evaluation import classification_report


def combine_crossvalidations(run_dirs: list[Path], out_dir: Path) -> dict:
    """Write the ensemble's ``fold-K.json`` for every fold that each run in
    ``run_dirs`` holds, and its ``summary.json``; returns the summary."""
    if len(run_dirs) < 2:
        raise data.DatasetError("An ensemble needs at least two cross-validations.")
    runs = [_folds(Path(run)) for run in run_dirs]
    shared = sorted(set.intersection(*(set(run) for run in runs)))
    if not shared:
        raise data.DatasetError("The cross-validations have no fold in common.")
    out_dir.mkdir(parents=True, exist_ok=True)
    for fold in shared:
        record = combine_fold([run[fold] for run in runs], [Path(r).name for r in run_dirs])
        write_json(out_dir / f"fold-{fold}.json", record)
    summary = summarize(out_dir)
    write_json(out_dir / "summary.json", summary)
    return summary


def combine_fold(records: list[dict], names: list[str]) -> dict:
    """One fold of the ensemble from the members' records of that fold."""
    first = records[0]
    for record in records[1:]:
        if (record["folds"], record["data"]["fingerprint"]) != (
            first["folds"],
            first["data"]["fingerprint"],
        ):
            raise data.DatasetError(
                f"Fold {first['fold']}: the cross-validations cut other data or another "
                "number of folds."
            )
        if [(p["path"], p["label"]) for p in record["predictions"]] != [
            (p["path"], p["label"]) for p in first["predictions"]
        ]:
            raise data.DatasetError(
                f"Fold {first['fold']}: the cross-validations held out other slices."
            )
    class_names = first["recipe"]["class_names"]
    probabilities = np.mean(
        [[p["probabilities"] for p in record["predictions"]] for record in records], axis=0
    )
    labels = np.array([p["label"] for p in first["predictions"]])
    # The not-a-CT check reads the whole slice, fitted on the same training slices:
    # the members agree; a slice either refused is refused.
    refused = np.any([[p["refused"] for p in r["predictions"]] for r in records], axis=0)
    report = classification_report(labels, probabilities, class_names)
    return {
        "fold": first["fold"],
        "folds": first["folds"],
        "recipe": {"class_names": class_names, "ensemble_of": [r["recipe"] for r in records]},
        "combined_from": names,
        "data": first["data"],
        "train_seconds": round(sum(r["train_seconds"] for r in records), 1),
        "report": report,
        "balanced_accuracy": balanced_accuracy(report),
        "refused_share": float(np.mean(refused)),
        "attention_in_body": _members_attention([r["attention_in_body"] for r in records]),
        "predictions": [
            {
                "path": p["path"],
                "label": p["label"],
                "probabilities": [round(float(v), 6) for v in row],
                "refused": bool(out),
            }
            for p, row, out in zip(first["predictions"], probabilities, refused, strict=True)
        ],
    }


def _members_attention(attentions: list[dict]) -> dict:
    def mean(values: list) -> float | None:
        present = [v for v in values if v is not None]
        return round(float(np.mean(present)), 4) if len(present) == len(values) else None

    def means(key: str | None) -> dict:
        parts = [a.get(key, {}) if key else a for a in attentions]
        classes = parts[0].get("per_class", {})
        return {
            "mean": mean([p.get("mean") for p in parts]),
            "per_class": {n: mean([p.get("per_class", {}).get(n) for p in parts]) for n in classes},
            "n_images": parts[0].get("n_images"),
        }

    return {**means(None), "even_body": means("even_body"), "of_members": True}


def _folds(run_dir: Path) -> dict[int, dict]:
    paths = sorted(run_dir.glob("fold-*.json"))
    if not paths:
        raise data.DatasetError(f"No fold results in {run_dir}.")
    records = [json.loads(path.read_text()) for path in paths]
    return {record["fold"]: record for record in records}
