from __future__ import annotations

import json

import keras
import numpy as np
import pytest

from mlcore import data, versions
from mlcore.inference import load_classifier
from mlcore.training import TrainConfig, make_augmenter, train


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
    assert metadata["training"]["epochs_run"] == 1
    assert metadata["training"]["seed"] == 1
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
    root = data.find_dataset_root(metadata["dataset"]["root"])
    held_out = data.split_by_number(data.list_images(root), 0.34).validation
    classifier = load_classifier(tiny_version)

    predictions = classifier.classify_batch([item.path for item in held_out])

    labels = [data.CLASS_NAMES[item.label] for item in held_out]
    correct = sum(p.label == label for p, label in zip(predictions, labels, strict=True))
    report = metadata["metrics"]["validation"]
    assert report["n_images"] == len(held_out) == 8
    assert report["accuracy"] == pytest.approx(correct / len(held_out))


def test_training_skips_unreadable_images_and_records_them(dataset_dir, tmp_path):
    (dataset_dir / "Stone" / "Stone- (3).jpg").write_bytes(b"\xff\xd8\xff garbage")
    config = TrainConfig(dataset_dir, tmp_path / "models", epochs=1, batch_size=8, image_size=32)
    lines = []

    result = train(config, log=lines.append)

    skipped = result.metadata["dataset"]["skipped"]
    assert [entry["path"].endswith("Stone- (3).jpg") for entry in skipped] == [True]
    assert "Skipped 1 unreadable image(s)." in lines
    assert any(line.startswith("epoch 1/1 - loss") and "ETA" in line for line in lines)


def test_too_few_images_is_a_clear_error(dataset_dir, tmp_path):
    for path in (dataset_dir / "Tumor").iterdir():
        path.unlink()

    with pytest.raises(data.DatasetError, match="Too few images in Tumor"):
        train(TrainConfig(dataset_dir, tmp_path / "models", epochs=1), log=lambda line: None)


def test_augmentation_is_reproducible_with_a_seed_and_keeps_shape():
    images = np.random.default_rng(0).random((2, 32, 32, 3)).astype("float32")

    first = np.asarray(make_augmenter(7)(images, training=True))
    second = np.asarray(make_augmenter(7)(images, training=True))

    assert first.shape == images.shape
    assert np.array_equal(first, second)
    assert not np.array_equal(first, images)


def test_versions_are_never_overwritten(tiny_version):
    model = keras.saving.load_model(tiny_version / "model.keras")
    images = np.zeros((1, 32, 32, 3), "float32")

    first = versions.write_version(tiny_version.parent, model, {}, parity_images=images)
    second = versions.write_version(tiny_version.parent, model, {}, parity_images=images)

    assert first != second
    assert first.name != tiny_version.name
