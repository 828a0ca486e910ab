from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import keras
import numpy as np
import pytest

from mlcore import data, splits, versions
from mlcore.inference import load_classifier
from mlcore.training import NeverLearnedError, TrainConfig, callbacks, train
from mlcore.training.callbacks import (
    NEVER_LEARNED_SPREAD,
    PreciseBatchNormValidation,
    WeightAverage,
    never_learned,
    reading_spread,
)
from mlcore.training.distillation import distillation_targets
from mlcore.training.inputs import make_augmenter


def test_one_epoch_writes_a_complete_loadable_version(tiny_version):
    metadata = json.loads((tiny_version / "metadata.json").read_text())

    assert {p.name for p in tiny_version.iterdir()} == {
        "model.keras",
        "model.tflite",
        "metadata.json",
    }
    assert metadata["version"] == tiny_version.name
    assert metadata["class_names"] == ["Cyst", "Normal", "Stone", "Tumor"]
    assert metadata["input_size"] == [32, 32, 3]
    assert metadata["preprocessing"]["resize_filter"] == "bilinear"
    assert metadata["inference"]["flip_averaging"] is True
    assert metadata["training"]["seed"] == 1
    assert [m["epochs_run"] for m in metadata["training"]["members"]] == [1]
    assert metadata["dataset"]["counts"] == {"Cyst": 6, "Normal": 6, "Stone": 6, "Tumor": 6}
    assert metadata["dataset"]["validation_counts"] == {
        "Cyst": 2,
        "Normal": 2,
        "Stone": 2,
        "Tumor": 2,
    }
    assert len(metadata["dataset"]["fingerprint"]) == 64
    assert metadata["runtimes"]["litert"]["max_abs_diff_vs_keras"] <= 1e-4
    assert "tensorflow-cpu" in metadata["libraries"]
    assert keras.saving.load_model(tiny_version / "model.keras").output_shape == (None, 4)


def test_saved_metrics_are_the_model_evaluated_on_the_held_out_images(tiny_version):
    metadata = versions.read_metadata(tiny_version)
    root = data.find_dataset_root(metadata["dataset"]["folders"][0]["root"])
    held_out = splits.split_by_number(data.list_images(root), 0.34).validation
    classifier = load_classifier(tiny_version)

    predictions = classifier.classify_batch([item.path for item in held_out])

    labels = [data.CLASS_NAMES[item.label] for item in held_out]
    correct = sum(p.label == label for p, label in zip(predictions, labels, strict=True))
    report = metadata["metrics"]["validation"]
    assert report["n_images"] == len(held_out) == 8
    assert report["accuracy"] == pytest.approx(correct / len(held_out))


def test_training_skips_unreadable_images_and_records_them(tiny_training):
    result, lines = tiny_training

    skipped = result.metadata["dataset"]["skipped"]
    assert [entry["path"].endswith("Stone- (3).jpg") for entry in skipped] == [True]
    assert result.metadata["dataset"]["counts"]["Stone"] == 6
    assert "Skipped 1 unreadable image(s)." in lines


def test_training_logs_progress_with_an_eta(tiny_training):
    _, lines = tiny_training

    assert any(line.startswith("epoch 1/1 - loss") and "ETA" in line for line in lines)


def test_too_few_images_is_a_clear_error(dataset_dir, tmp_path):
    for path in (dataset_dir / "Tumor").iterdir():
        path.unlink()

    with pytest.raises(data.DatasetError, match="Too few images in Tumor"):
        train(TrainConfig((dataset_dir,), tmp_path / "models", epochs=1), log=lambda line: None)


def test_reading_spread_is_the_largest_spread_of_one_class_probability():
    alike = np.tile([0.1, 0.4, 0.2, 0.3], (50, 1))
    apart = np.array([[1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0]])

    assert reading_spread(alike) == pytest.approx(0)
    assert reading_spread(apart) == pytest.approx(0.5)
    assert never_learned(alike) and not never_learned(apart)
    assert never_learned(np.full((4, 4), np.nan))  # a network gone to NaN learned nothing


