"""What a training run is told: :class:`TrainConfig`, the recipe it records, and the
command-line options it declares (each option is written once, on its field)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from mlcore import data

Log = Callable[[str], None]

# Option groups: which command offers which fields.
RECIPE = "recipe"  # train_model and crossvalidate_model
SPLIT = "split"  # train_model: which slices a single version holds out
DISTILLATION = "distillation"  # train_model only (a teacher saw other folds)
# train_model and crossvalidate_model: how a training runs, not what a network that
# learns is trained with (left out of the recipe: NOT_RECIPE).
PROCEDURE = "procedure"


def positive_int(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value!r}")
    return number


def on_off(value: str) -> bool:
    if value not in ("on", "off"):
        raise argparse.ArgumentTypeError(f"takes 'on' or 'off', not {value!r}")
    return value == "on"


def all_or_count(value: str) -> int | None:
    if value == "all":
        return None
    if not value.isdigit():
        raise argparse.ArgumentTypeError(f"takes 'all' or a number, not {value!r}")
    return int(value)


def _option(default: Any, help: str = "", *, parse=None, group: str = RECIPE, shown=None):
    """A field that is also a command-line option (``--field-name``)."""
    return field(
        default=default,
        metadata={"option": {"help": help, "parse": parse, "group": group, "shown": shown}},
    )


@dataclass
class TrainConfig:
    # One or more folders of class folders, pooled per class (one file numbering).
    data_dirs: tuple[Path, ...]
    models_dir: Path
    epochs: int = _option(40, parse=positive_int)
    batch_size: int = _option(32, parse=positive_int)
    alpha: float = _option(0.35, "width of MobileNetV2", parse=float)
    # Stones are a few pixels wide: 96 px lost them (recall 0 %).
    image_size: int = _option(128, "side of the network's square input", parse=positive_int)
    weights: str = _option(
        "none", "'none' (from scratch), 'imagenet' (needs internet) or a local weights file"
    )
    fine_tune_layers: int | None = _option(
        None,
        "how many of the base's last layers train: 'all' or a number (0 freezes it)",
        parse=all_or_count,
        shown="all",
    )
    head_units: tuple[int, ...] = (32,)
    dropout: float = 0.2
    val_fraction: float = _option(
        0.2, "share of each class's file numbers held out", parse=float, group=SPLIT
    )
    # Which block of file numbers is held out: 0 the highest (the default), 1 the one
    # below it... (splits.split_by_number). With ``folds`` >= 2, fold ``val_fold`` of
    # patient-block cross-validation is held out instead (splits.split_by_blocks).
    val_fold: int = _option(
        0,
        "which block of file numbers to hold out: 0 the highest (default), 1 the one below it...",
        parse=int,
        group=SPLIT,
    )
    folds: int = 0
    body_mask: bool = _option(
        False,
        "black out everything outside the body (mlcore.body), in training and serving",
        parse=on_off,
    )
    body_crop: bool = _option(
        False,
        "read the square around the body, cut from the full-resolution slice "
        "(mlcore.preprocessing.load_views), in training and serving",
        parse=on_off,
    )
    # Each class drawn equally often per epoch (Stone is scarce) instead of the loss
    # weighting every class by its inverse frequency.
    balanced_sampling: bool = _option(
        False,
        "draw each class equally often in an epoch (with replacement) instead of "
        "weighting the loss by class",
        parse=on_off,
    )
    # The sample's 400 slices of a class are as many patients' as the further folder's
    # 250-2,000 (docs/model-card.md, next step 4): weighted so, within each class,
    # every folder counts as much as another.
    folder_balance: bool = _option(
        False,
        "within each class, weight each data folder's slices so that every folder "
        "counts as much as another (on top of the class weights)",
        parse=on_off,
    )
    learning_rate: float = 2e-3
    weight_decay: float = 1e-4
    label_smoothing: float = 0.1
    # Augmentation; at least the demo's (rotation 10 degrees, zoom 10 %, horizontal flip).
    rotation: float = _option(10.0, "augmentation: largest turn in degrees", parse=float)
    zoom: float = _option(0.1, "augmentation: largest zoom in or out (share)", parse=float)
    translation: float = _option(0.05, "augmentation: largest shift (share)", parse=float)
    contrast: float = _option(0.0, "augmentation: contrast change (share)", parse=float)
    brightness: float = _option(0.0, "augmentation: brightness change (share)", parse=float)
    # Scanners and reconstruction kernels differ from patient to patient (soft or
    # sharp edges, more or less grain), and the cross-validation's errors come in
    # whole patients (docs/model-card.md, "What the surest errors look like").
    sharpness: float = _option(
        0.0,
        "augmentation: soften or sharpen edges by up to this share (0-0.5; 0.5 ranges "
        "from a 3x3 blur to as much sharpening), as reconstruction kernels differ",
        parse=float,
    )
    noise: float = _option(
        0.0,
        "augmentation: Gaussian grain of this standard deviation (share of the 0-1 range)",
        parse=float,
    )
    patience: int = 12
    seed: int = _option(1, parse=int)
    ensemble: int = _option(
        1, "train N networks (seeds seed..seed+N-1) and average them", parse=positive_int
    )
    # A network still reading every image alike at the end of epoch 4 (a dead start,
    # callbacks.DeadStartCheck) is trained again with seed + 1000, then + 2000...:
    # decided on training images only, so nothing held out is chosen on.
    dead_start_retries: int = _option(
        2,
        "train a network again with another seed (seed + 1000, + 2000...) this many "
        "times when it has not started learning by epoch 4",
        parse=int,
        group=PROCEDURE,
    )
    class_names: tuple[str, ...] = data.CLASS_NAMES
    # Serve (and evaluate) the average over each image and its mirror image: measured
    # on the held-out split, +3.1 points for the shipped ensemble (Stone +12.5).
    flip_averaging: bool = True
    # XLA compiles the training step for tens of seconds before the first batch.
    jit_compile: bool = False
    # Distillation: a version (id or folder) trained on the same training split whose
    # probabilities, as it serves them, are mixed into the targets with this weight.
    teacher: str | None = _option(
        None,
        "distil: mix this version's probabilities into the training targets "
        "(it must have been trained on the same data and split)",
        group=DISTILLATION,
    )
    teacher_weight: float = _option(
        0.5,
        "share of the teacher's probabilities in the targets (0-1]",
        parse=float,
        group=DISTILLATION,
    )
    # Keep the average of the weights of the last N epochs (stochastic weight
    # averaging, no early stopping) instead of the epoch that validated best: nothing
    # is chosen on the held-out split. 0 keeps the best epoch.
    average_last: int = _option(
        0,
        "keep the average of the last N epochs' weights instead of the best epoch by "
        "validation (0: best epoch)",
        parse=int,
    )

    def __post_init__(self) -> None:
        if self.dead_start_retries < 0:
            raise ValueError("--dead-start-retries takes 0 (no retry) or more")
        if not 0 <= self.sharpness <= 0.5:
            raise ValueError("--sharpness takes a share from 0 to 0.5")
        if self.noise < 0:
            raise ValueError("--noise takes a standard deviation of 0 or more")
        if self.average_last < 0:
            raise ValueError("--average-last takes 0 (keep the best epoch) or a number of epochs")
        if self.folder_balance and self.balanced_sampling:
            raise ValueError(
                "--folder-balance weights the loss and --balanced-sampling draws the slices "
                "instead of weighting it: choose one"
            )
        if self.folder_balance and len(self.data_dirs) < 2:
            raise ValueError(
                "--folder-balance weighs data folders against each other: "
                "give two or more --data-dir"
            )


# What a recipe is: every option but where the data and the models live and which
# slices are held out.
NOT_RECIPE = (
    "data_dirs",
    "models_dir",
    "val_fold",
    "folds",
    "val_fraction",
    # How a dead start is handled, not what a network that learns is trained with
    # (the seeds each fold or member ended with are recorded).
    "dead_start_retries",
)


def recipe(config: TrainConfig) -> dict:
    """The options that decide what is learnt, as JSON (compared across runs)."""
    return {key: jsonable(value) for key, value in asdict(config).items() if key not in NOT_RECIPE}


def recipe_defaults() -> dict:
    """Every recipe option's default, as JSON: what a run recorded before the option
    existed (--body-crop came after some cross-validations and versions) was
    trained with."""
    return {
        f.name: jsonable(f.default)
        for f in fields(TrainConfig)
        if f.name not in NOT_RECIPE and f.default is not MISSING
    }


def add_options(parser: argparse.ArgumentParser, *groups: str) -> None:
    """Add the options of ``groups`` to a command's parser: ``--image-size`` for the
    field ``image_size``, its default, its check and its help from the field."""
    for f, option in _options(groups):
        shown = option["shown"]
        if shown is None:
            shown = ("on" if f.default else "off") if option["parse"] is on_off else f.default
        help_text = (
            f"{option['help']} (default: {shown})" if option["help"] else f"default: {shown}"
        )
        parser.add_argument(
            "--" + f.name.replace("_", "-"),
            dest=f.name,
            type=option["parse"],
            default=f.default,
            metavar="{on,off}" if option["parse"] is on_off else None,
            help=help_text,
        )


def config_options(parsed: dict, *groups: str) -> dict:
    """The TrainConfig fields of ``groups`` from parsed options."""
    return {f.name: parsed[f.name] for f, _ in _options(groups)}


def _options(groups: tuple[str, ...]):
    for f in fields(TrainConfig):
        option = f.metadata.get("option")
        if option and option["group"] in groups:
            yield f, option


def jsonable(value):
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, tuple | list):
        return [jsonable(v) for v in value]
    return value


def config_from_metadata(metadata: dict, *, data_dirs, models_dir: Path) -> TrainConfig:
    """The configuration a version was trained with (as its metadata recorded it),
    reading the data from ``data_dirs``: its split, classes and input views again.
    Options recorded by older code that no longer exist are ignored; options it did
    not record take their defaults. An ensemble of versions has no one configuration:
    each of its networks' is under ``training["ensemble_of"]``."""
    if "ensemble_of" in metadata.get("training", {}):
        raise data.DatasetError(
            f"Version {metadata.get('version')} is an ensemble of "
            f"{len(metadata['training']['ensemble_of'])} networks: it has no single "
            "training configuration (read one network's from training['ensemble_of'])."
        )
    known = {f.name for f in fields(TrainConfig)} - {"data_dirs", "models_dir"}
    recorded = {
        key: tuple(value) if isinstance(value, list) else value
        for key, value in metadata.get("training", {}).items()
        if key in known
    }
    recorded["class_names"] = tuple(metadata["class_names"])
    return TrainConfig(data_dirs=tuple(data_dirs), models_dir=models_dir, **recorded)
