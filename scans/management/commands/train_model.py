from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from mlcore import data, versions
from mlcore.evaluation import recall_summary
from mlcore.model import WeightsUnavailableError
from mlcore.training import NeverLearnedError, TrainConfig, train
from mlcore.training.config import (
    DISTILLATION,
    PROCEDURE,
    RECIPE,
    SPLIT,
    add_options,
    config_options,
)
from scans.management.training_options import add_data_arguments
from scans.services.model_versions import model_version_activate, model_versions_sync


class Command(BaseCommand):
    help = (
        "Train a new model version from a folder of class sub-folders (Cyst, Normal, "
        "Stone, Tumor), evaluate it on a held-out split and write models/<version>/."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        source = parser.add_mutually_exclusive_group(required=True)
        add_data_arguments(source, required=False)
        source.add_argument(
            "--download", action="store_true", help=f"download {data.KAGGLE_DATASET} (kagglehub)"
        )
        add_options(parser, SPLIT, RECIPE, PROCEDURE, DISTILLATION)
        parser.add_argument(
            "--output", type=Path, default=None, help="models folder (default: MODELS_DIR)"
        )
        parser.add_argument(
            "--activate", action="store_true", help="make the new version the active one"
        )

    def handle(self, *args, **options) -> None:
        models_dir = options["output"] or Path(settings.MODELS_DIR)
        try:
            data_dirs = (
                (data.download_dataset(),) if options["download"] else tuple(options["data_dir"])
            )
            config = TrainConfig(
                data_dirs=data_dirs,
                models_dir=models_dir,
                **config_options(options, SPLIT, RECIPE, PROCEDURE, DISTILLATION),
            )
            result = train(config, log=self.stdout.write)
            serves_app = models_dir.resolve() == Path(settings.MODELS_DIR).resolve()
            if options["activate"] and serves_app:
                model_version_activate(version_id=result.version_dir.name)  # audited
            elif options["activate"]:
                versions.activate(result.version_dir.name, models_dir)
            if serves_app:
                model_versions_sync(models_dir=models_dir)  # the app's list of versions
        except (
            data.DatasetError,
            versions.VersionError,
            WeightsUnavailableError,
            NeverLearnedError,
        ) as exc:
            raise CommandError(str(exc)) from exc
        except ValueError as exc:
            raise CommandError(f"Invalid option: {exc}") from exc
        self._summary(result, activated=options["activate"])

    def _summary(self, result, *, activated: bool) -> None:
        metadata = result.metadata
        self.stdout.write(f"Version {metadata['version']} written to {result.version_dir}")
        report = metadata["metrics"]["validation"]
        if report:
            recalls = recall_summary(report)
            self.stdout.write(
                f"Validation accuracy {report['accuracy']:.1%} on {report['n_images']} "
                f"held-out images; recall: {recalls}"
            )
            members = metadata["training"]["members"]
            if len(members) > 1:
                spread = ", ".join(
                    f"seed {m['seed']} {m['validation']['accuracy']:.1%}" for m in members
                )
                self.stdout.write(f"Ensemble members alone: {spread}")
        else:
            self.stdout.write("No validation split (--val-fraction 0): nothing was evaluated.")
        if activated:
            self.stdout.write(self.style.SUCCESS(f"Version {metadata['version']} is now active."))
