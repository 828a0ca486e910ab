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


def evaluate_folder(
    classifier, data_dirs: Sequence, *, batch_size: int = 64, explainer=None
) -> dict:
    """Classify every image of one or more class-folder trees (duplicates kept once);
    unreadable images are counted apart. With a Grad-CAM ``explainer``
    (mlcore.explain.GradCam) the report adds ``attention_in_body``."""
    _, items = data.list_images_in(data_dirs, classifier.class_names)
    items = data.drop_duplicates(items).kept
    labels, chunks, skipped = [], [], []
    for start in range(0, len(items), batch_size):
        decoded = data.decode_images(
            items[start : start + batch_size],
            classifier.image_size,
            body_mask=classifier.body_mask,
            body_crop=classifier.body_crop,
            views=classifier.views,
        )
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
    result = {**report, "ece": ece, "model_version": classifier.version, "skipped": skipped}
    if explainer is not None and len(true):
        result["attention_in_body"] = _attention(classifier, explainer, items)
    return result


def _attention(classifier, explainer, items: Sequence[data.LabeledImage]) -> dict:
    """attention_in_body on up to ATTENTION_PER_CLASS images per class, evenly spaced."""
    from mlcore.explain import ATTENTION_PER_CLASS, attention_by_class

    picked = []
    for label in range(len(classifier.class_names)):
        members = [item for item in items if item.label == label]
        step = max(len(members) / ATTENTION_PER_CLASS, 1)
        picked += [members[int(k * step)] for k in range(min(len(members), ATTENTION_PER_CLASS))]
    decoded = data.decode_images(
        picked,
        classifier.image_size,
        body_mask=classifier.body_mask,
        body_crop=classifier.body_crop,
        views=classifier.views,
    )
    predicted = np.argmax(classifier.predict_arrays(decoded.images, calibrated=False), axis=1)
    return attention_by_class(
        explainer, decoded.images, decoded.labels, predicted, classifier.class_names
    )
