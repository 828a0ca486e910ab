"""Train a model version: data -> tf.data pipeline -> fit -> honest evaluation -> artifact."""

from __future__ import annotations

import math
import tempfile
import time
from collections.abc import Callable
from dataclasses import MISSING, asdict, dataclass, fields
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from mlcore import data, versions
from mlcore.calibration import apply_temperature, calibrate, uncertain_threshold
from mlcore.evaluation import classification_report
from mlcore.inference import average_with_mirror
from mlcore.model import make_model
from mlcore.ood import OutlierDetector
from mlcore.preprocessing import RESIZE_FILTER

AUTOTUNE = tf.data.AUTOTUNE
MIN_IMAGES_PER_CLASS = 2

Log = Callable[[str], None]


@dataclass
class TrainConfig:
    # One or more folders of class folders, pooled per class (one file numbering).
    data_dirs: tuple[Path, ...]
    models_dir: Path
    epochs: int = 40
    batch_size: int = 32
    alpha: float = 0.35
    image_size: int = 128  # stones are a few pixels wide: 96 px lost them (recall 0 %)
    weights: str = "none"
    fine_tune_layers: int | None = None
    head_units: tuple[int, ...] = (32,)
    dropout: float = 0.2
    val_fraction: float = 0.2
    # Which block of file numbers is held out: 0 the highest (the default), 1 the one
    # below it... (data.split_by_number). With ``folds`` >= 2, fold ``val_fold`` of
    # patient-block cross-validation is held out instead (data.split_by_blocks).
    val_fold: int = 0
    folds: int = 0
    # Black out everything outside the body (mlcore.body), in training and serving.
    body_mask: bool = False
    # Read the square around the body, cut from the full-resolution slice
    # (mlcore.preprocessing.load_views), in training and serving.
    body_crop: bool = False
    learning_rate: float = 2e-3
    weight_decay: float = 1e-4
    label_smoothing: float = 0.1
    # Augmentation; at least the demo's (rotation 10 degrees, zoom 10 %, horizontal flip).
    rotation: float = 10.0
    zoom: float = 0.1
    translation: float = 0.05
    contrast: float = 0.0
    brightness: float = 0.0
    patience: int = 12
    seed: int = 1
    ensemble: int = 1
    class_names: tuple[str, ...] = data.CLASS_NAMES
    # Serve (and evaluate) the average over each image and its mirror image: measured
    # on the held-out split, +3.1 points for the shipped ensemble (Stone +12.5).
    flip_averaging: bool = True
    # XLA compiles the training step for tens of seconds before the first batch.
    jit_compile: bool = False
    # Distillation: a version (id or folder) trained on the same training split whose
    # probabilities, as it serves them, are mixed into the targets with this weight.
    teacher: str | None = None
    teacher_weight: float = 0.5
    # Keep the average of the weights of the last N epochs (stochastic weight
    # averaging, no early stopping) instead of the epoch that validated best: nothing
    # is chosen on the held-out split. 0 keeps the best epoch.
    average_last: int = 0


# What a recipe is: every option but where the data and the models live and which
# slices are held out.
NOT_RECIPE = ("data_dirs", "models_dir", "val_fold", "folds", "val_fraction")


def recipe(config: TrainConfig) -> dict:
    """The options that decide what is learnt, as JSON (compared across runs)."""
    return {key: _jsonable(value) for key, value in asdict(config).items() if key not in NOT_RECIPE}


def recipe_defaults() -> dict:
    """Every recipe option's default, as JSON: what a run recorded before the option
    existed (--body-crop came after some cross-validations and versions) was
    trained with."""
    return {
        field.name: _jsonable(field.default)
        for field in fields(TrainConfig)
        if field.name not in NOT_RECIPE and field.default is not MISSING
    }


@dataclass
class TrainResult:
    version_dir: Path
    metadata: dict


