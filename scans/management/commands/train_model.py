from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from mlcore import data, versions
from mlcore.evaluation import recall_summary
from mlcore.model import WeightsUnavailableError
from mlcore.training import TrainConfig, train
from scans.services import model_version_activate, model_versions_sync


class Command(BaseCommand):
    help = (
        "Train a new model version from a folder of class sub-folders (Cyst, Normal, "
        "Stone, Tumor), evaluate it on a held-out split and write models/<version>/."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        source = parser.add_mutually_exclusive_group(required=True)
        source.add_argument("--data-dir", type=Path, help="folder holding the class folders")
        source.add_argument(
            "--download", action="store_true", help=f"download {data.KAGGLE_DATASET} (kagglehub)"
        )
        defaults = TrainConfig(data_dir=Path(), models_dir=Path())
        parser.add_argument("--epochs", type=_positive_int, default=defaults.epochs)
        parser.add_argument("--batch-size", type=_positive_int, default=defaults.batch_size)
        parser.add_argument("--alpha", type=float, default=defaults.alpha)
        parser.add_argument("--image-size", type=_positive_int, default=defaults.image_size)
        parser.add_argument(
            "--weights",
            default=defaults.weights,
            help="'none' (from scratch), 'imagenet' (needs internet) or a local weights file",
        )
        parser.add_argument(
            "--fine-tune-layers",
            default="all",
            help="how many of the base's last layers train: 'all' or a number (0 freezes it)",
        )
        parser.add_argument("--val-fraction", type=float, default=defaults.val_fraction)
        parser.add_argument(
            "--val-fold",
            type=int,
            default=defaults.val_fold,
            help="which block of file numbers to hold out: 0 the highest (default), 1 the "
            "one below it... (cross-validation)",
        )
        parser.add_argument("--seed", type=int, default=defaults.seed)
        parser.add_argument(
            "--ensemble",
            type=_positive_int,
            default=defaults.ensemble,
            help="train N networks (seeds seed..seed+N-1) and average them",
        )
        parser.add_argument(
            "--teacher",
            default=None,
            help="distil: mix this version's probabilities into the training targets "
            "(it must have been trained on the same data and split)",
        )
        parser.add_argument(
            "--teacher-weight",
            type=float,
            default=defaults.teacher_weight,
            help="share of the teacher's probabilities in the targets (0-1]",
        )
        parser.add_argument(
            "--average-last",
            type=int,
            default=defaults.average_last,
            help="keep the average of the last N epochs' weights instead of the best "
            "epoch by validation (0: best epoch)",
        )
        parser.add_argument(
            "--output", type=Path, default=None, help="models folder (default: MODELS_DIR)"
        )
        parser.add_argument(
            "--activate", action="store_true", help="make the new version the active one"
        )

    def handle(self, *args, **options) -> None:
        models_dir = options["output"] or Path(settings.MODELS_DIR)
        try:
            data_dir = data.download_dataset() if options["download"] else options["data_dir"]
            config = TrainConfig(
                data_dir=data_dir,
                models_dir=models_dir,
                epochs=options["epochs"],
                batch_size=options["batch_size"],
                alpha=options["alpha"],
                image_size=options["image_size"],
                weights=options["weights"],
                fine_tune_layers=_fine_tune_layers(options["fine_tune_layers"]),
                val_fraction=options["val_fraction"],
                val_fold=options["val_fold"],
                seed=options["seed"],
                ensemble=options["ensemble"],
                teacher=options["teacher"],
                teacher_weight=options["teacher_weight"],
                average_last=options["average_last"],
            )
            result = train(config, log=self.stdout.write)
            serves_app = models_dir.resolve() == Path(settings.MODELS_DIR).resolve()
            if options["activate"] and serves_app:
                model_version_activate(version_id=result.version_dir.name)  # audited
            elif options["activate"]:
                versions.activate(result.version_dir.name, models_dir)
            if serves_app:
                model_versions_sync(models_dir=models_dir)  # the app's list of versions
        except (data.DatasetError, versions.VersionError, WeightsUnavailableError) as exc:
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


def _positive_int(value: str) -> int:
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
