"""Fold records as crossvalidate_model writes them (fold-K.json), small enough to read:
four held-out slices per fold, one per class, with the readings given."""

from __future__ import annotations

import json
from pathlib import Path

CLASSES = ["Cyst", "Normal", "Stone", "Tumor"]


def record(
    fold: int,
    rows: list[list[float]],
    *,
    refused=None,
    attention=0.5,
    epochs=30,
    recipe: dict | None = None,
    fingerprint: str = "f",
) -> dict:
    """Fold ``fold`` of two, of ``recipe`` (by default one of ``epochs`` epochs) on
    the data of ``fingerprint``."""
    labels = [0, 1, 2, 3][: len(rows)]
    return {
        "fold": fold,
        "folds": 2,
        "recipe": recipe or {"class_names": CLASSES, "epochs": epochs},
        "data": {"folders": ["x"], "fingerprint": fingerprint},
        "train_seconds": 10.0,
        "attention_in_body": {
            "mean": attention,
            "per_class": {name: attention for name in CLASSES},
            "n_images": 4,
        },
        "predictions": [
            {
                "path": f"{CLASSES[label]}/{CLASSES[label]}- ({fold * 10 + label}).jpg",
                "label": label,
                "probabilities": row,
                "refused": bool(refused and refused[label]),
            }
            for label, row in zip(labels, rows, strict=True)
        ],
    }


def write_run(root: Path, *records: dict) -> Path:
    root.mkdir(parents=True)
    for r in records:
        (root / f"fold-{r['fold']}.json").write_text(json.dumps(r))
    return root


SURE = [[0.9, 0.1, 0, 0], [0, 0.9, 0.1, 0], [0, 0, 0.9, 0.1], [0.1, 0, 0, 0.9]]
# Right on Cyst and Normal, Stone read as Tumor and Tumor as Cyst.
HALF = [[0.7, 0.3, 0, 0], [0, 0.7, 0.3, 0], [0, 0, 0.3, 0.7], [0.7, 0, 0, 0.3]]
# Wrong on Cyst and Normal only.
OTHER_HALF = [[0.2, 0.8, 0, 0], [0.8, 0.2, 0, 0], [0, 0, 0.8, 0.2], [0.2, 0, 0, 0.8]]


def prediction(path: str, label: int, read: int, sure: float = 0.7, refused=False) -> dict:
    """One recorded out-of-fold reading of ``path``: ``read`` at probability ``sure``,
    the rest shared by the other classes."""
    probabilities = [sure if c == read else (1 - sure) / 3 for c in range(4)]
    return {"path": path, "label": label, "probabilities": probabilities, "refused": refused}
