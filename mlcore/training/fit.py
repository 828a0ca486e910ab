"""Fit one network (or several, averaged into one ensemble model)."""

from __future__ import annotations

import math
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from mlcore import data
from mlcore.model import make_model
from mlcore.training.callbacks import (
    DeadStartCheck,
    NeverLearnedError,
    PreciseBatchNormValidation,
    ProgressLog,
    WeightAverage,
    first_averaged_epoch,
)
from mlcore.training.config import Log, TrainConfig
from mlcore.training.inputs import make_dataset

# When a dead start is looked for (DeadStartCheck): two epochs after the warm-up.
DEAD_START_EPOCH = 4
# A retried network's seed: seed + RETRY_SEED_STEP, + 2 * RETRY_SEED_STEP...: far from
# the consecutive seeds of an ensemble's members.
RETRY_SEED_STEP = 1000


@dataclass
class Fitted:
    model: keras.Model
    history: dict
    seed: int  # the seed the network was trained with
    # Seeds that started dead, with the epoch they were stopped at and its loss.
    dead_starts: list[dict] = field(default_factory=list)


class DeadStartError(RuntimeError):
    """The network was still reading every training image alike at ``epoch``."""

    def __init__(self, seed: int, epoch: int, loss: float):
        super().__init__(f"seed {seed}: a dead start (epoch {epoch}, loss {loss:.4f})")
        self.record = {"seed": seed, "epoch": epoch, "loss": round(loss, 5)}


def fit_learning_member(
    config: TrainConfig,
    seed: int,
    train_set: data.DecodedImages,
    val_set: data.DecodedImages,
    log: Log,
    *,
    targets: np.ndarray | None = None,
    weights: np.ndarray | None = None,
    keep_last: bool = False,
) -> Fitted:
    """:func:`fit_member`, trained again with another seed (``seed`` + 1000, + 2000...,
    at most ``config.dead_start_retries`` times) when the network has not started
    learning by epoch DEAD_START_EPOCH; the check reads training images only. When
    every seed starts dead, raises NeverLearnedError, or with ``keep_last`` trains the
    last one to the end and returns it (a cross-validation records such a fold, and
    names it, rather than stopping)."""
    dead_starts = []
    for attempt in range(config.dead_start_retries + 1):
        tried = seed + attempt * RETRY_SEED_STEP
        last = attempt == config.dead_start_retries
        try:
            model, history = fit_member(
                config,
                tried,
                train_set,
                val_set,
                log,
                targets=targets,
                weights=weights,
                stop_dead=not (last and keep_last),
            )
        except DeadStartError as exc:
            dead_starts.append(exc.record)
            log(
                f"Seed {tried} started dead: every training image read alike at epoch "
                f"{exc.record['epoch']} (loss {exc.record['loss']:.4f}, chance ln "
                f"{len(config.class_names)} = {np.log(len(config.class_names)):.4f})."
                + (
                    " Training again with another seed."
                    if attempt < config.dead_start_retries
                    else ""
                )
            )
        else:
            return Fitted(model, history, tried, dead_starts)
    raise NeverLearnedError(
        f"The network never learned with seeds "
        f"{', '.join(str(d['seed']) for d in dead_starts)}: each read every training "
        f"image alike at epoch {dead_starts[-1]['epoch']} (training loss "
        f"{dead_starts[-1]['loss']:.4f}, chance is ln {len(config.class_names)} = "
        f"{np.log(len(config.class_names)):.4f}). Nothing was saved. Train again with "
        "another --seed."
    )