def train(config: TrainConfig, log: Log = print) -> TrainResult:
    """Train, evaluate on the held-out split and write an immutable version folder.

    With ``config.ensemble`` > 1, that many members are trained with seeds
    seed, seed+1, ... and the version averages their probabilities.
    """
    if config.average_last < 0:
        raise ValueError("--average-last takes 0 (keep the best epoch) or a number of epochs")
    prepared = prepare_data(config, log)
    train_set, val_set = prepared.train_set, prepared.val_set
    fingerprint = prepared.fingerprint
    skipped = train_set.skipped + val_set.skipped
    for path, reason in skipped:
        log(f"Skipped {path}: {reason}")
    if skipped:
        log(f"Skipped {len(skipped)} unreadable image(s).")
    targets = None
    if config.teacher:
        targets = distillation_targets(config, prepared.whole_train, fingerprint, log)

    started = time.monotonic()
    members, member_records = [], []
    for seed in range(config.seed, config.seed + config.ensemble):
        if config.ensemble > 1:
            log(f"Ensemble member {len(members) + 1}/{config.ensemble} (seed {seed})")
        model, history = fit_member(config, seed, train_set, val_set, log, targets=targets)
        members.append(model)
        member_records.append(_member_record(seed, history, model, val_set, config))
    model = members[0] if len(members) == 1 else make_ensemble(members)
    train_seconds = time.monotonic() - started

    has_validation = len(val_set.labels) > 0
    report, calibration, inference = None, {}, {"flip_averaging": config.flip_averaging}
    if has_validation:
        raw = predict_decoded(model, val_set, config)
        report = classification_report(val_set.labels, raw, config.class_names)
        calibration = calibrate(raw, val_set.labels)
        scaled = apply_temperature(raw, calibration["temperature"])
        inference["uncertain_below"] = uncertain_threshold(scaled, val_set.labels)
    metadata = {
        "class_names": list(config.class_names),
        "input_size": [config.image_size, config.image_size, 3],
        "inference": inference,
        "calibration": calibration,
        "ood": OutlierDetector.fit(prepared.whole_train.images).to_metadata(),
        "preprocessing": {
            "function": "mlcore.preprocessing.load_image",
            "color": "RGB",
            "resize_filter": RESIZE_FILTER.name.lower(),
            "scale": "[0, 1]",
            "body_mask": config.body_mask,
            "body_crop": config.body_crop,
        },
        "training": {
            **{k: _jsonable(v) for k, v in asdict(config).items() if k != "models_dir"},
            "seconds": round(train_seconds, 1),
            "members": member_records,
        },
        "dataset": {
            **prepared.description(config),
            "skipped": [{"path": str(p), "reason": r} for p, r in skipped],
        },
        "metrics": {"validation": report},
    }
    # The LiteRT export is checked against Keras on real slices: held-out ones when
    # there are any (a version trained on everything has none).
    parity = val_set.images[:64] if has_validation else train_set.images[:64]
    version_dir = versions.write_version(
        config.models_dir, model, metadata, parity_images=parity, log=log
    )
    return TrainResult(version_dir, versions.read_metadata(version_dir))


@dataclass
class PreparedData:
    roots: list[Path]
    items: list[data.LabeledImage]
    deduplicated: data.Deduplicated
    split: data.Split
    # As the network reads them (masked when the recipe says so)...
    train_set: data.DecodedImages
    val_set: data.DecodedImages
    # ...and whole, as the not-a-CT check reads them.
    whole_train: data.DecodedImages
    whole_val: data.DecodedImages
    fingerprint: str

    def description(self, config: TrainConfig) -> dict:
        """What the version was trained on, for its metadata."""
        names = config.class_names
        if config.folds:
            how = (
                f"patient-block cross-validation, fold {config.val_fold} of {config.folds} "
                "held out (data.split_by_blocks)"
            )
        else:
            how = (
                "per class, contiguous block of file numbers held out "
                f"(fold {config.val_fold}: 0 is the highest numbers)"
            )
        return {
            "folders": [
                {
                    "root": str(root),
                    "fingerprint": data.fingerprint(in_root),
                    "counts": data.class_counts(in_root, names),
                }
                for root in self.roots
                for in_root in [[i for i in self.items if root in i.path.parents]]
            ],
            "fingerprint": self.fingerprint,
            "counts": data.class_counts(self.deduplicated.kept, names),
            "duplicates_dropped": [
                {"path": str(copy.path), "same_as": str(kept.path)}
                for copy, kept in self.deduplicated.duplicates
            ],
            "conflicts_dropped": [str(i.path) for i in self.deduplicated.conflicts],
            "train_counts": data.class_counts(self.split.train, names),
            "validation_counts": data.class_counts(self.split.validation, names),
            "left_out_near_validation": len(self.split.left_out),
            "split": how,
        }


