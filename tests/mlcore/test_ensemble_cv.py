from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from support.crossval_records import HALF, OTHER_HALF, SURE, record, write_run

from mlcore import data
from mlcore.ensemble_cv import combine_crossvalidations

CROSSVAL = Path(__file__).parents[2] / "docs/crossval"


def test_the_ensemble_reads_each_held_out_slice_as_the_mean_of_its_members(tmp_path):
    a = write_run(tmp_path / "a", record(0, HALF, attention=0.4), record(1, SURE))
    b = write_run(
        tmp_path / "b",
        record(0, OTHER_HALF, refused=[0, 0, 1, 0], attention=0.8, epochs=60),
        record(1, SURE, epochs=60),
    )

    summary = combine_crossvalidations([a, b], tmp_path / "ab")

    fold = json.loads((tmp_path / "ab/fold-0.json").read_text())
    got = np.array([p["probabilities"] for p in fold["predictions"]])
    np.testing.assert_allclose(got, (np.array(HALF) + np.array(OTHER_HALF)) / 2)
    # Alone each member gets two of four right; together Cyst, Stone and Tumor.
    assert fold["report"]["accuracy"] == 0.75
    assert fold["balanced_accuracy"] == 0.75
    assert [p["refused"] for p in fold["predictions"]] == [False, False, True, False]
    assert fold["attention_in_body"]["mean"] == pytest.approx(0.6)
    assert fold["attention_in_body"]["of_members"] is True
    assert [r["epochs"] for r in fold["recipe"]["ensemble_of"]] == [30, 60]
    assert fold["combined_from"] == ["a", "b"]
    assert fold["train_seconds"] == 20.0
    assert summary["folds_done"] == [0, 1]
    assert summary["mean"]["balanced_accuracy"] == pytest.approx((0.75 + 1.0) / 2)
    assert json.loads((tmp_path / "ab/summary.json").read_text()) == summary


def test_only_folds_every_member_holds_are_combined(tmp_path):
    a = write_run(tmp_path / "a", record(0, SURE), record(1, SURE))
    b = write_run(tmp_path / "b", record(1, SURE))

    summary = combine_crossvalidations([a, b], tmp_path / "ab")

    assert summary["folds_done"] == [1]
    assert not (tmp_path / "ab/fold-0.json").exists()


def test_members_that_held_out_other_slices_are_refused(tmp_path):
    moved = record(0, SURE)
    moved["predictions"][0]["path"] = "Cyst/Cyst- (99).jpg"
    a = write_run(tmp_path / "a", record(0, SURE))
    b = write_run(tmp_path / "b", moved)

    with pytest.raises(data.DatasetError, match="held out other slices"):
        combine_crossvalidations([a, b], tmp_path / "ab")


def test_members_that_cut_other_data_are_refused(tmp_path):
    other = record(0, SURE)
    other["data"]["fingerprint"] = "g"
    a = write_run(tmp_path / "a", record(0, SURE))
    b = write_run(tmp_path / "b", other)

    with pytest.raises(data.DatasetError, match="other data"):
        combine_crossvalidations([a, b], tmp_path / "ab")


def test_one_run_no_common_fold_and_an_empty_folder_are_refused(tmp_path):
    a = write_run(tmp_path / "a", record(0, SURE))
    b = write_run(tmp_path / "b", record(1, SURE))
    (tmp_path / "empty").mkdir()

    with pytest.raises(data.DatasetError, match="at least two"):
        combine_crossvalidations([a], tmp_path / "out")
    with pytest.raises(data.DatasetError, match="no fold in common"):
        combine_crossvalidations([a, b], tmp_path / "out")
    with pytest.raises(data.DatasetError, match="No fold results"):
        combine_crossvalidations([a, tmp_path / "empty"], tmp_path / "out")


def test_the_recorded_mask_and_crop_runs_combine_into_their_mean(tmp_path):
    # The real out-of-fold readings of the shipped recipe and of its body-crop variant.
    runs = [CROSSVAL / "masked-128-e30", CROSSVAL / "masked-crop-128-e30"]

    summary = combine_crossvalidations(runs, tmp_path / "ensemble")

    for fold in range(5):
        members = [json.loads((run / f"fold-{fold}.json").read_text()) for run in runs]
        mine = json.loads((tmp_path / f"ensemble/fold-{fold}.json").read_text())
        expected = np.mean([[p["probabilities"] for p in m["predictions"]] for m in members], 0)
        got = np.array([p["probabilities"] for p in mine["predictions"]])
        np.testing.assert_allclose(got, expected, atol=1e-6)
        assert mine["data"]["validation_counts"] == members[0]["data"]["validation_counts"]
    assert summary["folds_done"] == [0, 1, 2, 3, 4]
    assert summary["calibration"]["n_images"] == sum(
        len(json.loads((runs[0] / f"fold-{k}.json").read_text())["predictions"]) for k in range(5)
    )
