from __future__ import annotations

import numpy as np
import pytest
from factories import encode, synthetic_slice
from support.planes import axial_slice, coronal_slice

from mlcore import data, versions
from mlcore.calibration import apply_temperature
from mlcore.inference import Prediction, load_classifier
from mlcore.preprocessing import UnsupportedFormatError, View, load_image, load_views


@pytest.fixture(scope="module")
def image_bytes() -> list[bytes]:
    return [encode(synthetic_slice(label, 50 + label), "JPEG") for label in range(4)]


def test_classify_returns_a_complete_prediction(tiny_version, image_bytes):
    prediction = load_classifier(tiny_version).classify(image_bytes[0])

    assert isinstance(prediction, Prediction)
    assert set(prediction.probabilities) == {"Cyst", "Normal", "Stone", "Tumor"}
    assert sum(prediction.probabilities.values()) == pytest.approx(1.0, abs=1e-5)
    assert prediction.label == max(prediction.probabilities, key=prediction.probabilities.get)
    assert prediction.confidence == prediction.probabilities[prediction.label]
    assert prediction.model_version == tiny_version.name
    assert prediction.milliseconds > 0


def test_a_slice_whose_body_fills_the_frame_is_marked(tiny_version, tmp_path):
    classifier = load_classifier(tiny_version)

    coronal, axial = classifier.classify_batch(
        [coronal_slice(tmp_path / "c.png"), axial_slice(tmp_path / "a.png")]
    )

    assert coronal.fills_frame and not axial.fills_frame
    views = classifier.read(coronal_slice(tmp_path / "c.png"))
    assert views.fills_frame


@pytest.mark.parametrize("runtime", ["litert", "keras"])
def test_batch_gives_the_same_probabilities_as_single_images(tiny_version, image_bytes, runtime):
    classifier = load_classifier(tiny_version, runtime=runtime)

    batch = classifier.classify_batch(image_bytes)
    singles = [classifier.classify(data) for data in image_bytes]

    for one, many in zip(singles, batch, strict=True):
        assert one.label == many.label
        for name in one.probabilities:
            assert one.probabilities[name] == pytest.approx(many.probabilities[name], abs=1e-5)


def test_litert_and_keras_runtimes_agree(tiny_version, image_bytes):
    fast = load_classifier(tiny_version, runtime="litert").classify_batch(image_bytes)
    exact = load_classifier(tiny_version, runtime="keras").classify_batch(image_bytes)

    for a, b in zip(fast, exact, strict=True):
        diffs = [abs(a.probabilities[k] - b.probabilities[k]) for k in a.probabilities]
        assert max(diffs) <= 1e-4


def test_runtime_is_the_callers_not_the_environments(tiny_version, monkeypatch):
    # mlcore reads no environment: the application passes its setting.
    monkeypatch.setenv("KIDNEYWEB_INFERENCE_RUNTIME", "keras")

    assert load_classifier(tiny_version).runtime == "litert"
    assert load_classifier(tiny_version, runtime="keras").runtime == "keras"


def test_unknown_runtime_is_refused(tiny_version):
    with pytest.raises(ValueError, match="Unknown inference runtime"):
        load_classifier(tiny_version, runtime="onnx")


def test_active_version_is_loaded_by_default(tiny_version):
    versions.activate(tiny_version.name, tiny_version.parent)

    classifier = load_classifier(models_dir=tiny_version.parent)

    assert classifier.version == tiny_version.name
    assert versions.active_version(tiny_version.parent) == tiny_version.name


def test_no_active_version_is_a_clear_error(tmp_path):
    with pytest.raises(versions.VersionError, match="No active model version"):
        load_classifier(models_dir=tmp_path)


def test_unknown_version_is_a_clear_error(tiny_version):
    with pytest.raises(versions.VersionError, match="No model version nope"):
        load_classifier("nope", models_dir=tiny_version.parent)


def test_bad_image_raises_a_typed_error(tiny_version):
    with pytest.raises(UnsupportedFormatError):
        load_classifier(tiny_version).classify(b"GIF89a not for us")


def test_empty_batch_gives_no_predictions(tiny_version):
    assert load_classifier(tiny_version).classify_batch([]) == []


def test_shipped_model_is_active_and_classifies(image_bytes):
    classifier = load_classifier(models_dir=versions.DEFAULT_MODELS_DIR)

    prediction = classifier.classify(image_bytes[2])

    assert prediction.model_version == versions.active_version(versions.DEFAULT_MODELS_DIR)
    assert classifier.runtime == "litert"
    assert sum(prediction.probabilities.values()) == pytest.approx(1.0, abs=1e-5)


