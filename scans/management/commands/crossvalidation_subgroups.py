from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from mlcore import data
from mlcore.crossval import read_records, write_json
from mlcore.preprocessing import ImageError
from mlcore.subgroups import subgroup_report
from scans.management.crossval_report import add_recorded_run_options, data_roots


class Command(BaseCommand):
    help = (
        "Balanced accuracy of a cross-validation by subgroup of held-out slices: each "
        "data folder, each plane (axial, or filling the frame's height: coronal and "
        "sagittal), and both; per fold, mean ± spread over the folds holding the "
        "subgroup, and pooled. Reads the recorded folds (crossvalidate_model or "
        "crossvalidate_ensemble --output) and the slices themselves; trains nothing. "
        "Writes subgroups.json beside each run's fold records."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        add_recorded_run_options(parser)

    def handle(self, *args, **options) -> None:
        roots = data_roots(options)
        planes: dict[str, str] = {}  # each slice's plane, read once for every run
        for run in options["run"]:
            try:
                report = subgroup_report(read_records(run), roots, planes=planes)
            except (data.DatasetError, ImageError, OSError, KeyError, ValueError) as exc:
                raise CommandError(f"Cannot report on {run}: {exc}") from exc
            write_json(run / "subgroups.json", report)
            self.stdout.write(f"{run} (folds {', '.join(map(str, report['folds']))}):")
            for group in report["groups"]:
                name = " / ".join(part for part in (group["folder"], group["plane"]) if part)
                spread = "" if group["spread"] is None else f" ± {group['spread'] * 100:.1f}"
                pooled = group["pooled"]
                self.stdout.write(
                    f"  {name}: {group['mean'] * 100:.1f}{spread} % over "
                    f"{len(group['per_fold'])} fold(s); pooled "
                    f"{pooled['balanced_accuracy'] * 100:.1f} % of {pooled['n']} slices"
                )
            self.stdout.write(f"Written to {run / 'subgroups.json'}")
