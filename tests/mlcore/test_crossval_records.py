"""Fold records of one cross-validation stay one recipe's: an option a fold did not
record (it came later) counts as its default, and a fold of another recipe is refused
before hours of training, not after."""

from __future__ import annotations

import pytest
from support.crossval_records import CLASSES, SURE, record, write_run

from mlcore import data
from mlcore.crossval import crossvalidate, summarize
from mlcore.training import TrainConfig


def full_record(fold: int, **recipe) -> dict:
    """A fold record with the figures summarize reads (every slice read right)."""
    made = record(fold, SURE)
    made["recipe"].update(recipe)
    made["report"] = {
        "accuracy": 1.0,
        "per_class": {name: {"recall": 1.0} for name in CLASSES},
    }
    made["balanced_accuracy"] = 1.0
    made["refused_share"] = 0.0
    return made


def test_a_fold_recorded_before_an_option_existed_counts_it_at_its_default(tmp_path):
    run = write_run(tmp_path / "run", full_record(0), full_record(1, folder_balance=False))

    summary = summarize(run)

    assert summary["folds_done"] == [0, 1]
    assert summary["mean"]["balanced_accuracy"] == 1.0


def test_a_fold_with_the_option_on_is_another_recipe(tmp_path):
    run = write_run(tmp_path / "run", full_record(0), full_record(1, folder_balance=True))

    with pytest.raises(data.DatasetError, match="different recipes"):
        summarize(run)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"epochs": 60}, "differs in: epochs"),
        ({"epochs": 30, "folder_balance": True}, "differs in: folder_balance"),
    ],
)
def test_crossvalidate_refuses_an_output_holding_another_recipes_folds(tmp_path, options, message):
    run = write_run(tmp_path / "run", full_record(0, average_last=1))
    # No data at all: the refusal comes before the data is read, let alone trained on.
    config = TrainConfig((tmp_path / "a", tmp_path / "b"), tmp_path, average_last=1, **options)

    with pytest.raises(data.DatasetError, match=message):
        crossvalidate(config, folds=2, out_dir=run)


def test_crossvalidate_refuses_an_output_of_another_number_of_folds(tmp_path):
    run = write_run(tmp_path / "run", full_record(0, average_last=1))
    config = TrainConfig((tmp_path / "no-data",), tmp_path, epochs=30, average_last=1)

    with pytest.raises(data.DatasetError, match="2 folds"):
        crossvalidate(config, folds=5, out_dir=run)
