"""Read a trained network as the version will serve it: held-out predictions,
metrics, and the calibration fitted on them."""

from __future__ import annotations

import keras
import numpy as np

from mlcore import data
from mlcore.calibration import apply_temperature, calibrate, uncertain_threshold
from mlcore.evaluation import classification_report
from mlcore.inference import average_with_mirror
from mlcore.training.callbacks import first_averaged_epoch
from mlcore.training.config import TrainConfig


def predict_decoded(model: keras.Model, decoded: data.DecodedImages, config: TrainConfig):
    """Uncalibrated probabilities as the version will serve: with flip averaging when
    configured."""

    def forward(images: np.ndarray) -> np.ndarray:
        return model.predict(images, batch_size=64, verbose=0)

    if config.flip_averaging:
        return average_with_mirror(forward, decoded.images)
    return forward(decoded.images)


def evaluate_arrays(model: keras.Model, decoded: data.DecodedImages, config: TrainConfig) -> dict:
    """Metrics as the version will serve (the temperature never changes the label)."""
    probabilities = predict_decoded(model, decoded, config)
    return classification_report(decoded.labels, probabilities, config.class_names)


def served_calibration(
    probabilities: np.ndarray, labels: np.ndarray, *, target_accuracy: float = 0.98
) -> tuple[dict, float]:
    """Temperature scaling and the "uncertain" threshold fitted on held-out readings
    (uncalibrated probabilities, as served): the calibration and the threshold a
    version records. The threshold is chosen on the temperature-scaled readings, as
    the classifier compares them."""
    calibration = calibrate(probabilities, labels)
    scaled = apply_temperature(probabilities, calibration["temperature"])
    return calibration, uncertain_threshold(scaled, labels, target_accuracy=target_accuracy)


def member_record(
    seed: int, history: dict, model: keras.Model, val_set: data.DecodedImages, config: TrainConfig
) -> dict:
    """What the version's metadata says about one trained network."""
    has_validation = len(val_set.labels) > 0
    report = evaluate_arrays(model, val_set, config) if has_validation else None
    return {
        "seed": seed,
        "epochs_run": len(history["loss"]),
        "best_epoch": _best_epoch(history, has_validation),
        "kept": _kept(config, history, has_validation),
        "validation": report,
        "history": {k: [round(float(v), 5) for v in vs] for k, vs in history.items()},
    }


def _kept(config: TrainConfig, history: dict, has_validation: bool) -> str:
    """Which weights the member is made of."""
    epochs = len(history["loss"])
    if config.average_last:
        return f"average of epochs {first_averaged_epoch(epochs, config.average_last)}-{epochs}"
    if has_validation:
        return "best epoch by validation accuracy"
    return "last epoch"


def _best_epoch(history: dict, has_validation: bool) -> int:
    if not has_validation:
        return len(history["loss"])
    return int(np.argmax(history["val_accuracy"])) + 1
