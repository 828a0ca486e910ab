from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.urls import reverse
from factories import NEW, OLD, SHIPPED

from mlcore import data, splits, versions
from mlcore.inference import load_classifier
from scans.classifier import ModelUnavailableError, classifier_get
from scans.models import ModelVersion, Prediction, Scan
from scans.selectors.model_versions import active_model_version
from scans.services.model_versions import model_versions_sync
from scans.services.readings import scan_classify

pytestmark = pytest.mark.django_db


def test_classify_writes_one_prediction_and_marks_the_scan_done(alice, make_scan):
    scan = make_scan(alice, status=Scan.Status.QUEUED)
    scan_classify(scan_id=scan.pk)

    scan.refresh_from_db()
    assert scan.status == Scan.Status.DONE
    assert scan.prediction.scan_id == scan.pk
    assert scan.prediction.model_version.id == (SHIPPED / "ACTIVE").read_text().strip()
    assert scan.prediction.milliseconds > 0


def test_classifying_a_done_scan_again_changes_nothing(alice, make_scan):
    scan = make_scan(alice, status=Scan.Status.QUEUED)
    scan_classify(scan_id=scan.pk)
    first = Scan.objects.get(pk=scan.pk)

    scan_classify(scan_id=scan.pk)

    again = Scan.objects.get(pk=scan.pk)
    assert Prediction.objects.filter(scan=scan).count() == 1
    assert (again.done_at, again.processing_at) == (first.done_at, first.processing_at)


def test_a_delivery_that_finishes_second_adds_no_prediction(alice, make_scan):
    scan = make_scan(alice, status=Scan.Status.QUEUED)
    real = classifier_get()

    class DeliveredTwice:
        """While this delivery reads the image, the other delivery completes."""

        metadata = real.metadata

        def classify(self, data):
            scan_classify(scan_id=scan.pk, classifier=real)
            return real.classify(data)

    scan_classify(scan_id=scan.pk, classifier=DeliveredTwice())

    scan.refresh_from_db()
    assert scan.status == Scan.Status.DONE
    assert Prediction.objects.filter(scan=scan).count() == 1


def test_a_reading_costs_a_handful_of_statements(
    alice, make_scan, django_assert_max_num_queries, settings
):
    settings.HEATMAPS = False
    scan = make_scan(alice, status=Scan.Status.QUEUED)
    classifier = classifier_get()
    # claim, fetch, version row, then savepoint, lock, insert, update, release
    with django_assert_max_num_queries(8):
        scan_classify(scan_id=scan.pk, classifier=classifier)


def test_unreadable_stored_image_fails_with_a_reason(alice, make_scan):
    scan = make_scan(alice, status=Scan.Status.QUEUED)
    with scan.image.open("wb") as handle:
        handle.write(b"\x89PNG\r\n\x1a\n broken")
    scan_classify(scan_id=scan.pk)

    scan.refresh_from_db()
    assert scan.status == Scan.Status.FAILED
    assert scan.failure_reason.startswith("The image cannot be read:")
    assert scan.failed_at is not None


def test_missing_stored_image_fails_with_a_reason(alice, make_scan):
    scan = make_scan(alice, status=Scan.Status.QUEUED)
    scan.image.storage.delete(scan.image.name)
    scan_classify(scan_id=scan.pk)

    scan.refresh_from_db()
    assert scan.status == Scan.Status.FAILED
    assert scan.failure_reason == "The stored image file is missing."


def test_no_active_model_is_a_clear_error(settings, tmp_path):
    settings.MODELS_DIR = tmp_path
    with pytest.raises(ModelUnavailableError, match="No model version is active"):
        classifier_get()


def test_active_version_whose_folder_is_gone_is_a_clear_error(settings, tmp_path):
    (tmp_path / "ACTIVE").write_text("20990101-000000\n")
    settings.MODELS_DIR = tmp_path
    with pytest.raises(ModelUnavailableError, match="20990101-000000 cannot be loaded"):
        classifier_get()


def test_classifier_is_loaded_once_and_reloaded_after_activation(two_versions):
    first = classifier_get()
    assert classifier_get() is first
    assert first.version == OLD

    (two_versions / "ACTIVE").write_text(f"{NEW}\n")

    assert classifier_get().version == NEW


def test_a_later_version_adds_a_prediction_and_keeps_the_old_one(alice, make_scan, two_versions):
    scan = make_scan(alice, status=Scan.Status.QUEUED)
    scan_classify(scan_id=scan.pk)
    (two_versions / "ACTIVE").write_text(f"{NEW}\n")
    Scan.objects.filter(pk=scan.pk).update(status=Scan.Status.QUEUED)

    scan_classify(scan_id=scan.pk)

    scan.refresh_from_db()
    assert scan.prediction.model_version_id == NEW
    assert set(scan.predictions.values_list("model_version", flat=True)) == {OLD, NEW}


def test_sync_mirrors_every_version_and_returns_the_active_one(two_versions):
    assert model_versions_sync().id == OLD
    (two_versions / "ACTIVE").write_text(f"{NEW}\n")

    active = model_versions_sync()

    assert active.id == NEW
    assert set(ModelVersion.objects.values_list("id", flat=True)) == {OLD, NEW}
    metrics = versions.read_metadata(two_versions / NEW)["metrics"]
    assert active.crossvalidated_balanced_accuracy == (
        metrics["crossvalidation"]["mean"]["balanced_accuracy"],
        metrics["crossvalidation"]["spread"]["balanced_accuracy"],
    )


