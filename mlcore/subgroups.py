"""Cross-validated figures by subgroup of held-out slices.

A mean over patient blocks can hide a kind of slice the model reads badly. Two
kinds matter here: the data folder a slice came from (the sample's few patients,
files 1-400, against the many further ones), and the slice's plane: an axial
slice shows the body's whole cross-section, while coronal and sagittal slices
(:func:`mlcore.body.fills_frame_height`) fill the frame's height. All but 4 of the
606 coronal slices are the sample's, and the hidden slices of files 401-500 come
from the same series.

:func:`subgroup_report` reads a cross-validation's fold records (``fold-K.json``
of ``crossvalidate_model`` or ``crossvalidate_ensemble``) and gives, for each
subgroup, each fold's balanced accuracy (the mean recall of the classes present)
with its number of slices, the mean and spread over the folds that hold the
subgroup, and the figures pooled over all folds. Refused slices count by their
reading, as in every cross-validation table.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from mlcore import body, data
from mlcore.preprocessing import PLANE_SIZE, load_views

AXIAL = "axial"
FRAME_FILLING = "fills the frame"


def slice_plane(path: Path) -> str:
    """AXIAL, or FRAME_FILLING for a slice whose body fills it from top to bottom (a
    coronal or sagittal slice), as serving judges it
    (:func:`mlcore.preprocessing.slice_fills_frame`); a blank frame counts as axial."""
    return FRAME_FILLING if load_views(path, PLANE_SIZE).fills_frame else AXIAL


def record_planes(
    records: Sequence[dict],
    roots: Sequence[Path],
    *,
    plane: Callable[[Path], str] = slice_plane,
    planes: dict[str, str] | None = None,
) -> dict[str, str]:
    """Each recorded slice's plane, by its recorded path (``<folder name>/<class>/<file>``,
    read under the one of ``roots`` of that name). ``planes``, when given, is filled and
    reused, so several cross-validations of the same slices read each image once."""
    planes = {} if planes is None else planes
    for record in records:
        for prediction in record["predictions"]:
            path = prediction["path"]
            if path not in planes:
                planes[path] = plane(recorded_file(path, roots))
    return planes


def recorded_file(path: str, roots: Sequence[Path]) -> Path:
    """The file of a recorded path (``<folder name>/<class>/<file>``): under the one of
    ``roots`` of that folder name."""
    by_name = {Path(root).name: Path(root) for root in roots}
    folder = path.split("/", 1)[0]
    if folder not in by_name:
        raise data.DatasetError(
            f"{path}: no --data-dir named {folder!r} "
            f"(given: {', '.join(sorted(by_name)) or 'none'})."
        )
    return by_name[folder].parent / path


def subgroup_report(
    records: Sequence[dict],
    roots: Sequence[Path],
    *,
    plane: Callable[[Path], str] = slice_plane,
    planes: dict[str, str] | None = None,
) -> dict:
    """Balanced accuracy per subgroup (data folder, plane, and both), per fold, mean ±
    spread over the folds holding the subgroup, and pooled.

    ``records`` are one cross-validation's fold records; each slice's plane comes from
    :func:`record_planes` (``plane``, ``planes`` as there)."""
    if not records:
        raise data.DatasetError("No fold records to report on.")
    planes = record_planes(records, roots, plane=plane, planes=planes)
    class_names = list(records[0]["recipe"]["class_names"])
    rows = []
    for record in records:
        for prediction in record["predictions"]:
            rows.append(
                (
                    record["fold"],
                    prediction["path"].split("/", 1)[0],
                    planes[prediction["path"]],
                    prediction["label"],
                    int(np.argmax(prediction["probabilities"])),
                )
            )
    folds = sorted({row[0] for row in rows})
    folders = sorted({row[1] for row in rows})
    kinds = sorted({row[2] for row in rows})
    groups = (
        [(folder, None) for folder in folders]
        + [(None, kind) for kind in kinds]
        + [(folder, kind) for folder in folders for kind in kinds]
    )
    report = []
    for folder, kind in groups:
        chosen = [
            row
            for row in rows
            if (folder is None or row[1] == folder) and (kind is None or row[2] == kind)
        ]
        if not chosen:
            continue
        per_fold = [
            {"fold": fold, **_figures([r for r in chosen if r[0] == fold], class_names)}
            for fold in folds
            if any(r[0] == fold for r in chosen)
        ]
        values = [row["balanced_accuracy"] for row in per_fold]
        report.append(
            {
                "folder": folder,
                "plane": kind,
                "per_fold": per_fold,
                "mean": round(float(np.mean(values)), 4),
                "spread": round(float(np.std(values)), 4) if len(values) > 1 else None,
                "pooled": _figures(chosen, class_names),
            }
        )
    return {
        "folds": folds,
        "plane_rule": f"{FRAME_FILLING}: the body spans at least "
        f"{body.FILLS_FRAME * 100:.0f} % of the frame's height",
        "groups": report,
    }


def _figures(rows: list[tuple], class_names: list[str]) -> dict:
    """Balanced accuracy over the classes present, each class's recall and count."""
    recall = {}
    for index, name in enumerate(class_names):
        of_class = [row for row in rows if row[3] == index]
        if of_class:
            recall[name] = {
                "recall": round(sum(row[4] == index for row in of_class) / len(of_class), 4),
                "n": len(of_class),
            }
    return {
        "n": len(rows),
        "balanced_accuracy": round(float(np.mean([c["recall"] for c in recall.values()])), 4),
        "recall": recall,
    }
