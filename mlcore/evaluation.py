"""Classification metrics computed from predicted probabilities."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from mlcore import data
from mlcore.calibration import ECE_BINS, apply_temperature, expected_calibration_error


def confusion_matrix(true: np.ndarray, predicted: np.ndarray, num_classes: int) -> np.ndarray:
    """Rows are the true class, columns the predicted class."""
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (np.asarray(true, dtype=np.int64), np.asarray(predicted, dtype=np.int64)), 1)
    return matrix


def recall_summary(report: dict) -> str:
    """'Cyst 100.0%, Normal 98.8%, ...': one line for a command's summary."""
    return ", ".join(
        f"{name} {scores['recall']:.1%}" for name, scores in report["per_class"].items()
    )


def classification_report(
    true: np.ndarray, probabilities: np.ndarray, class_names: Sequence[str]
) -> dict:
    """Accuracy, per-class precision/recall/F1/support and the confusion matrix."""
    true = np.asarray(true, dtype=np.int64)
    predicted = np.argmax(probabilities, axis=1) if len(true) else true
    matrix = confusion_matrix(true, predicted, len(class_names))
    per_class = {}
    for index, name in enumerate(class_names):
        hits = int(matrix[index, index])
        support = int(matrix[index].sum())
        precision = _ratio(hits, int(matrix[:, index].sum()))
        recall = _ratio(hits, support)
        f1 = _ratio(2 * precision * recall, precision + recall)
        per_class[name] = {
            "precision": precision,
            "recall": recall,
            "f1": f1,
            "support": support,
        }
    return {
        "accuracy": _ratio(int(np.trace(matrix)), len(true)),
        "per_class": per_class,
        "confusion_matrix": matrix.tolist(),
        "classes": list(class_names),
        "n_images": len(true),
    }


def _ratio(numerator: float, denominator: float) -> float:
    return float(numerator / denominator) if denominator else 0.0


def evaluate_folder(classifier, data_dir, *, batch_size: int = 64) -> dict:
    """Classify every image of a class-folder tree; unreadable images are counted apart."""
    root = data.find_dataset_root(data_dir, classifier.class_names)
    items = data.list_images(root, classifier.class_names)
    labels, chunks, skipped = [], [], []
    for start in range(0, len(items), batch_size):
        decoded = data.decode_images(items[start : start + batch_size], classifier.image_size)
        skipped += [{"path": str(path), "reason": reason} for path, reason in decoded.skipped]
        if len(decoded.labels):
            labels.append(decoded.labels)
            chunks.append(classifier.predict_arrays(decoded.images, calibrated=False))
    n_classes = len(classifier.class_names)
    true = np.concatenate(labels) if labels else np.zeros(0, np.int64)
    raw = np.concatenate(chunks) if chunks else np.zeros((0, n_classes))
    calibrated = apply_temperature(raw, classifier.temperature)
    report = classification_report(true, calibrated, classifier.class_names)
    ece = {
        "before": expected_calibration_error(raw, true) if len(true) else None,
        "after": expected_calibration_error(calibrated, true) if len(true) else None,
        "temperature": classifier.temperature,
        "bins": ECE_BINS,
    }
    return {**report, "ece": ece, "model_version": classifier.version, "skipped": skipped}