def test_a_network_that_never_learned_is_refused_before_anything_is_saved(dataset_dir, tmp_path):
    # With this split and seed, a learning rate of 1000 blows the weights up in the
    # first epoch and every image gets the same reading (spread 0), as the dead start
    # of one balanced-sampling fold did at the real learning rate.
    config = TrainConfig(
        (dataset_dir,), tmp_path / "models", epochs=1, batch_size=8, image_size=32,
        val_fraction=0.34,
    )  # fmt: skip

    lines: list[str] = []

    with pytest.raises(
        NeverLearnedError,
        match=r"never learned with seeds 1, 1001, 2001: .* ln 4 .* Nothing was saved",
    ):
        train(replace(config, learning_rate=1000.0), log=lines.append)
    assert not (tmp_path / "models").exists() or not any((tmp_path / "models").iterdir())
    # Each seed was stopped at its dead start (here the first and only epoch).
    assert [line.split(":")[0] for line in lines if "started dead" in line] == [
        "Seed 1 started dead",
        "Seed 1001 started dead",
        "Seed 2001 started dead",
    ]
    with pytest.raises(NeverLearnedError, match=r"seeds 1: "):
        train(replace(config, learning_rate=1000.0, dead_start_retries=0), log=lines.append)


def test_a_dead_start_is_trained_again_with_another_seed(dataset_dir, tmp_path, monkeypatch):
    # The first network checked reads "alike"; the one trained after it does not.
    verdicts = iter([True])
    monkeypatch.setattr(callbacks, "never_learned", lambda p: next(verdicts, False))
    config = TrainConfig(
        (dataset_dir,), tmp_path / "models", epochs=2, batch_size=8, image_size=32,
        val_fraction=0.34,
    )  # fmt: skip
    lines: list[str] = []

    result = train(config, log=lines.append)

    (member,) = result.metadata["training"]["members"]
    assert member["seed"] == 1001
    assert member["epochs_run"] == 2
    assert [(d["seed"], d["epoch"]) for d in member["dead_starts"]] == [(1, 2)]
    assert any(line.startswith("Seed 1 started dead") for line in lines)
    assert "dead_start_retries" in result.metadata["training"]


def test_the_dead_start_check_stops_at_its_epoch():
    check = callbacks.DeadStartCheck(
        data.DecodedImages(np.zeros((8, 4, 4, 3), "float32"), np.arange(8) % 4, []), epoch=2
    )
    inputs = keras.Input((4, 4, 3))
    flat = keras.layers.Flatten()(inputs)
    model = keras.Model(inputs, keras.layers.Dense(4, activation="softmax")(flat))
    model.stop_training = False  # as fit sets it
    check.set_model(model)

    check.on_epoch_end(0, {"loss": 1.3863})  # epoch 1: not looked at
    assert check.dead is None and not check.model.stop_training
    check.on_epoch_end(1, {"loss": 1.3863})  # all-black images: every reading alike
    assert check.dead == (2, pytest.approx(1.3863))
    assert check.model.stop_training


def test_a_network_that_learned_records_its_reading_spread(tiny_version):
    members = versions.read_metadata(tiny_version)["training"]["members"]

    assert all(m["reading_spread"] >= 10 * NEVER_LEARNED_SPREAD for m in members)


def test_augmentation_is_reproducible_with_a_seed_and_keeps_shape():
    images = np.random.default_rng(0).random((2, 32, 32, 3)).astype("float32")

    first = np.asarray(make_augmenter(7)(images, training=True))
    second = np.asarray(make_augmenter(7)(images, training=True))

    assert first.shape == images.shape
    assert np.array_equal(first, second)
    assert not np.array_equal(first, images)


def test_augmentation_layers_draw_independently():
    config = TrainConfig((), Path(), rotation=10.0, zoom=0.1)
    augmenter = make_augmenter(7, config)
    rotation, zoom = augmenter.layers[1], augmenter.layers[2]
    images = np.zeros((64, 8, 8, 3), "float32")
    angles = np.asarray(rotation.get_random_transformation(images, training=True)["angle"])
    zooms = np.asarray(zoom.get_random_transformation(images, training=True)["height_zoom"])

    assert abs(np.corrcoef(angles.ravel(), zooms.ravel())[0, 1]) < 0.5


def test_contrast_jitter_lowers_as_well_as_raises_contrast():
    config = TrainConfig((), Path(), rotation=0.0, zoom=0.0, translation=0.0, contrast=0.3)
    augmenter = make_augmenter(3, config)
    image = np.random.default_rng(0).random((1, 16, 16, 3)).astype("float32") * 0.5 + 0.25
    ratios = [
        float(np.std(np.asarray(augmenter(image, training=True)))) / float(np.std(image))
        for _ in range(40)
    ]
    assert min(ratios) < 0.95 and max(ratios) > 1.05


