"""Patient-block cross-validation: how a recipe reads patients it never saw.

Each fold holds out whole blocks of file numbers (:func:`mlcore.splits.split_by_blocks`),
trains the recipe on the rest, and records what the network says about every
held-out slice (out-of-fold predictions), how many real slices the not-a-CT check
would refuse, and where the network looks (Grad-CAM mass inside the body). Each
fold is written to ``<out_dir>/fold-<k>.json`` as soon as it ends, and
``summary.json`` is rewritten from every fold file present, so folds may run in
separate processes and a run cut short keeps what it finished.

The temperature and the "uncertain" threshold that a shipped version uses are
fitted on the pooled out-of-fold predictions (:func:`out_of_fold_calibration`);
the confidently-wrong rate reported per fold uses a temperature and threshold
fitted on the *other* folds only, so it is measured on slices nothing was fitted to.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np

from mlcore import data
from mlcore.calibration import (
    apply_temperature,
    expected_calibration_error,
    fit_temperature,
    uncertain_threshold,
)
from mlcore.evaluation import classification_report
from mlcore.explain import GradCam, attention_by_class, heatmap_grid
from mlcore.ood import OutlierDetector
from mlcore.training import (
    Log,
    TrainConfig,
    fit_learning_member,
    make_ensemble,
    never_learned,
    predict_decoded,
    prepare_data,
    recipe,
    recipe_defaults,
)

# Readings at or above the threshold should be right this often (held-out slices):
# what is left wrong above it is the confidently-wrong rate.
TARGET_ACCURACY = 0.99

# A rule for the "uncertain" threshold: from temperature-scaled probabilities and
# their labels, the confidence below which a reading is flagged.
ThresholdRule = Callable[[np.ndarray, np.ndarray], float]


def accurate_above(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """The code's rule: the lowest threshold above which readings were
    ``TARGET_ACCURACY`` right (:func:`mlcore.calibration.uncertain_threshold`)."""
    return uncertain_threshold(probabilities, labels, target_accuracy=TARGET_ACCURACY)


def crossvalidate(
    config: TrainConfig,
    *,
    folds: int,
    out_dir: Path,
    only: list[int] | None = None,
    log: Log = print,
) -> dict:
    """Train and evaluate the recipe on each fold (or the folds in ``only``); returns
    the summary over every fold file in ``out_dir``."""
    if config.average_last < 1:
        raise ValueError(
            "cross-validation needs --average-last N: keeping the best epoch would choose "
            "it on the held-out fold"
        )
    if config.teacher:
        raise ValueError("cross-validation trains without a teacher (it saw other folds)")
    if folds < 2:
        raise data.DatasetError("Cross-validation needs at least 2 folds.")
    wanted = list(range(folds)) if only is None else only
    bad = [k for k in wanted if not 0 <= k < folds]
    if bad:
        raise data.DatasetError(f"There is no fold {bad[0]}: {folds} folds are 0-{folds - 1}.")
    # Before hours of training, not after: the new fold could not be summarised with them.
    mine = recipe(config)
    for existing in read_records(out_dir):
        differs = _recipe_changes(existing["recipe"], mine)
        if differs or existing["folds"] != folds:
            what = f"differs in: {', '.join(differs)}" if differs else f"{existing['folds']} folds"
            raise data.DatasetError(
                f"{out_dir} holds fold {existing['fold']} of another cross-validation ({what}): "
                "give another --output."
            )
    out_dir.mkdir(parents=True, exist_ok=True)
    for fold in wanted:
        log(f"Fold {fold + 1}/{folds} (fold {fold})")
        record, heatmaps = run_fold(replace(config, folds=folds, val_fold=fold), log)
        (out_dir / f"fold-{fold}-heatmaps.png").write_bytes(heatmaps)
        write_json(out_dir / f"fold-{fold}.json", record)
        summary = summarize(out_dir)
        write_json(out_dir / "summary.json", summary)
        report = record["report"]
        log(
            f"Fold {fold}: accuracy {report['accuracy']:.1%}, balanced "
            f"{record['balanced_accuracy']:.1%}, recall "
            + ", ".join(f"{n} {s['recall']:.1%}" for n, s in report["per_class"].items())
            + f", attention in body {_figure(record['attention_in_body']['mean'])}"
        )
        if fold in summary["never_learned_folds"]:
            log(
                f"Fold {fold} NEVER LEARNED: its network gives every held-out slice the "
                "same reading (a dead start). Its figures are chance, not the recipe at "
                "its best; a recipe that does this is not shipped."
            )
    return summarize(out_dir)


def run_fold(config: TrainConfig, log: Log) -> tuple[dict, bytes]:
    """One fold: train on the other blocks, read the held-out ones. Returns the record
    and a PNG grid of held-out slices with their heatmaps."""
    prepared = prepare_data(config, log)
    train_set, val_set = prepared.train_set, prepared.val_set
    if not len(val_set.labels):
        raise data.DatasetError(f"Fold {config.val_fold} holds out no readable image.")
    weights = prepared.train_weights(config, log)
    started = time.monotonic()
    fitted = [
        fit_learning_member(config, seed, train_set, val_set, log, weights=weights, keep_last=True)
        for seed in range(config.seed, config.seed + config.ensemble)
    ]
    members = [network.model for network in fitted]
    model = members[0] if len(members) == 1 else make_ensemble(members)
    seconds = time.monotonic() - started
    raw = predict_decoded(model, val_set, config)
    detector = OutlierDetector.fit(prepared.whole_train.images)
    refused = detector.refuse(prepared.whole_val.images)
    explainer, predicted = GradCam(model), np.argmax(raw, axis=1)
    attention = attention_by_class(
        explainer, val_set.images, val_set.labels, predicted, config.class_names
    )
    heatmaps = heatmap_grid(
        explainer, val_set.images, val_set.labels, predicted, config.class_names
    )
    report = classification_report(val_set.labels, raw, config.class_names)
    roots = prepared.roots
    record = {
        "fold": config.val_fold,
        "folds": config.folds,
        "recipe": recipe(config),
        "data": {
            "folders": [str(root) for root in roots],
            "fingerprint": prepared.fingerprint,
            "train_counts": data.class_counts(prepared.split.train, config.class_names),
            "validation_counts": data.class_counts(prepared.split.validation, config.class_names),
            "left_out_near_validation": len(prepared.split.left_out),
        },
        "train_seconds": round(seconds, 1),
        # The seed each network ended with, and those that started dead before it
        # (fit_learning_member; their training time is in train_seconds).
        "seeds": [network.seed for network in fitted],
        "dead_starts": [dead for network in fitted for dead in network.dead_starts],
        "report": report,
        "balanced_accuracy": balanced_accuracy(report),
        "refused_share": float(np.mean(refused)),
        "attention_in_body": attention,
        "predictions": [
            {
                "path": _relative(path, roots),
                "label": int(label),
                "probabilities": [round(float(p), 6) for p in row],
                "refused": bool(out),
            }
            for path, label, row, out in zip(
                val_set.paths, val_set.labels, raw, refused, strict=True
            )
        ],
    }
    return record, heatmaps


def balanced_accuracy(report: dict) -> float:
    recalls = [scores["recall"] for scores in report["per_class"].values()]
    return float(np.mean(recalls))


def out_of_fold_calibration(records: list[dict], rule: ThresholdRule = accurate_above) -> dict:
    """Temperature and uncertain threshold (by ``rule``) fitted on every out-of-fold
    prediction."""
    probabilities, labels, _, _ = _pooled(records)
    temperature = fit_temperature(probabilities, labels)
    scaled = apply_temperature(probabilities, temperature)
    return {
        "temperature": temperature,
        "uncertain_below": rule(scaled, labels),
        "ece_before": round(expected_calibration_error(probabilities, labels), 4),
        "ece_after_in_sample": round(expected_calibration_error(scaled, labels), 4),
        "n_images": len(labels),
        "fitted_on": f"out-of-fold predictions of {len(records)} patient-block folds",
    }


def summary_for_version(out_dir: Path, metadata: dict) -> dict:
    """The cross-validation summary in ``out_dir``, checked to be of the recipe and the
    data the version in ``metadata`` was trained with, and complete."""
    path = Path(out_dir) / "summary.json"
    try:
        summary = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise data.DatasetError(f"No cross-validation summary at {path}: {exc}") from exc
    differs = recipe_differences(summary["recipe"], metadata.get("training", {}))
    if differs:
        raise data.DatasetError(
            f"{path} cross-validated another recipe than version {metadata.get('version')} "
            f"(differs in: {', '.join(differs)})."
        )
    if summary["data"]["fingerprint"] != metadata.get("dataset", {}).get("fingerprint"):
        raise data.DatasetError(f"{path} cross-validated other data.")
    if sorted(summary["folds_done"]) != list(range(summary["folds"])):
        raise data.DatasetError(
            f"{path} holds folds {summary['folds_done']} of {summary['folds']}: run them all."
        )
    return summary


def recipe_differences(theirs: dict, mine: dict) -> list[str]:
    """The recipe options in which a cross-validated recipe (``theirs``) and a
    version's training (``mine``) differ; for an ensemble (``ensemble_of``), network by
    network, in order."""
    if "ensemble_of" in theirs or "ensemble_of" in mine:
        ours, yours = theirs.get("ensemble_of", []), mine.get("ensemble_of", [])
        if len(ours) != len(yours):
            return ["the number of networks"]
        return [
            f"network {index + 1}: {key}"
            for index, (one, other) in enumerate(zip(ours, yours, strict=True))
            for key in recipe_differences(one, other)
        ]
    # An option either side did not record (it came later) was at its default.
    defaults = recipe_defaults()
    theirs, mine = {**defaults, **theirs}, {**defaults, **mine}
    return sorted(key for key in theirs if mine.get(key) != theirs[key])


def read_records(out_dir: Path) -> list[dict]:
    """The fold records (``fold-<k>.json``) in ``out_dir``, in fold order."""
    return [
        json.loads(path.read_text())
        for path in sorted(Path(out_dir).glob("fold-*.json"), key=lambda p: int(p.stem[5:]))
    ]


def summarize(out_dir: Path) -> dict:
    """Per fold and mean ± spread over the folds present in ``out_dir``."""
    records = read_records(out_dir)
    if not records:
        raise data.DatasetError(f"No fold results in {out_dir}.")
    # An option a fold did not record (it came later) was at its default.
    recipes_differ = any(_recipe_changes(records[0]["recipe"], r["recipe"]) for r in records)
    fingerprints = {r["data"]["fingerprint"] for r in records}
    fold_counts = {r["folds"] for r in records}
    if recipes_differ or len(fingerprints) > 1 or len(fold_counts) > 1:
        raise data.DatasetError(
            f"The folds in {out_dir} come from different recipes, data or numbers of folds."
        )
    rows = [_fold_row(record, [r for r in records if r is not record]) for record in records]
    keys = [key for key in rows[0] if key != "fold"]
    summary = {
        "recipe": records[0]["recipe"],
        "folds": records[0]["folds"],
        "folds_done": [r["fold"] for r in records],
        # Counted in the mean like every fold: a recipe that may not learn at all is
        # judged with the folds where it did not.
        "never_learned_folds": [r["fold"] for r in records if never_learned(_pooled([r])[0])],
        "data": {k: records[0]["data"][k] for k in ("folders", "fingerprint")},
        "per_fold": rows,
        "mean": {k: _mean([row[k] for row in rows]) for k in keys},
        "spread": {k: _std([row[k] for row in rows]) for k in keys},
        "calibration": out_of_fold_calibration(records),
        "confusion": out_of_fold_confusion(records),
    }
    return summary


def _recipe_changes(one: dict, other: dict) -> list[str]:
    """The options in which two recorded recipes differ, whichever side recorded them."""
    return sorted(set(recipe_differences(one, other)) | set(recipe_differences(other, one)))


def out_of_fold_confusion(records: list[dict]) -> dict:
    """Rows the true class, columns the predicted one, over every out-of-fold slice
    the model did not refuse: what each class is mistaken for on new patients."""
    probabilities, labels, refused, _ = _pooled(records)
    classes = list(records[0]["recipe"]["class_names"])
    matrix = np.zeros((len(classes), len(classes)), dtype=np.int64)
    np.add.at(matrix, (labels[~refused], probabilities[~refused].argmax(axis=1)), 1)
    return {"classes": classes, "matrix": matrix.tolist()}


def read_as_new_patients(
    record: dict, others: list[dict], rule: ThresholdRule = accurate_above
) -> dict:
    """How a version calibrated on the ``others``' out-of-fold predictions flags the
    fold in ``record``, whose patients are new to its temperature and threshold: the
    threshold, confidently wrong (wrong, not flagged, not refused) and uncertain
    (flagged for review) as shares of the fold's readings."""
    fitted = out_of_fold_calibration(others, rule)
    probabilities, labels, refused, _ = _pooled([record])
    scaled = apply_temperature(probabilities, fitted["temperature"])
    confident = (scaled.max(axis=1) >= fitted["uncertain_below"]) & ~refused
    wrong = scaled.argmax(axis=1) != labels
    return {
        "threshold": fitted["uncertain_below"],
        "confidently_wrong": float(np.mean(confident & wrong)),
        "uncertain_share": float(np.mean(~confident & ~refused)),
    }


