from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from django.core.management import call_command
from factories import BLOCK_NUMBERS, write_blocks
from PIL import Image

from mlcore import data
from mlcore.crossval import crossvalidate, summarize, summary_for_version
from mlcore.training import TrainConfig, train


@pytest.fixture(scope="module")
def crossvalidated(tmp_path_factory):
    base = tmp_path_factory.mktemp("cv")
    config = TrainConfig(
        (write_blocks(base / "data"),),
        base / "models",
        epochs=1,
        batch_size=8,
        image_size=32,
        average_last=1,
        body_mask=True,
    )
    lines: list[str] = []
    summary = crossvalidate(config, folds=2, out_dir=base / "cv", log=lines.append)
    return config, base / "cv", summary, lines


def test_each_fold_is_written_with_its_out_of_fold_predictions(crossvalidated):
    _, out_dir, summary, lines = crossvalidated

    assert sorted(p.name for p in out_dir.iterdir()) == [
        "fold-0-heatmaps.png",
        "fold-0.json",
        "fold-1-heatmaps.png",
        "fold-1.json",
        "summary.json",
    ]
    with Image.open(out_dir / "fold-0-heatmaps.png") as grid:
        assert grid.height > 4 * 32  # one row of slices per class
    held = []
    for fold in (0, 1):
        record = json.loads((out_dir / f"fold-{fold}.json").read_text())
        assert record["fold"] == fold
        assert len(record["predictions"]) == sum(record["data"]["validation_counts"].values())
        assert 0 <= record["attention_in_body"]["mean"] <= 1
        held += [p["path"] for p in record["predictions"]]
    assert len(held) == len(set(held)) == 4 * len(BLOCK_NUMBERS)  # every slice held out once
    assert any(line.startswith("Fold 1: accuracy") for line in lines)
    assert json.loads((out_dir / "summary.json").read_text()) == summary


def test_summary_gives_mean_and_spread_and_out_of_fold_calibration(crossvalidated):
    _, _, summary, _ = crossvalidated

    assert summary["folds_done"] == [0, 1]
    for key in (
        "balanced_accuracy",
        "recall_Stone",
        "attention_in_body",
        "attention_even_body",
        "confidently_wrong",
    ):
        assert summary["mean"][key] is not None
        assert summary["spread"][key] is not None
    # Each fold's confidently-wrong rate uses a threshold fitted on the other fold.
    assert all(row["confidently_wrong"] is not None for row in summary["per_fold"])
    calibration = summary["calibration"]
    assert calibration["n_images"] == 4 * len(BLOCK_NUMBERS)
    assert 0.25 <= calibration["uncertain_below"] <= 0.99
    assert calibration["temperature"] > 0


def test_a_version_of_the_recipe_on_every_slice_can_take_its_calibration(crossvalidated):
    config, out_dir, summary, _ = crossvalidated
    full = train(replace(config, val_fraction=0), log=lambda line: None).metadata
    other = dict(full, training={**full["training"], "epochs": 3})
    other_data = dict(full, dataset={**full["dataset"], "fingerprint": "0" * 64})

    assert summary_for_version(out_dir, full) == summary
    assert full["preprocessing"]["body_mask"] is True
    with pytest.raises(data.DatasetError, match=r"another recipe .* \(differs in: epochs\)"):
        summary_for_version(out_dir, other)
    with pytest.raises(data.DatasetError, match="other data"):
        summary_for_version(out_dir, other_data)


def test_an_option_one_side_did_not_record_counts_as_its_default(crossvalidated, tmp_path):
    # A summary written before --body-crop existed cross-validated body_crop off.
    _, _, summary, _ = crossvalidated
    recipe = {key: value for key, value in summary["recipe"].items() if key != "body_crop"}
    (tmp_path / "summary.json").write_text(json.dumps(dict(summary, recipe=recipe)))
    training = dict(summary["recipe"], body_crop=False)
    cropping = dict(summary["recipe"], body_crop=True)

    assert summary_for_version(tmp_path, {"training": training, "dataset": summary["data"]})
    with pytest.raises(data.DatasetError, match=r"\(differs in: body_crop\)"):
        summary_for_version(tmp_path, {"training": cropping, "dataset": summary["data"]})


