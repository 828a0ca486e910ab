"""Read a trained network as the version will serve it: held-out predictions,
metrics, and the calibration fitted on them."""

from __future__ import annotations

import keras
import numpy as np

from mlcore import data
from mlcore.calibration import apply_temperature, calibrate, uncertain_threshold
from mlcore.evaluation import classification_report
from mlcore.inference import average_with_mirror
from mlcore.training.callbacks import (
    NeverLearnedError,
    first_averaged_epoch,
    never_learned,
    reading_spread,
    spread_images,
)
from mlcore.training.config import TrainConfig


def check_learned(
    model: keras.Model, train_set: data.DecodedImages, history: dict, seed: int
) -> float:
    """The reading spread over up to SPREAD_SAMPLE training images spaced evenly
    through the set (every class); raises NeverLearnedError when it is nil."""
    probabilities = model.predict(spread_images(train_set), batch_size=64, verbose=0)
    spread = reading_spread(probabilities)
    if never_learned(probabilities):
        classes = model.output_shape[-1]
        raise NeverLearnedError(
            f"The network trained with seed {seed} never learned: it gives every training "
            f"image the same reading (spread {spread:.2g}; training loss at the end "
            f"{history['loss'][-1]:.4f}, chance is ln {classes} = {np.log(classes):.4f}). "
            "Nothing was saved. Train again with another --seed."
        )
    return spread


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
    seed: int,
    history: dict,
    model: keras.Model,
    val_set: data.DecodedImages,
    config: TrainConfig,
    *,
    spread: float,
) -> dict:
    """What the version's metadata says about one trained network (``spread``: its
    reading spread over training images, from :func:`check_learned`)."""
    has_validation = len(val_set.labels) > 0
    report = evaluate_arrays(model, val_set, config) if has_validation else None
    return {
        "seed": seed,
        "epochs_run": len(history["loss"]),
        "best_epoch": _best_epoch(history, has_validation),
        "kept": _kept(config, history, has_validation),
        "reading_spread": round(spread, 4),
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
