"""The training recipe's command-line options, shared by train_model and crossvalidate_model.

Written once: each option's default comes from :class:`mlcore.training.TrainConfig`.
"""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import CommandParser

from mlcore.training import TrainConfig

_DEFAULTS = TrainConfig(data_dirs=(), models_dir=Path())


def add_data_arguments(parser: CommandParser, *, required: bool = True) -> None:
    parser.add_argument(
        "--data-dir",
        type=Path,
        action="append",
        required=required,
        help="a folder holding the class folders; give it more than once to pool folders",
    )


def add_recipe_arguments(parser: CommandParser) -> None:
    d = _DEFAULTS
    parser.add_argument("--epochs", type=positive_int, default=d.epochs)
    parser.add_argument("--batch-size", type=positive_int, default=d.batch_size)
    parser.add_argument("--alpha", type=float, default=d.alpha)
    parser.add_argument("--image-size", type=positive_int, default=d.image_size)
    parser.add_argument(
        "--weights",
        default=d.weights,
        help="'none' (from scratch), 'imagenet' (needs internet) or a local weights file",
    )
    parser.add_argument(
        "--fine-tune-layers",
        default="all",
        help="how many of the base's last layers train: 'all' or a number (0 freezes it)",
    )
    parser.add_argument("--seed", type=int, default=d.seed)
    parser.add_argument(
        "--ensemble",
        type=positive_int,
        default=d.ensemble,
        help="train N networks (seeds seed..seed+N-1) and average them",
    )
    parser.add_argument(
        "--average-last",
        type=int,
        default=d.average_last,
        help="keep the average of the last N epochs' weights instead of the best "
        "epoch by validation (0: best epoch)",
    )
    parser.add_argument(
        "--body-mask",
        choices=("on", "off"),
        default="on" if d.body_mask else "off",
        help="black out everything outside the body (training and serving)",
    )
    parser.add_argument(
        "--body-crop",
        choices=("on", "off"),
        default="on" if d.body_crop else "off",
        help="read the square around the body, cut from the full-resolution slice "
        "(training and serving)",
    )
    for name in ("rotation", "zoom", "translation", "contrast", "brightness"):
        parser.add_argument(
            f"--{name}", type=float, default=getattr(d, name), help=f"augmentation: {name}"
        )


def recipe_options(options: dict) -> dict:
    """TrainConfig fields from parsed recipe options."""
    return {
        "epochs": options["epochs"],
        "batch_size": options["batch_size"],
        "alpha": options["alpha"],
        "image_size": options["image_size"],
        "weights": options["weights"],
        "fine_tune_layers": _fine_tune_layers(options["fine_tune_layers"]),
        "seed": options["seed"],
        "ensemble": options["ensemble"],
        "average_last": options["average_last"],
        "body_mask": options["body_mask"] == "on",
        "body_crop": options["body_crop"] == "on",
        **{
            name: options[name]
            for name in ("rotation", "zoom", "translation", "contrast", "brightness")
        },
    }


def positive_int(value: str) -> int:
    number = int(value)
    if number < 1:
        raise ValueError("must be at least 1")
    return number


def _fine_tune_layers(value: str) -> int | None:
    if value == "all":
        return None
    if not value.isdigit():
        raise ValueError(f"--fine-tune-layers takes 'all' or a number, not {value!r}")
    return int(value)