def prepare_data(config: TrainConfig, log: Log = print) -> PreparedData:
    """Pool the folders, drop duplicate images, split, decode (the one data path of
    training and cross-validation)."""
    roots, items = data.list_images_in(config.data_dirs, config.class_names)
    deduplicated = data.drop_duplicates(items)
    kept = deduplicated.kept
    counts = data.class_counts(kept, config.class_names)
    thin = [name for name, n in counts.items() if n < MIN_IMAGES_PER_CLASS]
    if thin:
        raise data.DatasetError(
            f"Too few images in {', '.join(thin)} (need at least {MIN_IMAGES_PER_CLASS} each)."
        )
    split = data.split_items(
        kept,
        val_fraction=config.val_fraction,
        val_fold=config.val_fold,
        folds=config.folds,
        num_classes=len(config.class_names),
    )
    where = ", ".join(str(root) for root in roots)
    log(f"Data: {where} ({len(split.train)} train, {len(split.validation)} validation images)")
    if deduplicated.duplicates or deduplicated.conflicts:
        log(
            f"Dropped {len(deduplicated.duplicates)} duplicate image(s) and "
            f"{len(deduplicated.conflicts)} filed under two classes."
        )
    # Decoded once, whole (the not-a-CT check reads them so) and as the network reads
    # them (masked, cropped: the crop is cut from the full-resolution slice).
    views = {"body_mask": config.body_mask, "body_crop": config.body_crop}
    whole_train, train_set = data.decode_views(split.train, config.image_size, **views)
    whole_val, val_set = data.decode_views(split.validation, config.image_size, **views)
    return PreparedData(
        roots=roots,
        items=items,
        deduplicated=deduplicated,
        split=split,
        train_set=train_set,
        val_set=val_set,
        whole_train=whole_train,
        whole_val=whole_val,
        fingerprint=data.fingerprint(kept),
    )


def fit_member(
    config: TrainConfig,
    seed: int,
    train_set: data.DecodedImages,
    val_set: data.DecodedImages,
    log: Log,
    *,
    targets: np.ndarray | None = None,
) -> tuple[keras.Model, dict]:
    """Train one network; returns it and its history.

    The network kept is the best checkpoint by validation accuracy, or, with
    ``config.average_last``, the average of the last epochs' weights.
    ``targets`` (N, classes) replace the one-hot labels when given (distillation).
    """
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
        history = model.fit(
            make_dataset(train_set, config, seed=seed, training=True, targets=targets),
            epochs=config.epochs,
            class_weight=data.class_weights(train_set.labels, len(config.class_names)),
            callbacks=callbacks,
            shuffle=False,  # the pipeline shuffles, reproducibly, with the seed
            verbose=0,
        )
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


def make_dataset(
    decoded: data.DecodedImages,
    config: TrainConfig,
    *,
    seed: int = 0,
    training: bool = False,
    targets: np.ndarray | None = None,
):
    """A batched tf.data pipeline with one-hot labels (or the given targets); augmented
    when training."""
    labels = keras.utils.to_categorical(decoded.labels, len(config.class_names))
    if targets is not None:
        labels = np.asarray(targets, dtype=np.float32)
    dataset = tf.data.Dataset.from_tensor_slices((decoded.images, labels))
    if training:
        augment = make_augmenter(seed, config)
        dataset = dataset.shuffle(len(labels), seed=seed, reshuffle_each_iteration=True)
        dataset = dataset.batch(config.batch_size).map(
            lambda x, y: (augment(x, training=True), y), num_parallel_calls=AUTOTUNE
        )
    else:
        dataset = dataset.batch(config.batch_size)
    return dataset.prefetch(AUTOTUNE)


def make_augmenter(seed: int, config: TrainConfig | None = None) -> keras.Sequential:
    """Flip, rotate, zoom, shift, then contrast and brightness, as configured.

    Each layer draws from its own seed: with one shared seed the draws of all
    layers were the same numbers (a +7.6 degree turn always came with 1.076 zoom),
    so the images varied far less than the settings say (versions up to
    20261126-175325 were trained so).
    """
    config = config or TrainConfig(Path(), Path())
    seeds = iter(range(seed * 100, seed * 100 + 100))
    layers = [
        keras.layers.RandomFlip("horizontal", seed=next(seeds)),
        keras.layers.RandomRotation(config.rotation / 360, fill_mode="constant", seed=next(seeds)),
        keras.layers.RandomZoom(config.zoom, fill_mode="constant", seed=next(seeds)),
        keras.layers.RandomTranslation(
            config.translation, config.translation, fill_mode="constant", seed=next(seeds)
        ),
    ]
    if config.contrast:
        # A pair: Keras reads a single number c as factors 1..1+c (contrast only raised).
        contrast = (config.contrast, config.contrast)
        layers.append(keras.layers.RandomContrast(contrast, seed=next(seeds)))
    if config.brightness:
        layers.append(
            keras.layers.RandomBrightness(config.brightness, value_range=(0, 1), seed=next(seeds))
        )
    return keras.Sequential(layers, name="augment")


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
    if teacher.image_size == config.image_size and not teacher.body_crop:
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


def _member_record(
    seed: int, history: dict, model: keras.Model, val_set, config: TrainConfig
) -> dict:
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


def _jsonable(value):
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, tuple | list):
        return [_jsonable(v) for v in value]
    return value


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