def fit_member(
    config: TrainConfig,
    seed: int,
    train_set: data.DecodedImages,
    val_set: data.DecodedImages,
    log: Log,
    *,
    targets: np.ndarray | None = None,
    weights: np.ndarray | None = None,
    stop_dead: bool = True,
) -> tuple[keras.Model, dict]:
    """Train one network; returns it and its history.

    The network kept is the best checkpoint by validation accuracy, or, with
    ``config.average_last``, the average of the last epochs' weights.
    ``targets`` (N, classes) replace the one-hot labels when given (distillation);
    ``weights`` (N,) are the slices' loss weights in place of the class weights
    (``--folder-balance``: :meth:`PreparedData.train_weights`). A network still
    reading every training image alike at epoch DEAD_START_EPOCH raises
    DeadStartError there, unless ``stop_dead`` is off.
    """
    if config.folder_balance != (weights is not None):
        raise ValueError("--folder-balance trains with the slices' loss weights, and only it")
    keras.utils.set_random_seed(seed)
    # Same seed, same model: without this, thread scheduling changes the weights.
    tf.config.experimental.enable_op_determinism()
    model = make_model(
        config.image_size,
        len(config.class_names),
        alpha=config.alpha,
        weights=config.weights,
        head_units=config.head_units,
        dropout=config.dropout,
        fine_tune_layers=config.fine_tune_layers,
    )
    steps_per_epoch = math.ceil(len(train_set.labels) / config.batch_size)
    model.compile(
        optimizer=keras.optimizers.AdamW(
            _schedule(config, steps_per_epoch), weight_decay=config.weight_decay
        ),
        loss=keras.losses.CategoricalCrossentropy(label_smoothing=config.label_smoothing),
        metrics=["accuracy"],
        jit_compile=config.jit_compile,
    )
    with tempfile.TemporaryDirectory() as scratch:
        checkpoint = Path(scratch) / "best.keras"
        callbacks = _callbacks(config, seed, train_set, val_set, checkpoint, log)
        dead_start = None
        if stop_dead:
            dead_start = DeadStartCheck(train_set, min(DEAD_START_EPOCH, config.epochs))
            callbacks.insert(1, dead_start)  # after the statistics are fixed
        history = model.fit(
            make_dataset(
                train_set, config, seed=seed, training=True, targets=targets, weights=weights
            ),
            epochs=config.epochs,
            # Balanced sampling already evens the classes out: weighting too would
            # count Stone twice over. Folder balance weights each slice (the class
            # weights included).
            class_weight=None
            if config.balanced_sampling or weights is not None
            else data.class_weights(train_set.labels, len(config.class_names)),
            callbacks=callbacks,
            shuffle=False,  # the pipeline shuffles, reproducibly, with the seed
            verbose=0,
        )
        if dead_start and dead_start.dead:
            raise DeadStartError(seed, *dead_start.dead)
        averaging = [c for c in callbacks if isinstance(c, WeightAverage)]
        if averaging:
            averaging[0].apply()
            statistics = next(c for c in callbacks if isinstance(c, PreciseBatchNormValidation))
            statistics.recompute_statistics()
            if len(val_set.labels):
                scores = statistics.validate()
                log(
                    f"Average of epochs {averaging[0].first_epoch}-{len(history.history['loss'])}"
                    f": val_accuracy {scores['val_accuracy']:.4f}"
                )
        elif checkpoint.exists():
            # Without compile: the optimizer state would otherwise be saved with the version.
            model = keras.saving.load_model(checkpoint, compile=False)
    return model, history.history


def make_ensemble(members: list[keras.Model]) -> keras.Model:
    """One model that averages the members' probabilities (one file, one forward pass)."""
    inputs = keras.Input(members[0].input_shape[1:], name="image")
    outputs = []
    for index, member in enumerate(members):
        member.name = f"member_{index}"
        outputs.append(member(inputs))
    average = keras.layers.Average(name="probabilities")(outputs)
    return keras.Model(inputs, average, name="kidney_ensemble")


def _schedule(config: TrainConfig, steps_per_epoch: int):
    total = max(config.epochs * steps_per_epoch, 1)
    warmup = min(2 * steps_per_epoch, total // 4)
    return keras.optimizers.schedules.CosineDecay(
        config.learning_rate / 10,
        decay_steps=total - warmup,
        warmup_target=config.learning_rate,
        warmup_steps=warmup,
    )


def _callbacks(
    config: TrainConfig,
    seed: int,
    train_set: data.DecodedImages,
    val_set: data.DecodedImages,
    checkpoint: Path,
    log: Log,
) -> list:
    # Order matters: statistics are fixed and validation is measured before the progress
    # line is logged and before the checkpoint and early stopping read it.
    callbacks = [
        PreciseBatchNormValidation(train_set, val_set, config, seed),
        ProgressLog(config.epochs, log),
    ]
    if config.average_last:
        callbacks.append(WeightAverage(first_averaged_epoch(config.epochs, config.average_last)))
    elif len(val_set.labels):
        callbacks += [
            keras.callbacks.ModelCheckpoint(
                checkpoint, monitor="val_accuracy", save_best_only=True, mode="max"
            ),
            keras.callbacks.EarlyStopping(
                monitor="val_accuracy", mode="max", patience=config.patience
            ),
        ]
    return callbacks
