from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from mlcore import data
from mlcore.crossval import read_records, write_json
from mlcore.errors import confident_errors, error_sheet
from mlcore.preprocessing import ImageError
from mlcore.subgroups import recorded_file, slice_plane
from scans.management.crossval_report import add_recorded_run_options, data_roots


class Command(BaseCommand):
    help = (
        "The surest wrong readings of a cross-validation, to be looked at: from the "
        "recorded folds (crossvalidate_model or crossvalidate_ensemble --output), the "
        "wrong out-of-fold readings with the highest probability, one per run of misread "
        "neighbouring file numbers (one patient, likely), with their plane. Trains "
        "nothing. Writes confident-errors.json and confident-errors.png beside each "
        "run's fold records."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        add_recorded_run_options(parser)
        parser.add_argument(
            "--count", type=int, default=12, help="how many errors to show (default 12)"
        )

    def handle(self, *args, **options) -> None:
        roots = data_roots(options)
        if options["count"] < 1:
            raise CommandError("--count must be at least 1.")
        for run in options["run"]:
            try:
                errors = confident_errors(read_records(run), count=options["count"])
                planes = {e.path: slice_plane(recorded_file(e.path, roots)) for e in errors}
                sheet = error_sheet(errors, roots, planes=planes)
            except (data.DatasetError, ImageError, OSError, KeyError, ValueError) as exc:
                raise CommandError(f"Cannot look at {run}: {exc}") from exc
            listed = [{**error.as_dict(), "plane": planes[error.path]} for error in errors]
            write_json(run / "confident-errors.json", {"errors": listed})
            (run / "confident-errors.png").write_bytes(sheet)
            self.stdout.write(f"{run}: the {len(errors)} surest wrong readings")
            for error in errors:
                self.stdout.write(
                    f"  {error.path} (fold {error.fold}, {planes[error.path]}): "
                    f"{error.label} read as {error.reading}, {error.confidence * 100:.1f} %; "
                    f"{error.run_size} misread in {error.span}"
                )
            self.stdout.write(f"Written to {run / 'confident-errors.json'} and .png")
