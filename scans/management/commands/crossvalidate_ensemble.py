from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from mlcore import data
from mlcore.ensemble_cv import combine_crossvalidations
from scans.management.crossval_report import write_summary


class Command(BaseCommand):
    help = (
        "Cross-validated figures of an ensemble that averages the networks of two or "
        "more recipes, from their recorded folds (crossvalidate_model --output): each "
        "held-out slice is read as the mean of the members' fold readings. Nothing is "
        "trained; writes fold-K.json and summary.json to --output. Attention in the body "
        "is the mean of the members' own."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--run",
            type=Path,
            action="append",
            required=True,
            help="a crossvalidate_model --output folder (give two or more)",
        )
        parser.add_argument(
            "--output", type=Path, required=True, help="folder for fold-K.json and summary.json"
        )

    def handle(self, *args, **options) -> None:
        try:
            summary = combine_crossvalidations(options["run"], options["output"])
        except (data.DatasetError, OSError, KeyError, ValueError) as exc:
            runs = ", ".join(map(str, options["run"]))
            raise CommandError(f"Cannot combine {runs}: {exc}") from exc
        write_summary(self, summary, options["output"])