def test_sharpness_softens_as_well_as_sharpens_and_grain_is_added():
    still = {"rotation": 0.0, "zoom": 0.0, "translation": 0.0}
    image = np.zeros((1, 16, 16, 3), "float32")
    image[:, :, 8:] = 0.8  # one vertical edge

    def edge(out) -> float:  # the step across the edge (either way: flips), 0.8 here
        row = np.asarray(out)[0, 8, :, 0]
        return abs(float(row[8] - row[7]))

    augmenter = make_augmenter(3, TrainConfig((), Path(), sharpness=0.5, **still))
    steps = [edge(augmenter(image, training=True)) for _ in range(40)]
    assert min(steps) < 0.6 and max(steps) > 0.9  # blurred and sharpened
    assert [layer.name for layer in augmenter.layers][-1].startswith("random_sharpness")

    grainy = make_augmenter(3, TrainConfig((), Path(), noise=0.05, **still))
    flat = np.full((1, 32, 32, 3), 0.5, "float32")
    out = np.asarray(grainy(flat, training=True))
    assert 0.03 < float(np.std(out)) < 0.07
    assert np.array_equal(np.asarray(grainy(flat, training=False)), flat)
    # Off by default: the layers of every recipe before them.
    assert len(make_augmenter(3).layers) == 4


def test_sharpness_and_noise_are_checked():
    with pytest.raises(ValueError, match="--sharpness"):
        TrainConfig((), Path(), sharpness=0.6)
    with pytest.raises(ValueError, match="--noise"):
        TrainConfig((), Path(), noise=-0.1)


def test_versions_are_never_overwritten(tmp_path):
    inputs = keras.Input((4, 4, 3))
    model = keras.Model(inputs, keras.layers.Dense(4, activation="softmax")(inputs))
    images = np.zeros((1, 4, 4, 3), "float32")

    first = versions.write_version(tmp_path, model, {}, parity_images=images)
    second = versions.write_version(tmp_path, model, {}, parity_images=images)

    assert first != second
    assert versions.list_versions(tmp_path) == sorted([first.name, second.name])


def test_ensemble_averages_members_trained_with_consecutive_seeds(dataset_dir, tmp_path):
    config = TrainConfig(
        (dataset_dir,),
        tmp_path / "models",
        epochs=1,
        batch_size=8,
        image_size=32,
        ensemble=2,
        seed=5,
    )

    result = train(config, log=lambda line: None)

    members = result.metadata["training"]["members"]
    assert [m["seed"] for m in members] == [5, 6]
    model = keras.saving.load_model(result.version_dir / "model.keras")
    images = np.random.default_rng(0).random((3, 32, 32, 3)).astype("float32")
    parts = [np.asarray(model.get_layer(f"member_{i}")(images)) for i in range(2)]
    assert np.allclose(np.asarray(model(images)), np.mean(parts, axis=0), atol=1e-6)
    assert result.metadata["runtimes"]["litert"]["max_abs_diff_vs_keras"] <= 1e-4


def test_logged_validation_is_that_of_the_saved_checkpoint(tiny_training):
    result, _ = tiny_training
    member = result.metadata["training"]["members"][0]
    root = data.find_dataset_root(result.metadata["dataset"]["folders"][0]["root"])
    held_out = splits.split_by_number(data.list_images(root), 0.34).validation
    classifier = load_classifier(result.version_dir)
    classifier.flip_averaging = False  # epochs are validated on the plain images

    predictions = classifier.classify_batch([item.path for item in held_out])

    labels = [data.CLASS_NAMES[item.label] for item in held_out]
    correct = sum(p.label == label for p, label in zip(predictions, labels, strict=True))
    logged = member["history"]["val_accuracy"][member["best_epoch"] - 1]
    assert logged == pytest.approx(correct / len(held_out))


def test_batch_norm_statistics_are_recomputed_from_one_large_batch():
    inputs = keras.Input((4, 4, 3))
    norm = keras.layers.BatchNormalization(momentum=0.9)
    model = keras.Model(inputs, keras.layers.Flatten()(norm(inputs)))
    images = np.random.default_rng(1).normal(5.0, 2.0, (64, 4, 4, 3)).astype("float32")
    decoded = data.DecodedImages(images, np.zeros(64, dtype=np.int64), [])
    config = TrainConfig((), Path(), class_names=("a",))
    callback = PreciseBatchNormValidation(decoded, decoded, config, seed=0, batch=64)
    callback.set_model(model)
    callback.augment = lambda images, training: images  # exact statistics expected

    callback.recompute_statistics()

    assert np.allclose(norm.moving_mean, images.mean(axis=(0, 1, 2)), atol=1e-4)
    assert np.allclose(norm.moving_variance, images.var(axis=(0, 1, 2)), rtol=1e-3)
    assert norm.momentum == 0.9


