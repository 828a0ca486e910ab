"""Distillation: training targets that mix the labels with a teacher version's
probabilities."""

from __future__ import annotations

import keras
import numpy as np

from mlcore import data, versions
from mlcore.training.config import Log, TrainConfig


def distillation_targets(
    config: TrainConfig, whole_train: data.DecodedImages, fingerprint: str, log: Log
) -> np.ndarray:
    """Training targets mixing the labels with a teacher version's probabilities.

    The teacher reads each training slice as it serves (its input size, flip
    averaging, no temperature). It must have been trained on this very training
    split: a teacher that saw the held-out slices would leak them into the targets.
    """
    from mlcore.inference import load_classifier

    if not 0 < config.teacher_weight <= 1:
        raise ValueError("the teacher weight must be above 0 and at most 1")
    try:
        teacher = load_classifier(config.teacher, models_dir=config.models_dir, runtime="keras")
    except FileNotFoundError as exc:
        raise versions.VersionError(f"Teacher {config.teacher}: {exc}") from exc
    trained_on = teacher.metadata.get("dataset", {}).get("fingerprint")
    training = teacher.metadata.get("training", {})
    teacher_split = (training.get("val_fraction"), training.get("val_fold", 0))
    if trained_on != fingerprint or teacher_split != (config.val_fraction, config.val_fold):
        raise data.DatasetError(
            f"Teacher {teacher.version} was not trained on this data with this split "
            f"(--val-fraction {teacher_split[0]} --val-fold {teacher_split[1]}): its "
            "probabilities could carry the held-out images into training."
        )
    if tuple(teacher.class_names) != tuple(config.class_names):
        raise data.DatasetError(f"Teacher {teacher.version} has other classes.")
    # The whole slices, masked (or not) as the teacher itself reads them.
    if teacher.image_size == config.image_size and not (teacher.body_crop or teacher.views):
        images = teacher.model_input(whole_train.images)
    else:
        images = np.stack([teacher.read(path).model_input for path in whole_train.paths])
    probabilities = np.concatenate(
        [
            teacher.predict_arrays(images[start : start + 64], calibrated=False)
            for start in range(0, len(images), 64)
        ]
    )
    agreement = float(np.mean(np.argmax(probabilities, 1) == whole_train.labels))
    log(f"Teacher {teacher.version}: agrees with {agreement:.1%} of the training labels")
    labels = keras.utils.to_categorical(whole_train.labels, len(config.class_names))
    return (1 - config.teacher_weight) * labels + config.teacher_weight * probabilities
