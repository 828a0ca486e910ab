"""Callbacks of a training run: batch-normalisation statistics fixed before each
validation, weight averaging of the last epochs, a dead start caught early, one
progress line per epoch."""

from __future__ import annotations

import time

import keras
import numpy as np

from mlcore.training.config import Log, TrainConfig
from mlcore.training.inputs import make_augmenter

# A network that gives every image the same reading never learned: seen in the
# 20 cross-validation folds in docs/crossval by session 11 once (balanced sampling,
# fold 1), and in session 21 in the shipped recipe with --seed 2 on fold 3; the
# training loss of both stayed at ln 4 = 1.386, chance, from the second epoch on.
# The first one's readings varied by less than 1e-6 over its held-out slices; every
# fold that learned varied by 0.24-0.43 (the largest standard deviation of one
# class's probability).
NEVER_LEARNED_SPREAD = 1e-3
SPREAD_SAMPLE = 256


class NeverLearnedError(RuntimeError):
    """A trained network reads every image the same way; nothing may be saved."""


def reading_spread(probabilities: np.ndarray) -> float:
    """How much readings vary from image to image: the largest standard deviation
    of one class's probability over the images (0 for a network that never learned)."""
    return float(np.max(np.std(np.asarray(probabilities, dtype=np.float64), axis=0)))


def never_learned(probabilities: np.ndarray) -> bool:
    """True for readings that do not vary (or are not numbers: the weights blew up)."""
    return not reading_spread(probabilities) >= NEVER_LEARNED_SPREAD


def spread_images(train_set) -> np.ndarray:
    """Up to SPREAD_SAMPLE training images spaced evenly through the set (every
    class), on which a network's reading spread is measured."""
    picked = np.linspace(0, len(train_set.labels) - 1, SPREAD_SAMPLE).astype(int)
    return train_set.images[np.unique(picked)]


class DeadStartCheck(keras.callbacks.Callback):
    """At the end of epoch ``epoch`` (1-based), read the training images of
    :func:`spread_images`; if every one gets the same reading (:func:`never_learned`)
    stop training and keep the epoch and its loss in ``dead``.

    Both dead starts seen so far sat at chance from the second epoch, the last of the
    warm-up, and never left it (30 and 20 epochs): a network whose head's units have
    all gone silent passes no gradient back. Run after the batch-normalisation
    statistics are fixed, so it reads the network as validation does.
    """

    def __init__(self, train_set, epoch: int):
        super().__init__()
        self.images = spread_images(train_set)
        self.epoch = epoch
        self.dead: tuple[int, float] | None = None

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 != self.epoch:
            return
        probabilities = self.model.predict(self.images, batch_size=64, verbose=0)
        if never_learned(probabilities):
            self.dead = (epoch + 1, float((logs or {}).get("loss", float("nan"))))
            self.model.stop_training = True


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