def test_shipped_model_was_trained_on_the_sample_and_cross_validated(sample_dir):
    classifier = load_classifier(models_dir=versions.DEFAULT_MODELS_DIR)
    metadata = classifier.metadata

    # Trained on every slice: its figures come from patient-block cross-validation of
    # its recipe on the same data, every fold of it, and its calibration with them.
    crossvalidation = metadata["metrics"]["crossvalidation"]
    assert [row["fold"] for row in crossvalidation["per_fold"]] == list(
        range(crossvalidation["folds"])
    )
    assert metadata["calibration"]["fitted_on"].startswith("out-of-fold predictions")
    assert crossvalidation["data"]["fingerprint"] == metadata["dataset"]["fingerprint"]
    (sample,) = [f for f in metadata["dataset"]["folders"] if f["root"].endswith(sample_dir.name)]
    _, items = data.list_images_in([sample_dir])
    assert data.fingerprint(items) == sample["fingerprint"]


def test_flip_averaging_versions_average_the_image_and_its_mirror(tiny_version, image_bytes):
    classifier = load_classifier(tiny_version, runtime="keras")
    array = classifier.preprocess(image_bytes[1])[None]
    model = classifier._runner.model

    prediction = classifier.classify(image_bytes[1])

    assert classifier.flip_averaging is True
    mean = (np.asarray(model(array)) + np.asarray(model(array[:, :, ::-1]))) / 2
    expected = apply_temperature(mean, classifier.temperature)  # then calibrated
    served = [prediction.probabilities[name] for name in classifier.class_names]
    assert np.allclose(served, expected[0], atol=1e-6)


def test_versions_without_flip_averaging_read_each_image_once(tiny_version, image_bytes):
    classifier = load_classifier(tiny_version, runtime="keras")
    classifier.flip_averaging = False
    array = classifier.preprocess(image_bytes[1])[None]

    prediction = classifier.classify(image_bytes[1])

    served = [prediction.probabilities[name] for name in classifier.class_names]
    once = np.asarray(classifier._runner.model(array))
    assert np.allclose(served, apply_temperature(once, classifier.temperature)[0], atol=1e-6)


def test_served_probabilities_carry_the_versions_temperature(tiny_version, image_bytes):
    classifier = load_classifier(tiny_version)
    batch = np.stack([classifier.preprocess(data) for data in image_bytes])
    raw = classifier.predict_arrays(batch, calibrated=False)

    assert (
        classifier.temperature == versions.read_metadata(tiny_version)["calibration"]["temperature"]
    )
    assert np.allclose(
        classifier.predict_arrays(batch), apply_temperature(raw, classifier.temperature)
    )


def test_uncertain_follows_the_versions_threshold(tiny_version, image_bytes):
    classifier = load_classifier(tiny_version)
    classifier.uncertain_below = 1.01
    assert all(p.uncertain for p in classifier.classify_batch(image_bytes))
    classifier.uncertain_below = 0.0
    assert not any(p.uncertain for p in classifier.classify_batch(image_bytes))


def test_the_shipped_version_reads_what_its_networks_trained_on_and_checks_the_whole_slice(
    sample_dir,
):
    classifier = load_classifier(models_dir=versions.DEFAULT_MODELS_DIR)
    path = sample_dir / "Tumor" / "Tumor- (1).jpg"
    views = classifier.views or (View(classifier.body_mask, classifier.body_crop),)
    assert all(view.body_mask for view in views)  # no network reads the table or the air

    read = classifier.read(path)

    whole = load_image(path, classifier.image_size)
    assert np.array_equal(read.whole, whole) and np.array_equal(classifier.preprocess(path), whole)
    inputs = read.model_input if classifier.views else read.model_input[None]
    for view, model_input in zip(views, inputs, strict=True):
        # Each network trained on its own view alone (data.decode_views).
        trained_on = load_views(
            path, classifier.image_size, body_mask=view.body_mask, body_crop=view.body_crop
        ).model_input
        assert np.array_equal(model_input, trained_on)
        if not view.body_crop:  # the whole masked slice is load_image's, as training read it
            assert np.array_equal(
                model_input, load_image(path, classifier.image_size, body_mask=True)
            )


def test_a_network_of_the_whole_masked_slice_masks_whole_slices_as_training_did(view_members):
    data_dir, _, (masked, _) = view_members
    classifier = load_classifier(masked)
    path = sorted((data_dir / "Tumor").iterdir())[0]

    whole = classifier.preprocess(path)

    assert classifier.body_mask and not (classifier.body_crop or classifier.views)
    trained_on = load_image(path, classifier.image_size, body_mask=True)
    assert np.array_equal(classifier.model_input(whole[None])[0], trained_on)
