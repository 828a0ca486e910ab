from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from mlcore import data, versions
from mlcore.crossval import summary_for_version
from mlcore.evaluation import classification_report, recall_summary
from mlcore.inference import load_classifier
from mlcore.ood import OutlierDetector
from mlcore.training import prepare_data, served_calibration
from mlcore.training.config import config_from_metadata
from scans.management.training_options import add_data_arguments
from scans.services.model_versions import model_version_activate, model_versions_sync


class Command(BaseCommand):
    help = (
        "Fit temperature scaling and the 'uncertain' threshold of a model version on its "
        "held-out split (the same file-number blocks it was validated on) or, with "
        "--crossvalidation, on the out-of-fold predictions of its recipe; fit the "
        "not-a-CT-slice detector on its training slices (given --data-dir); measure the "
        "version again on the held-out split as it will serve; write all that into a new "
        "version with the same weights."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        add_data_arguments(parser, required=False)
        parser.add_argument(
            "--crossvalidation",
            type=Path,
            default=None,
            help="a crossvalidate_model --output folder of the version's recipe and data: "
            "fit on its out-of-fold predictions instead of a held-out split (the way to "
            "calibrate a version trained on every slice; with --data-dir the not-a-CT "
            "check is fitted again on its training slices too)",
        )
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
        if not (options["crossvalidation"] or options["data_dir"]):
            raise CommandError("Give --data-dir, --crossvalidation, or both.")
        if options["crossvalidation"]:
            if options["flip_averaging"]:
                raise CommandError(
                    "--flip-averaging cannot change with --crossvalidation: the out-of-fold "
                    "predictions were read as the recipe says."
                )
            self._from_crossvalidation(models_dir, options)
            return
        try:
            classifier = load_classifier(options["model"], models_dir=models_dir, runtime="litert")
            if classifier.views:
                raise versions.VersionError(
                    f"Version {classifier.version} is an ensemble of versions trained on "
                    "every slice: calibrate it with --crossvalidation."
                )
            # The version's own split and input views, read again as training read them.
            prepared = prepare_data(
                config_from_metadata(
                    classifier.metadata, data_dirs=options["data_dir"], models_dir=models_dir
                ),
                log=self.stdout.write,
            )
        except (data.DatasetError, versions.VersionError, FileNotFoundError) as exc:
            raise CommandError(str(exc)) from exc
        held_out = prepared.val_set
        if not len(held_out.labels):
            raise CommandError(
                "The held-out split is empty: nothing to calibrate on (a version trained on "
                "every slice is calibrated with --crossvalidation)."
            )
        if options["flip_averaging"]:
            classifier.flip_averaging = options["flip_averaging"] == "on"
        raw = classifier.predict_arrays(held_out.images, calibrated=False)
        report = classification_report(held_out.labels, raw, classifier.class_names)
        calibration, threshold = served_calibration(raw, held_out.labels)
        trained_on = prepared.whole_train  # whole slices, as the not-a-CT check reads them
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
        self._publish(models_dir, derived.name, activate=options["activate"])

    def _from_crossvalidation(self, models_dir: Path, options: dict) -> None:
        try:
            source = versions.resolve(options["model"], root=models_dir)
            metadata = versions.read_metadata(source)
            summary = summary_for_version(options["crossvalidation"], metadata)
            updates = {}
            if options["data_dir"]:
                updates["ood"] = _outlier_detector(metadata, options["data_dir"], models_dir)
        except (data.DatasetError, versions.VersionError, FileNotFoundError) as exc:
            raise CommandError(str(exc)) from exc
        calibration = dict(summary["calibration"])
        threshold = calibration.pop("uncertain_below")
        inference = {**metadata.get("inference", {}), "uncertain_below": threshold}
        metrics = {
            **metadata.get("metrics", {}),
            "crossvalidation": {
                key: summary[key]
                for key in ("folds", "per_fold", "mean", "spread", "recipe", "data", "confusion")
                if key in summary  # summaries written before "confusion" existed
            },
        }
        derived = versions.derive_version(
            models_dir,
            source,
            {"calibration": calibration, "inference": inference, "metrics": metrics, **updates},
        )
        mean = summary["mean"]
        self.stdout.write(
            f"Version {derived.name} (weights of {metadata['version']}): temperature "
            f"{calibration['temperature']}, uncertain below {threshold:.2f}, fitted on "
            f"{calibration['n_images']} out-of-fold predictions of {summary['folds']} folds "
            f"(balanced accuracy {mean['balanced_accuracy']:.1%} mean over folds)"
        )
        self._publish(models_dir, derived.name, activate=options["activate"])

    def _publish(self, models_dir: Path, version: str, *, activate: bool) -> None:
        model_versions_sync(models_dir=models_dir)
        if activate:
            try:
                model_version_activate(version_id=version)
            except versions.VersionError as exc:
                raise CommandError(str(exc)) from exc
            self.stdout.write(f"Version {version} is now active.")


def _outlier_detector(metadata: dict, data_dirs, models_dir: Path) -> dict:
    """The not-a-CT check fitted again on the version's own training slices, whole
    (an ensemble's networks share them: its first network's)."""
    training = metadata.get("training", {})
    if "ensemble_of" in training:
        metadata = {**metadata, "training": training["ensemble_of"][0]}
    config = config_from_metadata(metadata, data_dirs=data_dirs, models_dir=models_dir)
    prepared = prepare_data(config, log=lambda line: None)
    if prepared.fingerprint != metadata["dataset"]["fingerprint"]:
        raise data.DatasetError("These folders are not the data the version was trained on.")
    return OutlierDetector.fit(prepared.whole_train.images).to_metadata()
