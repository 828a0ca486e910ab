from __future__ import annotations

import numpy as np
import pytest

from mlcore import data


def test_dataset_root_is_found_below_the_given_folder(dataset_dir, tmp_path):
    assert data.find_dataset_root(tmp_path) == dataset_dir


def test_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(data.DatasetError, match="does not exist"):
        data.find_dataset_root(tmp_path / "nowhere")


def test_folder_without_every_class_is_a_clear_error(tmp_path):
    for name in ("Cyst", "Normal", "Stone"):
        (tmp_path / name).mkdir()

    with pytest.raises(data.DatasetError, match="Cyst, Normal, Stone, Tumor"):
        data.find_dataset_root(tmp_path)


def test_images_are_labelled_by_class_folder_and_numbered_by_file_name(dataset_dir):
    items = data.list_images(dataset_dir)

    assert data.class_counts(items) == {"Cyst": 6, "Normal": 6, "Stone": 6, "Tumor": 6}
    stones = [i for i in items if i.label == data.CLASS_NAMES.index("Stone")]
    assert [i.number for i in stones] == [1, 2, 3, 4, 5, 6]
    assert all(i.path.parent.name == "Stone" for i in stones)


def test_validation_split_holds_out_the_highest_numbers_of_each_class(tmp_path):
    items = [
        data.LabeledImage(tmp_path / f"{label}-{number}.jpg", label, number)
        for label in range(4)
        for number in (3, 10, 1, 7, 2, 9, 4, 8, 6, 5)
    ]

    split = data.split_by_number(items, 0.2)

    assert sorted((i.label, i.number) for i in split.validation) == [
        (label, number) for label in range(4) for number in (9, 10)
    ]
    assert max(i.number for i in split.train) == 8
    assert len(split.train) == 32


def test_folds_hold_out_each_block_of_numbers_once(tmp_path):
    items = [
        data.LabeledImage(tmp_path / f"{label}-{number}.jpg", label, number)
        for label in range(4)
        for number in range(1, 11)
    ]

    folds = [data.split_by_number(items, 0.2, fold=k) for k in range(5)]

    for k, split in enumerate(folds):
        held = {(i.label, i.number) for i in split.validation}
        block = range(9 - 2 * k, 11 - 2 * k)  # fold 0: 9-10, fold 1: 7-8, ... fold 4: 1-2
        assert held == {(label, n) for label in range(4) for n in block}
        assert not held & {(i.label, i.number) for i in split.train}
        assert len(split.train) == 32
    assert folds[0] == data.split_by_number(items, 0.2)  # fold 0 is the default split
    with pytest.raises(data.DatasetError, match=r"no validation fold 5: .* gives folds 0-4"):
        data.split_by_number(items, 0.2, fold=5)
    with pytest.raises(data.DatasetError, match="fold must be 0 or more"):
        data.split_by_number(items, 0.2, fold=-1)
    with pytest.raises(data.DatasetError, match="0 without validation"):
        data.split_by_number(items, 0, fold=1)


def test_split_never_shares_a_file_between_train_and_validation(dataset_dir):
    split = data.split_by_number(data.list_images(dataset_dir), 0.34)

    assert not {i.path for i in split.train} & {i.path for i in split.validation}
    assert len(split.train) + len(split.validation) == 24


def test_zero_validation_fraction_trains_on_everything(dataset_dir):
    split = data.split_by_number(data.list_images(dataset_dir), 0)

    assert split.validation == []
    assert len(split.train) == 24


def test_unreadable_images_are_skipped_and_reported(dataset_dir):
    broken = dataset_dir / "Cyst" / "Cyst- (99).jpg"
    broken.write_bytes(b"not an image")

    decoded = data.decode_images(data.list_images(dataset_dir), 32)

    assert decoded.images.shape == (24, 32, 32, 3)
    assert len(decoded.labels) == 24
    assert decoded.skipped == [(broken, "Not a JPEG, PNG or DICOM image.")]


def test_class_weights_balance_an_imbalanced_set():
    labels = np.array([0] * 30 + [1] * 10 + [2] * 10 + [3] * 50)

    weights = data.class_weights(labels)

    counts = np.bincount(labels)
    assert {round(weights[c] * counts[c], 6) for c in range(4)} == {25.0}


def test_fingerprint_changes_when_an_image_changes(dataset_dir):
    before = data.fingerprint(data.list_images(dataset_dir))
    (dataset_dir / "Tumor" / "Tumor- (1).jpg").write_bytes(b"changed")

    assert data.fingerprint(data.list_images(dataset_dir)) != before


def test_download_failure_offline_says_what_to_do(monkeypatch, tmp_path):
    # kagglesdk's TEST environment points at localhost:7777, where nothing listens: the
    # real kagglehub code path runs and fails as it does offline, on any machine.
    monkeypatch.setenv("KAGGLEHUB_CACHE", str(tmp_path))
    monkeypatch.setenv("KAGGLE_API_ENVIRONMENT", "TEST")

    with pytest.raises(data.DatasetError, match="internet connection"):
        data.download_dataset()