def test_same_seed_trains_the_same_weights(tiny_training, tmp_path):
    result, _ = tiny_training
    settings = result.metadata["training"]
    config = TrainConfig(
        (Path(result.metadata["dataset"]["folders"][0]["root"]),),
        tmp_path,
        epochs=settings["epochs"],
        batch_size=settings["batch_size"],
        image_size=settings["image_size"],
        val_fraction=settings["val_fraction"],
        seed=settings["seed"],
    )

    again = train(config, log=lambda line: None)

    first = keras.saving.load_model(result.version_dir / "model.keras").get_weights()
    second = keras.saving.load_model(again.version_dir / "model.keras").get_weights()
    assert all(np.array_equal(a, b) for a, b in zip(first, second, strict=True))


def test_new_versions_carry_their_calibration_and_uncertain_threshold(tiny_version):
    metadata = versions.read_metadata(tiny_version)
    calibration = metadata["calibration"]
    assert calibration["temperature"] > 0
    assert {"ece_before", "ece_after", "bins", "n_images"} <= calibration.keys()
    assert 0.25 <= metadata["inference"]["uncertain_below"] <= 0.99


def test_distillation_mixes_the_teachers_served_probabilities_into_the_targets(tiny_training):
    result, _ = tiny_training
    teacher = load_classifier(result.version_dir, runtime="keras")
    root = Path(result.metadata["dataset"]["folders"][0]["root"])
    items = data.list_images(root)
    split = splits.split_by_number(items, 0.34)
    train_set = data.decode_images(split.train, 48)  # the student reads smaller images
    config = TrainConfig(
        (root,), result.version_dir.parent, image_size=48, val_fraction=0.34,
        teacher=str(result.version_dir), teacher_weight=0.25,
    )  # fmt: skip
    lines: list[str] = []

    targets = distillation_targets(config, train_set, data.fingerprint(items), lines.append)

    own_size = data.decode_images(split.train, 32).images
    expected = 0.75 * keras.utils.to_categorical(train_set.labels, 4) + 0.25 * (
        teacher.predict_arrays(own_size, calibrated=False)
    )
    assert np.allclose(targets, expected, atol=1e-6)
    assert np.allclose(targets.sum(axis=1), 1.0, atol=1e-5)
    assert lines[0].startswith(f"Teacher {teacher.version}: agrees with")


def test_a_student_trains_from_its_teacher_and_records_it(tiny_training, tmp_path):
    result, _ = tiny_training
    config = TrainConfig(
        (Path(result.metadata["dataset"]["folders"][0]["root"]),), tmp_path, epochs=1,
        batch_size=8,
        image_size=48, val_fraction=0.34, teacher=str(result.version_dir),
    )  # fmt: skip

    student = train(config, log=lambda line: None)

    assert student.metadata["training"]["teacher"] == str(result.version_dir)
    assert student.metadata["input_size"] == [48, 48, 3]


@pytest.mark.parametrize("change", ["fraction", "fold", "data"])
def test_a_teacher_that_saw_other_images_is_refused(change, tiny_training, dataset_dir, tmp_path):
    result, _ = tiny_training
    root, fraction, fold = Path(result.metadata["dataset"]["folders"][0]["root"]), 0.34, 0
    if change == "fraction":
        fraction = 0.2  # the teacher trained on some of these held-out images
    elif change == "fold":
        fold = 1  # the teacher trained on this fold's held-out block
    else:
        root = dataset_dir  # same layout, other bytes
    config = TrainConfig(
        (root,), tmp_path, epochs=1, image_size=48, val_fraction=fraction, val_fold=fold,
        teacher=str(result.version_dir),
    )  # fmt: skip

    with pytest.raises(data.DatasetError, match="was not trained on this data with this split"):
        train(config, log=lambda line: None)
    assert versions.list_versions(tmp_path) == []


def test_weight_average_keeps_the_mean_of_the_last_epochs():
    inputs = keras.Input((2,))
    model = keras.Model(inputs, keras.layers.Dense(1)(inputs))
    average = WeightAverage(first_epoch=2)
    average.set_model(model)
    for epoch, value in enumerate([1.0, 2.0, 6.0]):
        model.set_weights([np.full_like(w, value) for w in model.get_weights()])
        average.on_epoch_end(epoch)

    average.apply()

    assert all(np.allclose(w, 4.0) for w in model.get_weights())  # epochs 2 and 3


def test_averaging_the_last_epochs_replaces_choosing_the_best_one(dataset_dir, tmp_path):
    config = TrainConfig(
        (dataset_dir,), tmp_path, epochs=2, batch_size=8, image_size=32, val_fraction=0.34,
        average_last=2,
    )  # fmt: skip
    lines: list[str] = []

    result = train(config, log=lines.append)

    member = result.metadata["training"]["members"][0]
    assert member["kept"] == "average of epochs 1-2"
    assert member["epochs_run"] == 2
    assert any(line.startswith("Average of epochs 1-2: val_accuracy") for line in lines)
