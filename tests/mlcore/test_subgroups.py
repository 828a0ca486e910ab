"""Cross-validated figures by subgroup: the plane of a slice (axial, or filling the
frame's height) and the sums per folder and plane."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image
from support.planes import axial_slice, coronal_slice

from mlcore import data
from mlcore.preprocessing import load_views
from mlcore.subgroups import AXIAL, FRAME_FILLING, slice_plane, subgroup_report

CLASSES = ["Cyst", "Normal", "Stone", "Tumor"]


def test_slice_plane_on_drawn_slices(tmp_path):
    assert slice_plane(axial_slice(tmp_path / "a.png")) == AXIAL
    assert slice_plane(coronal_slice(tmp_path / "c.png")) == FRAME_FILLING
    Image.new("L", (64, 64)).save(tmp_path / "blank.png")
    assert slice_plane(tmp_path / "blank.png") == AXIAL


def test_slice_plane_on_real_slices(sample_dir):
    # The sample's Normal files 126-227 are a coronal series; 1-125 are axial.
    assert slice_plane(sample_dir / "Normal" / "Normal- (150).jpg") == FRAME_FILLING
    assert slice_plane(sample_dir / "Normal" / "Normal- (227).jpg") == FRAME_FILLING
    assert slice_plane(sample_dir / "Normal" / "Normal- (50).jpg") == AXIAL
    assert slice_plane(sample_dir / "Stone" / "Stone- (1).jpg") == AXIAL
    # Judged at 128 px whatever size the network reads: at 224 px this coronal slice's
    # body measures 0.84-0.87 of the height, inside the axial range.
    assert load_views(sample_dir / "Stone" / "Stone- (133).jpg", 224).fills_frame
    assert slice_plane(sample_dir / "Stone" / "Stone- (133).jpg") == FRAME_FILLING


def _record(fold: int, rows: list[tuple[str, int, int]]) -> dict:
    """Fold ``fold``'s record: (path, true class, read class) per held-out slice."""
    return {
        "fold": fold,
        "recipe": {"class_names": CLASSES},
        "predictions": [
            {
                "path": path,
                "label": label,
                "probabilities": [0.7 if c == read else 0.1 for c in range(4)],
                "refused": False,
            }
            for path, label, read in rows
        ],
    }


def _group(report: dict, folder: str | None, plane: str | None) -> dict:
    (found,) = [g for g in report["groups"] if (g["folder"], g["plane"]) == (folder, plane)]
    return found


def test_subgroups_per_fold_mean_spread_and_pooled(tmp_path):
    planes = {"s/Cyst/c1.jpg": AXIAL, "s/Cyst/c2.jpg": FRAME_FILLING}
    records = [
        _record(
            0,
            [
                ("s/Cyst/c1.jpg", 0, 0),  # sample, axial: right
                ("s/Cyst/c2.jpg", 0, 2),  # sample, coronal: wrong
                ("e/Stone/s1.jpg", 2, 2),  # extra, axial: right
                ("e/Tumor/t1.jpg", 3, 0),  # extra, axial: wrong
            ],
        ),
        _record(
            1,
            [
                ("e/Stone/s2.jpg", 2, 2),
                ("e/Stone/s3.jpg", 2, 1),
                ("e/Tumor/t2.jpg", 3, 3),
            ],
        ),
    ]
    read = []

    def plane(path: Path) -> str:
        read.append(path)
        return planes.get(f"{path.parent.parent.name}/{path.parent.name}/{path.name}", AXIAL)

    report = subgroup_report(records, [tmp_path / "s", tmp_path / "e"], plane=plane)

    assert report["folds"] == [0, 1]
    extra = _group(report, "e", None)
    # Fold 0: Stone 1/1, Tumor 0/1 -> 0.5; fold 1: Stone 1/2, Tumor 1/1 -> 0.75.
    assert [f["balanced_accuracy"] for f in extra["per_fold"]] == [0.5, 0.75]
    assert extra["mean"] == 0.625 and extra["spread"] == 0.125
    # Pooled: Stone 2/3, Tumor 1/2.
    assert extra["pooled"]["recall"] == {
        "Stone": {"recall": 0.6667, "n": 3},
        "Tumor": {"recall": 0.5, "n": 2},
    }
    assert extra["pooled"]["balanced_accuracy"] == pytest.approx((2 / 3 + 0.5) / 2, abs=1e-4)
    # The sample's slices are all in fold 0: one fold, no spread.
    sample = _group(report, "s", None)
    assert [f["fold"] for f in sample["per_fold"]] == [0] and sample["spread"] is None
    assert sample["mean"] == 0.5
    assert _group(report, "s", FRAME_FILLING)["mean"] == 0.0
    assert _group(report, "s", AXIAL)["mean"] == 1.0
    assert _group(report, None, FRAME_FILLING)["pooled"]["n"] == 1
    assert _group(report, None, AXIAL)["pooled"]["n"] == 6
    # No group without slices (the extra folder has no coronal one).
    assert not [g for g in report["groups"] if (g["folder"], g["plane"]) == ("e", FRAME_FILLING)]
    # Each slice's plane is read from the data folder of its name, once.
    assert sorted(read) == sorted(
        [tmp_path / "s" / "Cyst" / "c1.jpg", tmp_path / "s" / "Cyst" / "c2.jpg"]
        + [tmp_path / "e" / p for p in ("Stone/s1.jpg", "Tumor/t1.jpg")]
        + [tmp_path / "e" / p for p in ("Stone/s2.jpg", "Stone/s3.jpg", "Tumor/t2.jpg")]
    )


def test_planes_read_once_for_several_reports(tmp_path):
    records = [_record(0, [("s/Cyst/c1.jpg", 0, 0)])]
    calls = []
    planes: dict[str, str] = {}

    def plane(path: Path) -> str:
        calls.append(path)
        return AXIAL

    subgroup_report(records, [tmp_path / "s"], plane=plane, planes=planes)
    subgroup_report(records, [tmp_path / "s"], plane=plane, planes=planes)
    assert calls == [tmp_path / "s" / "Cyst" / "c1.jpg"]
    assert planes == {"s/Cyst/c1.jpg": AXIAL}


def test_subgroups_refuse_slices_of_an_unknown_folder_and_no_records(tmp_path):
    records = [_record(0, [("other/Cyst/c1.jpg", 0, 0)])]
    with pytest.raises(data.DatasetError, match="no --data-dir named 'other'"):
        subgroup_report(records, [tmp_path / "s"], plane=lambda path: AXIAL)
    with pytest.raises(data.DatasetError, match="No fold records"):
        subgroup_report([], [tmp_path / "s"])
