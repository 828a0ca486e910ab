from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from mlcore import data
from mlcore.crossval import crossvalidate
from mlcore.model import WeightsUnavailableError
from mlcore.training import TrainConfig
from mlcore.training.config import PROCEDURE, RECIPE, add_options, config_options
from scans.management.crossval_report import write_summary
from scans.management.training_options import add_data_arguments


class Command(BaseCommand):
    help = (
        "Patient-block cross-validation of a training recipe: train one model per fold "
        "of file-number blocks, read the held-out blocks, and write each fold and the "
        "summary (mean and spread over the folds) as JSON to --output as it ends. "
        "Nothing is activated or shipped."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        add_data_arguments(parser)
        parser.add_argument("--folds", type=int, default=5, help="how many folds (at least 2)")
        parser.add_argument(
            "--fold",
            type=int,
            action="append",
            help="run only this fold (repeatable; default: every fold). Folds run in "
            "separate processes may share --output.",
        )
        parser.add_argument(
            "--output", type=Path, required=True, help="folder for fold-K.json and summary.json"
        )
        add_options(parser, RECIPE, PROCEDURE)

    def handle(self, *args, **options) -> None:
        try:
            config = TrainConfig(
                data_dirs=tuple(options["data_dir"]),
                models_dir=Path(settings.MODELS_DIR),
                **config_options(options, RECIPE, PROCEDURE),
            )
            summary = crossvalidate(
                config,
                folds=options["folds"],
                out_dir=options["output"],
                only=options["fold"],
                log=self.stdout.write,
            )
        except (data.DatasetError, WeightsUnavailableError) as exc:
            raise CommandError(str(exc)) from exc
        except ValueError as exc:
            raise CommandError(f"Invalid option: {exc}") from exc
        write_summary(self, summary, options["output"])
