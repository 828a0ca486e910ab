from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from mlcore import data, versions
from mlcore.ensembles import PARITY_SLICES, write_view_ensemble
from scans.management.training_options import add_data_arguments
from scans.services.model_versions import model_versions_sync


class Command(BaseCommand):
    help = (
        "Make one model version of two or more finished versions trained on the same "
        "data that read the slice differently (e.g. the whole masked slice and the crop "
        "around the body): each network reads its own view and the probabilities are "
        "averaged. The new version is not calibrated and not activated: give it the "
        "out-of-fold calibration of its members' recipes (crossvalidate_ensemble, then "
        "calibrate_model --crossvalidation)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--member",
            action="append",
            required=True,
            help="a version id or folder (give two or more, in the order of the "
            "crossvalidate_ensemble --run folders)",
        )
        add_data_arguments(parser)

    def handle(self, *args, **options) -> None:
        models_dir = Path(settings.MODELS_DIR)
        try:
            members = [versions.resolve(m, root=models_dir) for m in options["member"]]
            class_names = versions.read_metadata(members[0])["class_names"]
            _, items = data.list_images_in(options["data_dir"], class_names)
            # Slices of every class for the export check, spread through the folders.
            step = max(len(items) // PARITY_SLICES, 1)
            created = write_view_ensemble(models_dir, members, items[::step], log=self.stdout.write)
        except (data.DatasetError, versions.VersionError, OSError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        model_versions_sync(models_dir=models_dir)
        names = " + ".join(folder.name for folder in members)
        self.stdout.write(f"Version {created.name}: {names}, each reading its own view.")
        self.stdout.write(
            f"Next: calibrate_model --model {created.name} --crossvalidation DIR --activate"
        )