def test_sync_without_an_active_version_leaves_none_active(two_versions):
    model_versions_sync()
    (two_versions / "ACTIVE").unlink()

    assert model_versions_sync() is None
    assert active_model_version() is None


def test_every_door_shows_the_version_active_names_without_a_sync(two_versions, client, adam):
    """ACTIVE is the one record of which version is served: written behind the
    application's back (train_model --activate, a roll-back by hand), the classifier,
    the API, the admin and the health check all follow it, with no copy to update."""
    model_versions_sync()
    (two_versions / "ACTIVE").write_text(f"{NEW}\n")

    assert classifier_get().version == NEW
    assert client.get("/api/v1/health/").json()["model"]["version"] == NEW
    client.force_login(adam)
    listed = client.get("/api/v1/models/").json()
    assert [version["id"] for version in listed if version["is_active"]] == [NEW]
    page = client.get(reverse("admin:scans_modelversion_changelist"), {"active": "yes"})
    assert [version.id for version in page.context["cl"].result_list] == [NEW]


@pytest.mark.parametrize(("threshold", "uncertain"), [(1.01, True), (0.0, False)])
def test_readings_under_the_threshold_are_marked_uncertain(
    alice, make_scan, settings, client, sample_dir, threshold, uncertain
):
    settings.UNCERTAIN_BELOW = threshold
    scan = make_scan(alice, status=Scan.Status.QUEUED)
    with scan.image.open("wb") as handle:  # a real slice: not refused as out of distribution
        handle.write((sample_dir / "Normal" / "Normal- (390).jpg").read_bytes())
    scan_classify(scan_id=scan.pk)
    scan.refresh_from_db()
    assert scan.prediction.uncertain is uncertain
    client.force_login(alice)
    html = client.get(reverse("scan_detail", args=[scan.pk])).content.decode()
    assert ("Uncertain — needs review." in html) is uncertain
    assert client.get(reverse("scan_status", args=[scan.pk])).json()["uncertain"] is uncertain


def test_without_a_setting_the_model_versions_threshold_is_used(alice, make_scan):
    scan = make_scan(alice, status=Scan.Status.QUEUED)
    scan_classify(scan_id=scan.pk)
    classifier = classifier_get()
    scan.refresh_from_db()
    assert classifier.uncertain_below is not None
    assert scan.prediction.uncertain is (scan.prediction.confidence < classifier.uncertain_below)


@pytest.fixture
def held_out_version(settings, tiny_version, tmp_path):
    """A models folder holding a version trained with a held-out split (the tiny
    training: synthetic slices, a third held out, one broken file), and its data."""
    import shutil

    root = tmp_path / "models"
    shutil.copytree(tiny_version, root / tiny_version.name)
    (root / "ACTIVE").write_text(f"{tiny_version.name}\n")
    settings.MODELS_DIR = root
    return root, tiny_version.name, tiny_version.parent.parent / "data"


def readable_held_out(data_dir):
    """The held-out items of the tiny training that decode (its broken file does not)."""
    _, items = data.list_images_in([data_dir])
    held_out = splits.split_items(data.drop_duplicates(items).kept, val_fraction=0.34).validation
    readable = set(data.decode_images(held_out, 32).paths)
    return [item for item in held_out if item.path in readable]


def test_calibrate_model_writes_a_calibrated_version_with_the_same_weights(held_out_version):
    root, version, data_dir = held_out_version
    out = io.StringIO()
    call_command("calibrate_model", "--data-dir", str(data_dir), "--model", version, stdout=out)

    derived = [v for v in versions.list_versions(root) if v != version]
    metadata = versions.read_metadata(root / derived[0])
    assert metadata["derived_from"] == version
    assert metadata["calibration"]["n_images"] == len(readable_held_out(data_dir))
    assert metadata["calibration"]["temperature"] > 0
    assert (root / derived[0] / "model.tflite").read_bytes() == (
        root / version / "model.tflite"
    ).read_bytes()
    assert f"Version {derived[0]} (weights of {version})" in out.getvalue()


def test_calibrate_model_can_turn_flip_averaging_off_and_measures_the_version_again(
    held_out_version,
):
    root, version, data_dir = held_out_version
    out = io.StringIO()
    call_command(
        "calibrate_model", "--data-dir", str(data_dir), "--model", version,
        "--flip-averaging", "off", stdout=out,
    )  # fmt: skip

    derived = next(v for v in versions.list_versions(root) if v != version)
    metadata = versions.read_metadata(root / derived)
    assert metadata["inference"]["flip_averaging"] is False
    classifier = load_classifier(root / derived)
    assert classifier.flip_averaging is False
    held_out = readable_held_out(data_dir)
    predictions = classifier.classify_batch([item.path for item in held_out])
    labels = [data.CLASS_NAMES[item.label] for item in held_out]
    correct = sum(p.label == label for p, label in zip(predictions, labels, strict=True))
    assert metadata["metrics"]["validation"]["accuracy"] == pytest.approx(correct / len(held_out))
    assert "(flip averaging off); recall: Cyst" in out.getvalue()
