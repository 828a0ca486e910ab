from __future__ import annotations

import json
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from mlcore import data, versions
from mlcore.evaluation import evaluate_folder
from mlcore.inference import load_classifier


class Command(BaseCommand):
    help = "Evaluate a model version on every image of a class-folder tree."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--data-dir", type=Path, required=True)
        parser.add_argument(
            "--model", default=None, help="version id or folder (default: the active version)"
        )
        parser.add_argument("--json", action="store_true", help="print one JSON object")

    def handle(self, *args, **options) -> None:
        try:
            classifier = load_classifier(
                options["model"],
                models_dir=settings.MODELS_DIR,
                runtime=settings.INFERENCE_RUNTIME,
            )
            report = evaluate_folder(classifier, options["data_dir"])
        except (data.DatasetError, versions.VersionError, FileNotFoundError) as exc:
            raise CommandError(str(exc)) from exc
        if options["json"]:
            self.stdout.write(json.dumps(report))
            return
        self.stdout.write(
            f"Model {report['model_version']}: accuracy {report['accuracy']:.1%} "
            f"on {report['n_images']} images"
        )
        for name, scores in report["per_class"].items():
            self.stdout.write(
                f"  {name:<7} precision {scores['precision']:.1%}  recall {scores['recall']:.1%}"
                f"  f1 {scores['f1']:.3f}  support {scores['support']}"
            )
        for path_reason in report["skipped"]:
            self.stderr.write(f"Skipped {path_reason['path']}: {path_reason['reason']}")
