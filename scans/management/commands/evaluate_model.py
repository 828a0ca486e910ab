from __future__ import annotations

import json

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from mlcore import data, versions
from mlcore.evaluation import evaluate_folder
from mlcore.explain import GradCam
from mlcore.inference import load_classifier
from mlcore.runtime import KERAS_FILE
from scans.management.training_options import add_data_arguments


class Command(BaseCommand):
    help = (
        "Evaluate a model version on every image of one or more class-folder trees "
        "(identical images counted once): accuracy, per-class scores, calibration, and "
        "where it looks (attention_in_body: the share of Grad-CAM mass inside the body)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        add_data_arguments(parser)
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
            # Attention needs the Keras model (gradients): a LiteRT-only version is
            # evaluated without it.
            has_keras = (classifier.version_dir / KERAS_FILE).is_file()
            explainer = GradCam.from_version(classifier.version_dir) if has_keras else None
            report = evaluate_folder(classifier, options["data_dir"], explainer=explainer)
        except (data.DatasetError, versions.VersionError, OSError, ValueError) as exc:
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
        attention = report.get("attention_in_body")
        if attention and attention["mean"] is not None:
            per_class = ", ".join(
                f"{name} {share:.2f}"
                for name, share in attention["per_class"].items()
                if share is not None
            )
            self.stdout.write(
                f"Attention in body (share of Grad-CAM mass inside the body, "
                f"{attention['n_images']} images): {attention['mean']:.2f} ({per_class}); "
                f"looking evenly at the whole body would give {attention['even_body']['mean']:.2f}"
            )
        for path_reason in report["skipped"]:
            self.stderr.write(f"Skipped {path_reason['path']}: {path_reason['reason']}")