def test_an_unfinished_cross_validation_cannot_calibrate(crossvalidated, tmp_path):
    summary = crossvalidated[2]
    (tmp_path / "summary.json").write_text(json.dumps(dict(summary, folds_done=[0])))
    metadata = {"training": summary["recipe"], "dataset": summary["data"]}

    with pytest.raises(data.DatasetError, match=r"holds folds \[0\] of 2: run them all"):
        summary_for_version(tmp_path, metadata)


def test_a_fold_whose_network_never_learned_is_named_and_still_counted(crossvalidated, tmp_path):
    _, out_dir, summary, _ = crossvalidated
    for fold in (0, 1):
        record = json.loads((out_dir / f"fold-{fold}.json").read_text())
        if fold == 1:  # every slice the same reading, as a dead start gives
            for prediction in record["predictions"]:
                prediction["probabilities"] = [0.249, 0.251, 0.25, 0.25]
        (tmp_path / f"fold-{fold}.json").write_text(json.dumps(record))

    dead = summarize(tmp_path)

    assert summary["never_learned_folds"] == []
    assert dead["never_learned_folds"] == [1]
    assert [row["fold"] for row in dead["per_fold"]] == [0, 1]  # in the mean all the same


def test_a_fold_that_never_learns_is_called_out_as_it_ends(crossvalidated, tmp_path):
    config = crossvalidated[0]
    lines: list[str] = []

    # A learning rate of 1000 blows the weights up: every slice gets the same reading
    # (with seed 1; no retry with another seed, whose weights may blow up otherwise).
    summary = crossvalidate(
        replace(config, learning_rate=1000.0, dead_start_retries=0),
        folds=2,
        out_dir=tmp_path,
        only=[0],
        log=lines.append,
    )

    assert summary["never_learned_folds"] == [0]
    assert any(line.startswith("Fold 0 NEVER LEARNED") for line in lines)
    # No retry left: the one seed is trained to the end and recorded.
    record = json.loads((tmp_path / "fold-0.json").read_text())
    assert (record["seeds"], record["dead_starts"]) == ([1], [])
    assert "dead_start_retries" not in record["recipe"]


def test_crossvalidate_model_warns_of_a_fold_that_never_learned(crossvalidated, tmp_path, capsys):
    config, out_dir, _, _ = crossvalidated
    record = json.loads((out_dir / "fold-1.json").read_text())
    for prediction in record["predictions"]:
        prediction["probabilities"] = [0.25, 0.25, 0.25, 0.25]
    (tmp_path / "fold-1.json").write_text(json.dumps(record))

    call_command(
        "crossvalidate_model",
        "--data-dir", str(config.data_dirs[0]),
        "--folds", "2", "--fold", "0",
        "--epochs", "1", "--batch-size", "8", "--image-size", "32",
        "--average-last", "1", "--body-mask", "on",
        "--output", str(tmp_path),
    )  # fmt: skip

    out = capsys.readouterr().out
    assert "Folds 0, 1 of 2: balanced accuracy" in out
    assert "Never learned (every slice read the same way): fold 1. Counted in the mean" in out
    assert "NEVER LEARNED" not in out  # fold 0, the one trained here, learned


def test_the_recorded_dead_start_of_balanced_sampling_is_recognised():
    # docs/crossval/masked-balanced-128-e30: fold 1's loss stayed at ln 4 for 29 epochs.
    summary = summarize(Path(__file__).parents[2] / "docs/crossval/masked-balanced-128-e30")

    assert summary["never_learned_folds"] == [1]
    assert summary["per_fold"][1]["balanced_accuracy"] == 0.25


def test_folds_of_other_recipes_are_not_summarised_together(crossvalidated, tmp_path):
    _, out_dir, _, _ = crossvalidated
    record = json.loads((out_dir / "fold-0.json").read_text())
    (tmp_path / "fold-0.json").write_text(json.dumps(record))
    record["recipe"]["epochs"] = 99
    (tmp_path / "fold-1.json").write_text(json.dumps(record))

    with pytest.raises(data.DatasetError, match="different recipes"):
        summarize(tmp_path)


def test_cross_validation_refuses_to_choose_epochs_on_the_held_out_fold(tmp_path):
    config = TrainConfig((tmp_path,), tmp_path, average_last=0)

    with pytest.raises(ValueError, match="--average-last"):
        crossvalidate(config, folds=2, out_dir=tmp_path / "cv")
