"""Callbacks of a training run: batch-normalisation statistics fixed before each
validation, weight averaging of the last epochs, one progress line per epoch."""

from __future__ import annotations

import time

import keras
import numpy as np

from mlcore.training.config import Log, TrainConfig
from mlcore.training.inputs import make_augmenter


def first_averaged_epoch(epochs: int, average_last: int) -> int:
    """The first (1-based) of the last ``average_last`` epochs of ``epochs``."""
    return max(epochs - average_last + 1, 1)


class WeightAverage(keras.callbacks.Callback):
    """Sum the weights from epoch ``first_epoch`` (1-based) on; ``apply`` sets the mean.

    Stochastic weight averaging (Izmailov et al., 2018) without a schedule of its
    own: the late epochs of the cosine decay are averaged. Batch-normalisation
    statistics must be recomputed afterwards (the caller does).
    """

    def __init__(self, first_epoch: int):
        super().__init__()
        self.first_epoch = first_epoch
        self.total: list[np.ndarray] | None = None
        self.count = 0

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 < self.first_epoch:
            return
        weights = self.model.get_weights()
        if self.total is None:
            self.total = [w.astype(np.float64) for w in weights]
        else:
            self.total = [t + w for t, w in zip(self.total, weights, strict=True)]
        self.count += 1

    def apply(self) -> None:
        if self.count:
            self.model.set_weights([(t / self.count).astype(np.float32) for t in self.total])


class PreciseBatchNormValidation(keras.callbacks.Callback):
    """At each epoch end, recompute BatchNormalization statistics, then validate.

    Moving averages with momentum 0.9 remember only the last ~10 augmented batches,
    so inference quality swung from epoch to epoch with whichever batches came last
    (validation 58-94 % across late epochs, measured here); slower momentum (0.99,
    0.999) lagged so far behind that validation stayed at chance. Statistics of one
    large augmented batch, computed with the final weights of the epoch, fix both.
    """

    def __init__(self, train_set, val_set, config: TrainConfig, seed: int, batch: int = 256):
        super().__init__()
        rng = np.random.default_rng(seed)
        picked = rng.permutation(len(train_set.labels))[:batch]
        self.calibration = train_set.images[picked]
        self.val_set = val_set
        self.augment = make_augmenter(seed + 1, config)
        self.num_classes = len(config.class_names)
        self.label_smoothing = config.label_smoothing

    def on_epoch_end(self, epoch, logs=None):
        self.recompute_statistics()
        if logs is not None and len(self.val_set.labels):
            logs.update(self.validate())

    def recompute_statistics(self) -> None:
        norms = [
            layer
            for layer in _all_layers(self.model)
            if isinstance(layer, keras.layers.BatchNormalization) and layer.trainable
        ]
        saved = [layer.momentum for layer in norms]
        for layer in norms:
            layer.momentum = 0.0  # moving statistics := this batch's statistics
        # Eager call: the compiled training step keeps its own momentum.
        self.model(self.augment(self.calibration, training=True), training=True)
        for layer, momentum in zip(norms, saved, strict=True):
            layer.momentum = momentum

    def validate(self) -> dict:
        probabilities = self.model.predict(self.val_set.images, batch_size=64, verbose=0)
        targets = keras.utils.to_categorical(self.val_set.labels, self.num_classes)
        loss = keras.losses.CategoricalCrossentropy(label_smoothing=self.label_smoothing)
        return {
            "val_loss": float(loss(targets, probabilities)),
            "val_accuracy": float(np.mean(np.argmax(probabilities, 1) == self.val_set.labels)),
        }


def _all_layers(model: keras.Model) -> list[keras.layers.Layer]:
    """Every layer, nested models (the MobileNetV2 base) included."""
    found = []
    for layer in model.layers:
        found.append(layer)
        if isinstance(layer, keras.Model):
            found += _all_layers(layer)
    return found


class ProgressLog(keras.callbacks.Callback):
    """One line per epoch: losses, accuracies, time and the estimated time left."""

    def __init__(self, epochs: int, log: Log):
        super().__init__()
        self.epochs = epochs
        self.log = log

    def on_train_begin(self, logs=None):
        self.started = time.monotonic()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        elapsed = time.monotonic() - self.started
        eta = elapsed / (epoch + 1) * (self.epochs - epoch - 1)
        parts = [f"epoch {epoch + 1}/{self.epochs}"]
        for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
            if key in logs:
                parts.append(f"{key} {logs[key]:.4f}")
        parts.append(f"{elapsed:.0f}s elapsed, ETA {eta:.0f}s")
        self.log(" - ".join(parts))
