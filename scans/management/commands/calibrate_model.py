from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from mlcore import data, versions
from mlcore.calibration import apply_temperature, calibrate, uncertain_threshold
from mlcore.evaluation import classification_report, recall_summary
from mlcore.inference import load_classifier
from mlcore.ood import OutlierDetector
from scans.services import model_version_activate, model_versions_sync


class Command(BaseCommand):
    help = (
        "Fit temperature scaling and the 'uncertain' threshold of a model version on its "
        "held-out split (the same contiguous file-number blocks it was validated on), and "
        "the not-a-CT-slice detector on its training split; measure the version again on "
        "the held-out split as it will serve; write all that into a new version with the "
        "same weights."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--data-dir", type=Path, required=True)
        parser.add_argument("--model", default=None, help="version (default: the active one)")
        parser.add_argument(
            "--flip-averaging",
            choices=("on", "off"),
            default=None,
            help="read each image also mirrored and average the two (default: as the "
            "version does); off halves the cost of a reading",
        )
        parser.add_argument("--activate", action="store_true")

    def handle(self, *args, **options) -> None:
        models_dir = Path(settings.MODELS_DIR)
        try:
            classifier = load_classifier(options["model"], models_dir=models_dir, runtime="litert")
            training = classifier.metadata.get("training", {})
            root = data.find_dataset_root(options["data_dir"], classifier.class_names)
            items = data.list_images(root, classifier.class_names)
            split = data.split_by_number(
                items,
                training.get("val_fraction", 0.2),
                fold=training.get("val_fold", 0),
                num_classes=len(classifier.class_names),
            )
            held_out = data.decode_images(split.validation, classifier.image_size)
            trained_on = data.decode_images(split.train, classifier.image_size)
        except (data.DatasetError, versions.VersionError, FileNotFoundError) as exc:
            raise CommandError(str(exc)) from exc
        if not len(held_out.labels):
            raise CommandError("The held-out split is empty: nothing to calibrate on.")
        if options["flip_averaging"]:
            classifier.flip_averaging = options["flip_averaging"] == "on"
        raw = classifier.predict_arrays(held_out.images, calibrated=False)
        report = classification_report(held_out.labels, raw, classifier.class_names)
        calibration = calibrate(raw, held_out.labels)
        scaled = apply_temperature(raw, calibration["temperature"])
        threshold = uncertain_threshold(scaled, held_out.labels)
        derived = versions.derive_version(
            models_dir,
            classifier.version_dir,
            {
                "calibration": {**calibration, "fitted_on": "held-out split"},
                "ood": OutlierDetector.fit(trained_on.images).to_metadata(),
                "inference": {
                    **classifier.metadata.get("inference", {}),
                    "flip_averaging": classifier.flip_averaging,
                    "uncertain_below": threshold,
                },
                # As served now (the label never depends on the temperature).
                "metrics": {**classifier.metadata.get("metrics", {}), "validation": report},
            },
        )
        self.stdout.write(
            f"Version {derived.name} (weights of {classifier.version}): temperature "
            f"{calibration['temperature']}, ECE {calibration['ece_before']:.3f} -> "
            f"{calibration['ece_after']:.3f} (cross-fitted), uncertain below {threshold:.2f}"
        )
        recalls = recall_summary(report)
        self.stdout.write(
            f"Held-out accuracy {report['accuracy']:.1%} on {report['n_images']} images "
            f"(flip averaging {'on' if classifier.flip_averaging else 'off'}); recall: {recalls}"
        )
        model_versions_sync(models_dir=models_dir)
        if options["activate"]:
            model_version_activate(version_id=derived.name)
            self.stdout.write(f"Version {derived.name} is now active.")
