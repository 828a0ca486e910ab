"""Versions of networks that read different views of a slice (mlcore.ensembles): what
they are made of, and that serving, Grad-CAM and evaluation read them as the mean of
their networks, each on its own view."""

from __future__ import annotations

import json

import numpy as np
import pytest
from factories import off_centre_slice_png

from mlcore import data, versions
from mlcore.crossval import recipe_differences
from mlcore.ensembles import ensemble_metadata, write_view_ensemble
from mlcore.evaluation import evaluate_folder
from mlcore.explain import GradCam, _to_unit, attention_by_class, heatmap_grid
from mlcore.inference import load_classifier
from mlcore.preprocessing import View, load_views
from mlcore.training import recipe

WHOLE, CROP = View(body_mask=True), View(body_mask=True, body_crop=True)


@pytest.fixture(scope="module")
def ensemble(view_members, tmp_path_factory):
    """The version made of the two networks (tests/conftest.py: view_members)."""
    data_dir, configs, members = view_members
    _, items = data.list_images_in([data_dir])
    root = tmp_path_factory.mktemp("ensemble-models")
    made = write_view_ensemble(root, members, items, log=lambda line: None)
    return made, members, configs, data_dir


def test_the_version_records_each_networks_view_and_its_members(ensemble):
    made, members, _, _ = ensemble

    metadata = versions.read_metadata(made)

    assert metadata["preprocessing"]["views"] == [
        {"body_mask": True, "body_crop": False},
        {"body_mask": True, "body_crop": True},
    ]
    assert "body_crop" not in metadata["preprocessing"]
    assert metadata["training"]["member_versions"] == [m.name for m in members]
    first = versions.read_metadata(members[0])
    assert metadata["dataset"]["fingerprint"] == first["dataset"]["fingerprint"]
    assert metadata["runtimes"]["litert"]["checked_images"] > 0
    assert "uncertain_below" not in metadata["inference"]  # calibrated later


def test_views_are_read_from_one_decoding_and_stacked():
    png = off_centre_slice_png()

    read = load_views(png, 64, views=[WHOLE, CROP])

    assert read.model_input.shape == (2, 64, 64, 3)
    whole = load_views(png, 64, body_mask=True)
    crop = load_views(png, 64, body_mask=True, body_crop=True)
    assert np.array_equal(read.model_input[0], whole.model_input)
    assert np.array_equal(read.model_input[1], crop.model_input)
    assert read.boxes == (whole.box, crop.box) and crop.box != whole.box


@pytest.mark.parametrize("runtime", ["litert", "keras"])
def test_a_reading_is_the_mean_of_the_networks_each_on_its_view(ensemble, runtime):
    made, members, _, _ = ensemble
    classifier = load_classifier(made, runtime=runtime)
    png = off_centre_slice_png()

    mine = classifier.predict_arrays(classifier.read(png).model_input[None], calibrated=False)

    readings = []
    for member in members:
        single = load_classifier(member, runtime=runtime)
        readings.append(single.predict_arrays(single.read(png).model_input[None], calibrated=False))
    assert classifier.views == (WHOLE, CROP) and classifier.flip_averaging
    np.testing.assert_allclose(mine, np.mean(readings, axis=0), atol=1e-5)
    reading = classifier.classify(png)
    assert reading.label in classifier.class_names and not reading.uncertain
    with pytest.raises(ValueError, match="several views"):
        classifier.model_input(classifier.read(png).whole[None])


def test_each_views_heatmap_is_its_networks_and_the_slice_gets_their_mean(ensemble):
    made, members, _, _ = ensemble
    explainer = GradCam.from_version(made)
    alone = [GradCam.from_version(member) for member in members]
    png = off_centre_slice_png()
    read = load_views(png, explainer.image_size, views=[WHOLE, CROP])

    for class_index in range(4):
        heats = explainer.view_heatmaps(read.model_input, class_index)
        for heat, single, view in zip(heats, alone, read.model_input, strict=True):
            np.testing.assert_allclose(heat, single.heatmap(view, class_index), atol=1e-4)
        placed = [single.slice_heatmap(png, class_index) for single in alone]
        np.testing.assert_allclose(
            explainer.slice_heatmap(png, class_index), _to_unit(np.mean(placed, 0)), atol=1e-4
        )
    with pytest.raises(ValueError, match="a heatmap per view"):
        explainer.heatmap(read.model_input, 0)