def _fold_row(record: dict, others: list[dict]) -> dict:
    report = record["report"]
    row = {
        "fold": record["fold"],
        "accuracy": report["accuracy"],
        "balanced_accuracy": record["balanced_accuracy"],
        **{f"recall_{n}": s["recall"] for n, s in report["per_class"].items()},
        "refused_share": record["refused_share"],
        "attention_in_body": record["attention_in_body"]["mean"],
        # Records written before the yardstick existed have none.
        "attention_even_body": record["attention_in_body"].get("even_body", {}).get("mean"),
        **{
            f"attention_{n}": share for n, share in record["attention_in_body"]["per_class"].items()
        },
        "confidently_wrong": None,
        "uncertain_share": None,
    }
    if others:
        # Fitted on the other folds only: this fold's slices are new to it.
        flagged = read_as_new_patients(record, others)
        row["confidently_wrong"] = flagged["confidently_wrong"]
        row["uncertain_share"] = flagged["uncertain_share"]
    return row


def _pooled(records: list[dict]):
    predictions = [p for record in records for p in record["predictions"]]
    probabilities = np.array([p["probabilities"] for p in predictions], dtype=np.float64)
    labels = np.array([p["label"] for p in predictions], dtype=np.int64)
    refused = np.array([p["refused"] for p in predictions], dtype=bool)
    folds = np.array([r["fold"] for r in records for _ in r["predictions"]])
    return probabilities, labels, refused, folds


def _figure(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def _mean(values: list) -> float | None:
    present = [v for v in values if v is not None]
    return round(float(np.mean(present)), 4) if present else None


def _std(values: list) -> float | None:
    present = [v for v in values if v is not None]
    return round(float(np.std(present)), 4) if len(present) > 1 else None


def _relative(path: Path, roots: list[Path]) -> str:
    for root in roots:
        if root in path.parents:
            return f"{root.name}/{path.relative_to(root)}"
    return str(path)


def write_json(path: Path, payload: dict) -> None:
    """Write-then-rename: a reader (or a second process) never sees half a file."""
    handle, scratch = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(handle, "w") as stream:
        json.dump(payload, stream, indent=1)
    os.replace(scratch, path)
