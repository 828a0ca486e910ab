"""The confident errors of a cross-validation: which wrong readings are shown, one
per run of misread neighbours, and the sheet that draws them."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image
from support.crossval_records import prediction
from support.planes import axial_slice, coronal_slice

from mlcore import data
from mlcore.errors import COLUMNS, TILE, confident_errors, error_sheet

CLASSES = ["Cyst", "Normal", "Stone", "Tumor"]


def _record(fold: int, predictions: list[dict]) -> dict:
    return {"fold": fold, "recipe": {"class_names": CLASSES}, "predictions": predictions}


def test_one_error_per_run_of_misread_neighbours_surest_first():
    records = [
        _record(
            0,
            [
                # One patient's Tumor slices 305-342 read Normal: one run.
                prediction("s/Tumor/Tumor- (305).jpg", 3, 1, 0.80),
                prediction("s/Tumor/Tumor- (309).jpg", 3, 1, 0.95),
                prediction("s/Tumor/Tumor- (318).jpg", 3, 1, 0.90),
                # Right, refused, or another folder: none joins that run.
                prediction("s/Tumor/Tumor- (310).jpg", 3, 3, 0.99),
                prediction("s/Tumor/Tumor- (311).jpg", 3, 1, 0.99, refused=True),
                prediction("e/Tumor/Tumor- (306).jpg", 3, 0, 0.70),
            ],
        ),
        _record(
            1,
            [
                # More than BLOCK_GAP (10) numbers on: another run, another fold.
                prediction("s/Tumor/Tumor- (329).jpg", 3, 2, 0.85),
                # The same numbers in another class: another series.
                prediction("s/Cyst/Cyst- (309).jpg", 0, 2, 0.60),
            ],
        ),
    ]

    errors = confident_errors(records)

    assert [(e.path, e.reading, e.fold) for e in errors] == [
        ("s/Tumor/Tumor- (309).jpg", "Normal", 0),
        ("s/Tumor/Tumor- (329).jpg", "Stone", 1),
        ("e/Tumor/Tumor- (306).jpg", "Cyst", 0),
        ("s/Cyst/Cyst- (309).jpg", "Stone", 1),
    ]
    first = errors[0]
    assert (first.label, first.first, first.last, first.run_size) == ("Tumor", 305, 318, 3)
    assert first.confidence == pytest.approx(0.95)
    assert first.as_dict()["run"] == {"first": 305, "last": 318, "misread": 3}
    assert (first.span, errors[1].span) == ("305-318", "329")
    assert [e.path for e in confident_errors(records, count=2)] == [
        "s/Tumor/Tumor- (309).jpg",
        "s/Tumor/Tumor- (329).jpg",
    ]
    # A wider gap joins 318 and 329 into one run.
    assert confident_errors(records, gap=11)[0].run_size == 4


def test_no_records_and_no_errors():
    with pytest.raises(data.DatasetError, match="No fold records"):
        confident_errors([])
    right = [_record(0, [prediction("s/Cyst/Cyst- (1).jpg", 0, 0, 0.9)])]
    assert confident_errors(right) == []
    with pytest.raises(data.DatasetError, match="No wrong readings"):
        error_sheet([], [])


def test_the_sheet_draws_each_slice_in_a_red_frame(tmp_path):
    root = tmp_path / "s"
    axial_slice(root / "Tumor" / "Tumor- (1).png")
    coronal_slice(root / "Cyst" / "Cyst- (7).png")
    records = [
        _record(
            0,
            [
                prediction("s/Tumor/Tumor- (1).png", 3, 1, 0.9),
                prediction("s/Cyst/Cyst- (7).png", 0, 2, 0.8),
            ],
        )
    ]
    errors = confident_errors(records)
    planes = {errors[0].path: "axial", errors[1].path: "fills the frame"}

    sheet = Image.open(io.BytesIO(error_sheet(errors, [root], planes=planes))).convert("RGB")

    assert sheet.width < COLUMNS * TILE  # two tiles, not a row of four
    assert sheet.width > 2 * TILE
    # Each tile's frame is red; inside it the slice: the coronal one's bright spine
    # runs through the middle of the second tile, the axial one's middle is body grey.
    pad = 6
    assert sheet.getpixel((pad - 2, pad + TILE // 2)) == (230, 40, 40)
    second = 2 * pad + TILE
    spine = sheet.getpixel((second + TILE // 2, pad + 10))
    body = sheet.getpixel((pad + TILE // 2, pad + TILE // 2))
    assert spine[0] > 200 and 80 < body[0] < 160
    # Captions are drawn (dark text on white) under the tiles.
    caption = sheet.crop((pad, pad + TILE + 4, pad + TILE, sheet.height)).convert("L")
    assert np.asarray(caption).min() < 100


def test_a_recorded_path_needs_its_data_folder(tmp_path):
    records = [_record(0, [prediction("other/Cyst/Cyst- (1).png", 0, 2, 0.9)])]
    with pytest.raises(data.DatasetError, match="no --data-dir named 'other'"):
        error_sheet(confident_errors(records), [tmp_path / "s"])