def test_attention_is_measured_in_each_view_and_averaged(ensemble):
    made, members, _, data_dir = ensemble
    explainer = GradCam.from_version(made)
    _, items = data.list_images_in([data_dir])
    stacked = data.decode_images(items, explainer.image_size, views=[WHOLE, CROP])
    predicted = np.arange(len(stacked.labels)) % 4
    names = data.CLASS_NAMES

    mine = attention_by_class(explainer, stacked.images, stacked.labels, predicted, names)

    # Each network measured alone on its own view; a slice whose heatmap is empty
    # (nothing for the class) counts for neither.
    own = [
        attention_by_class(
            GradCam.from_version(member), stacked.images[:, k], stacked.labels, predicted, names
        )
        for k, member in enumerate(members)
    ]
    counted = sum(o["n_images"] for o in own)
    assert mine["n_images"] == counted > len(stacked.labels)
    pooled = sum(o["mean"] * o["n_images"] for o in own) / counted
    assert mine["mean"] == pytest.approx(pooled, abs=1e-3)
    with pytest.raises(ValueError, match="one view"):
        heatmap_grid(explainer, stacked.images, stacked.labels, predicted, names)


def test_evaluation_reads_the_version_as_it_serves(ensemble):
    made, _, _, data_dir = ensemble
    classifier = load_classifier(made, runtime="keras")

    report = evaluate_folder(classifier, [data_dir], explainer=GradCam.from_version(made))

    assert report["n_images"] == 4 * 8
    assert report["model_version"] == made.name
    # Both views measured (a slice whose heatmap is empty counts for neither).
    assert 4 * 8 < report["attention_in_body"]["n_images"] <= 2 * 4 * 8
    assert data.decode_images([], 32, views=[WHOLE, CROP]).images.shape == (0, 2, 32, 32, 3)


def test_networks_that_do_not_fit_together_are_refused(ensemble):
    made, members, _, _ = ensemble
    first, second = (versions.read_metadata(m) for m in members)

    with pytest.raises(versions.VersionError, match="at least two"):
        ensemble_metadata([first])
    with pytest.raises(versions.VersionError, match="other data"):
        ensemble_metadata([first, {**second, "dataset": {"fingerprint": "another"}}])
    with pytest.raises(versions.VersionError, match="other classes"):
        ensemble_metadata([first, {**second, "class_names": ["Cyst", "Normal"]}])
    with pytest.raises(versions.VersionError, match="other input size"):
        ensemble_metadata([first, {**second, "input_size": [64, 64, 3]}])
    with pytest.raises(versions.VersionError, match="flip averaging"):
        ensemble_metadata([first, {**second, "inference": {"flip_averaging": False}}])
    with pytest.raises(versions.VersionError, match="already reads several views"):
        ensemble_metadata([first, versions.read_metadata(made)])


def test_a_cross_validated_ensemble_is_matched_network_by_network(ensemble):
    made, _, configs, _ = ensemble
    training = versions.read_metadata(made)["training"]
    crossvalidated = {
        "class_names": list(data.CLASS_NAMES),
        "ensemble_of": [recipe(c) for c in configs],
    }

    assert recipe_differences(crossvalidated, training) == []
    swapped = {**crossvalidated, "ensemble_of": crossvalidated["ensemble_of"][::-1]}
    assert recipe_differences(swapped, training) == [
        "network 1: body_crop",
        "network 2: body_crop",
    ]
    assert recipe_differences(crossvalidated["ensemble_of"][0], training) == [
        "the number of networks"
    ]
    assert json.loads(json.dumps(training)) == training
