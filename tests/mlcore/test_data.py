from __future__ import annotations

import numpy as np
import pytest
from factories import synthetic_slice, write_dataset

from mlcore import data, splits


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

    split = splits.split_by_number(items, 0.2)

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

    folds = [splits.split_by_number(items, 0.2, fold=k) for k in range(5)]

    for k, split in enumerate(folds):
        held = {(i.label, i.number) for i in split.validation}
        block = range(9 - 2 * k, 11 - 2 * k)  # fold 0: 9-10, fold 1: 7-8, ... fold 4: 1-2
        assert held == {(label, n) for label in range(4) for n in block}
        assert not held & {(i.label, i.number) for i in split.train}
        assert len(split.train) == 32
    assert folds[0] == splits.split_by_number(items, 0.2)  # fold 0 is the default split
    with pytest.raises(data.DatasetError, match=r"no validation fold 5: .* gives folds 0-4"):
        splits.split_by_number(items, 0.2, fold=5)
    with pytest.raises(data.DatasetError, match="fold must be 0 or more"):
        splits.split_by_number(items, 0.2, fold=-1)
    with pytest.raises(data.DatasetError, match="0 without validation"):
        splits.split_by_number(items, 0, fold=1)


def test_split_never_shares_a_file_between_train_and_validation(dataset_dir):
    split = splits.split_by_number(data.list_images(dataset_dir), 0.34)

    assert not {i.path for i in split.train} & {i.path for i in split.validation}
    assert len(split.train) + len(split.validation) == 24


def test_zero_validation_fraction_trains_on_everything(dataset_dir):
    split = splits.split_by_number(data.list_images(dataset_dir), 0)

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


def test_slice_weights_make_every_folder_count_alike_within_a_class():
    # Class 0: 30 slices of folder 0, 10 of folder 1; class 1: 20 of folder 1 only.
    labels = np.array([0] * 40 + [1] * 20)
    folders = np.array([0] * 30 + [1] * 10 + [1] * 20)

    weights = data.slice_weights(labels, folders, num_classes=2)

    by_class = data.class_weights(labels, 2)
    # Each folder carries half of class 0's weight, whatever its number of slices...
    assert weights[:30].sum() == pytest.approx(weights[30:40].sum())
    assert set(np.round(weights[:30], 6)) == {round(by_class[0] * 40 / (2 * 30), 6)}
    # ...and each class the weight the class weights give it.
    assert weights[:40].sum() == pytest.approx(by_class[0] * 40)
    assert weights[40:] == pytest.approx(np.full(20, by_class[1]))


def test_folder_indices_name_the_data_folder_of_every_slice(tmp_path):
    roots = [tmp_path / "sample", tmp_path / "extra"]
    paths = [roots[1] / "Stone" / "Stone- (701).jpg", roots[0] / "Cyst" / "Cyst- (3).jpg"]

    assert data.folder_indices(paths, roots).tolist() == [1, 0]
    with pytest.raises(data.DatasetError, match="none of the data folders"):
        data.folder_indices([tmp_path / "elsewhere" / "x.jpg"], roots)


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


def _items(tmp_path, numbers_by_label: dict[int, list[int]]) -> list[data.LabeledImage]:
    return [
        data.LabeledImage(tmp_path / f"{label}-{number}.jpg", label, number)
        for label, numbers in numbers_by_label.items()
        for number in numbers
    ]


def test_several_folders_are_pooled_per_class_in_one_numbering(tmp_path):
    first = write_dataset(tmp_path / "sample")
    second = tmp_path / "extra"
    for name in data.CLASS_NAMES:
        (second / name).mkdir(parents=True)
        synthetic_slice(0, 700).save(second / name / f"{name}- (700).jpg")

    roots, items = data.list_images_in([first, second])

    assert roots == [first.resolve(), second.resolve()]
    assert data.class_counts(items) == {name: 7 for name in data.CLASS_NAMES}
    stones = [i.number for i in items if i.label == data.CLASS_NAMES.index("Stone")]
    assert stones == [1, 2, 3, 4, 5, 6, 700]


def test_the_same_folder_twice_or_no_folder_is_a_clear_error(dataset_dir):
    with pytest.raises(data.DatasetError, match="given twice"):
        data.list_images_in([dataset_dir, dataset_dir])
    with pytest.raises(data.DatasetError, match="No data folder"):
        data.list_images_in([])


