"""The data option shared by the model commands. The training recipe's options are
declared on :class:`mlcore.training.TrainConfig` (mlcore.training.config.add_options)."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import CommandParser


def add_data_arguments(parser: CommandParser, *, required: bool = True) -> None:
    parser.add_argument(
        "--data-dir",
        type=Path,
        action="append",
        required=required,
        help="a folder holding the class folders; give it more than once to pool folders",
    )
