"""The data of a training run: pool the folders, drop duplicate images, split,
decode; then the tf.data pipeline with its augmentation."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from mlcore import data, splits
from mlcore.training.config import Log, TrainConfig

AUTOTUNE = tf.data.AUTOTUNE
MIN_IMAGES_PER_CLASS = 2


@dataclass
class PreparedData:
    roots: list[Path]
    items: list[data.LabeledImage]
    deduplicated: data.Deduplicated
    split: splits.Split
    # As the network reads them (masked when the recipe says so)...
    train_set: data.DecodedImages
    val_set: data.DecodedImages
    # ...and whole, as the not-a-CT check reads them.
    whole_train: data.DecodedImages
    whole_val: data.DecodedImages
    fingerprint: str

    def train_weights(self, config: TrainConfig, log: Log) -> np.ndarray | None:
        """Each training slice's loss weight with ``--folder-balance``, every data
        folder counting alike within its class (data.slice_weights), and the table
        of them logged; None without it (the class weights apply)."""
        if not config.folder_balance:
            return None
        train_set = self.train_set
        folders = data.folder_indices(train_set.paths, self.roots)
        weights = data.slice_weights(train_set.labels, folders, len(config.class_names))
        # One weight per class and folder ("-": no training slice of that class there).
        pairs = zip(train_set.labels.tolist(), folders.tolist(), strict=True)
        table = dict(zip(pairs, weights, strict=True))
        cells = {
            name: " / ".join(
                f"{table[label, k]:.2f}" if (label, k) in table else "-"
                for k in range(len(self.roots))
            )
            for label, name in enumerate(config.class_names)
        }
        log(
            "Folder balance, loss weight of a slice by class and folder: "
            + "; ".join(f"{name} {cell}" for name, cell in cells.items())
        )
        return weights

    def description(self, config: TrainConfig) -> dict:
        """What the version was trained on, for its metadata."""
        names = config.class_names
        if config.folds:
            how = (
                f"patient-block cross-validation, fold {config.val_fold} of {config.folds} "
                "held out (splits.split_by_blocks)"
            )
        else:
            how = (
                "per class, contiguous block of file numbers held out "
                f"(fold {config.val_fold}: 0 is the highest numbers)"
            )
        folders = data.folder_indices([item.path for item in self.items], self.roots)
        return {
            "folders": [
                {
                    "root": str(root),
                    "fingerprint": data.fingerprint(in_root),
                    "counts": data.class_counts(in_root, names),
                }
                for index, root in enumerate(self.roots)
                for in_root in [[i for i, k in zip(self.items, folders, strict=True) if k == index]]
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
    split = splits.split_items(
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


def make_dataset(
    decoded: data.DecodedImages,
    config: TrainConfig,
    *,
    seed: int = 0,
    training: bool = False,
    targets: np.ndarray | None = None,
    weights: np.ndarray | None = None,
):
    """A batched tf.data pipeline with one-hot labels (or the given targets); augmented
    when training, and with a loss weight per slice when ``weights`` are given."""
    labels = keras.utils.to_categorical(decoded.labels, len(config.class_names))
    if targets is not None:
        labels = np.asarray(targets, dtype=np.float32)
    if training:
        augment = make_augmenter(seed, config)
        if config.balanced_sampling:
            if weights is not None:
                raise ValueError("balanced sampling draws the slices: it takes no loss weights")
            dataset = _balanced(decoded.images, labels, decoded.labels, seed)
        else:
            columns = (decoded.images, labels)
            if weights is not None:
                columns += (np.asarray(weights, dtype=np.float32),)
            dataset = tf.data.Dataset.from_tensor_slices(columns)
            dataset = dataset.shuffle(len(labels), seed=seed, reshuffle_each_iteration=True)
        # Keras reads a third element as the slices' loss weights.
        dataset = dataset.batch(config.batch_size).map(
            lambda x, *rest: (augment(x, training=True), *rest), num_parallel_calls=AUTOTUNE
        )
    else:
        dataset = tf.data.Dataset.from_tensor_slices((decoded.images, labels))
        dataset = dataset.batch(config.batch_size)
    return dataset.prefetch(AUTOTUNE)


def _balanced(images: np.ndarray, targets: np.ndarray, classes: np.ndarray, seed: int):
    """An epoch of as many slices as the training set, each class drawn equally often
    (with replacement: the scarce Stone slices come round several times an epoch, the
    plentiful Normal ones not all of them), freshly drawn every epoch."""
    per_class = [
        tf.data.Dataset.from_tensor_slices((images[classes == c], targets[classes == c]))
        .shuffle(int(np.sum(classes == c)), seed=seed + int(c), reshuffle_each_iteration=True)
        .repeat()
        for c in np.unique(classes)
    ]
    mixed = tf.data.Dataset.sample_from_datasets(
        per_class, seed=seed, rerandomize_each_iteration=True
    )
    return mixed.take(len(classes))


def make_augmenter(seed: int, config: TrainConfig | None = None) -> keras.Sequential:
    """Flip, rotate, zoom, shift, then contrast, brightness, sharpness and grain, as
    configured.

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
    if config.sharpness:
        # Keras's factor 0.5 leaves the image as it is, 0 blurs it, 1 sharpens it.
        sharpness = (0.5 - config.sharpness, 0.5 + config.sharpness)
        layers.append(keras.layers.RandomSharpness(sharpness, value_range=(0, 1), seed=next(seeds)))
    if config.noise:
        layers.append(keras.layers.GaussianNoise(config.noise, seed=next(seeds)))
    return keras.Sequential(layers, name="augment")