def test_identical_images_under_two_numbers_are_kept_once(dataset_dir):
    cyst = dataset_dir / "Cyst"
    # Same pixels, other bytes (PNG, not JPEG): compared by content, not by file.
    from PIL import Image

    with Image.open(cyst / "Cyst- (2).jpg") as image:
        image.save(cyst / "Cyst- (9).png")
    _, items = data.list_images_in([dataset_dir])

    result = data.drop_duplicates(items)

    assert [(copy.number, kept.number) for copy, kept in result.duplicates] == [(9, 2)]
    assert len(result.kept) == 24
    assert result.conflicts == []


def test_an_image_filed_under_two_classes_is_dropped_everywhere(dataset_dir):
    (dataset_dir / "Tumor" / "Tumor- (50).jpg").write_bytes(
        (dataset_dir / "Cyst" / "Cyst- (3).jpg").read_bytes()
    )
    _, items = data.list_images_in([dataset_dir])

    result = data.drop_duplicates(items)

    assert sorted(i.path.name for i in result.conflicts) == ["Cyst- (3).jpg", "Tumor- (50).jpg"]
    assert len(result.kept) == 23


def test_blocks_break_at_gaps_and_long_runs_are_cut(tmp_path):
    numbers = [1, 2, 4, 5, 9, *range(30, 150), 400]
    items = _items(tmp_path, {0: numbers, 1: [1, 2, 3]})

    blocks = splits.patient_blocks(items, gap=10, max_block=60)

    spans = [(b[0].label, b[0].number, b[-1].number) for b in blocks]
    assert spans == [(0, 1, 9), (0, 30, 89), (0, 90, 149), (0, 400, 400), (1, 1, 3)]


def test_folds_hold_out_every_image_once_and_span_the_whole_range(tmp_path):
    # Three folders' worth of numbers, five blocks of 60 in each.
    numbers = list(range(1, 301)) + list(range(600, 900)) + list(range(1000, 1300))
    items = _items(tmp_path, {label: numbers for label in range(4)})

    folds = [splits.split_by_blocks(items, 5, k) for k in range(5)]

    held = [i for split in folds for i in split.validation]
    assert sorted(held, key=str) == sorted(items, key=str)  # each image in one fold
    for split in folds:
        assert {i.label for i in split.validation} == {0, 1, 2, 3}
        assert {i.number // 500 for i in split.validation} == {0, 1, 2}  # every range
        assert len(split.validation) == len(items) // 5


def test_neighbours_of_a_held_out_block_are_left_out_of_training(tmp_path):
    items = _items(tmp_path, {0: list(range(1, 121)), 1: list(range(1, 121))})

    split = splits.split_by_blocks(items, 2, 0, gap=10, max_block=60, margin=5)

    held = {(i.label, i.number) for i in split.validation}
    for item in split.train:
        nearest = min(abs(item.number - n) for (label, n) in held if label == item.label)
        assert nearest > 5
    assert split.left_out
    assert all(
        min(abs(i.number - n) for (label, n) in held if label == i.label) <= 5
        for i in split.left_out
    )
    assert not {(i.label, i.number) for i in split.train} & held


def test_duplicates_never_land_on_both_sides_of_a_fold(dataset_dir):
    from PIL import Image

    with Image.open(dataset_dir / "Normal" / "Normal- (1).jpg") as image:
        image.save(dataset_dir / "Normal" / "Normal- (300).png")  # far from its twin
    _, items = data.list_images_in([dataset_dir])
    kept = data.drop_duplicates(items).kept

    for fold in range(2):
        split = splits.split_by_blocks(kept, 2, fold)
        names = [i.path.name for i in split.train + split.validation]
        assert "Normal- (300).png" not in names


def test_a_fold_that_does_not_exist_is_a_clear_error(tmp_path):
    items = _items(tmp_path, {0: list(range(1, 50))})

    with pytest.raises(data.DatasetError, match="no fold 5: 5 folds are numbered 0-4"):
        splits.split_by_blocks(items, 5, 5)
    with pytest.raises(data.DatasetError, match="at least 2 folds"):
        splits.split_by_blocks(items, 1, 0)
