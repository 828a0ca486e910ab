"""The training configuration: the options it declares and the config a version recorded."""

from __future__ import annotations

import argparse
import json
from dataclasses import fields
from pathlib import Path

import pytest

from mlcore.data import DatasetError
from mlcore.training import TrainConfig, recipe
from mlcore.training.config import (
    DISTILLATION,
    PROCEDURE,
    RECIPE,
    SPLIT,
    add_options,
    config_from_metadata,
    config_options,
)


def _parse(*arguments: str, groups=(RECIPE,)) -> dict:
    parser = argparse.ArgumentParser(exit_on_error=False)
    add_options(parser, *groups)
    return vars(parser.parse_args(list(arguments)))


def test_unset_options_give_the_config_defaults():
    groups = (SPLIT, RECIPE, PROCEDURE, DISTILLATION)
    parsed = _parse(groups=groups)

    built = TrainConfig((), Path(), **config_options(parsed, *groups))

    assert built == TrainConfig((), Path())


def test_options_are_parsed_into_field_values():
    parsed = _parse(
        "--image-size", "192", "--body-crop", "on", "--fine-tune-layers", "all",
        "--rotation", "15", "--average-last", "8",
    )  # fmt: skip

    built = TrainConfig((), Path(), **config_options(parsed, RECIPE))

    assert (built.image_size, built.body_crop, built.fine_tune_layers) == (192, True, None)
    assert (built.rotation, built.average_last) == (15.0, 8)
    assert _parse("--fine-tune-layers", "5")["fine_tune_layers"] == 5


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (("--body-crop", "yes"), "'on' or 'off'"),
        (("--fine-tune-layers", "some"), "'all' or a number"),
        (("--epochs", "0"), "at least 1"),
    ],
)
def test_bad_values_are_refused_with_a_reason(arguments, message):
    with pytest.raises(argparse.ArgumentError, match=message):
        _parse(*arguments)


def test_each_command_gets_only_its_groups():
    recipe_only = _parse()

    assert "body_crop" in recipe_only and "epochs" in recipe_only
    assert "val_fold" not in recipe_only and "teacher" not in recipe_only
    parser = argparse.ArgumentParser()
    add_options(parser, RECIPE)
    assert parser.parse_known_args(["--teacher", "x"])[1] == ["--teacher", "x"]


def test_every_recipe_option_is_recorded_in_the_recipe():
    recorded = recipe(TrainConfig((), Path()))

    assert set(_parse()) <= set(recorded)
    # How a dead start is handled is an option of both commands, not of the recipe.
    procedure = _parse("--dead-start-retries", "0", groups=(PROCEDURE,))
    assert procedure == {"dead_start_retries": 0}
    assert not set(procedure) & set(recorded)
    with pytest.raises(ValueError, match="--dead-start-retries"):
        TrainConfig((), Path(), dead_start_retries=-1)


def test_negative_average_last_is_refused():
    with pytest.raises(ValueError, match="--average-last takes 0"):
        TrainConfig((), Path(), average_last=-1)


def test_a_versions_metadata_gives_back_its_configuration(tiny_version, dataset_dir, tmp_path):
    metadata = json.loads((tiny_version / "metadata.json").read_text())

    config = config_from_metadata(metadata, data_dirs=[dataset_dir], models_dir=tmp_path)

    training = metadata["training"]
    assert config.data_dirs == (dataset_dir,) and config.models_dir == tmp_path
    assert config.class_names == tuple(metadata["class_names"])
    for field in fields(TrainConfig):
        if field.name in training and field.name not in ("data_dirs", "models_dir"):
            value = getattr(config, field.name)
            assert (list(value) if isinstance(value, tuple) else value) == training[field.name]


def test_options_an_old_version_did_not_record_take_their_defaults(tmp_path):
    metadata = {
        "class_names": ["Cyst", "Normal", "Stone", "Tumor"],
        "training": {"image_size": 96, "removed_long_ago": 1, "head_units": [16]},
    }

    config = config_from_metadata(metadata, data_dirs=[tmp_path], models_dir=tmp_path)

    assert (config.image_size, config.head_units, config.body_crop) == (96, (16,), False)


def test_an_ensembles_metadata_gives_no_single_configuration(tmp_path):
    network = {"image_size": 128, "body_mask": True}
    metadata = {
        "version": "20260101-000000",
        "class_names": ["Cyst", "Normal", "Stone", "Tumor"],
        "training": {"ensemble_of": [network, {**network, "body_crop": True}]},
    }

    with pytest.raises(DatasetError, match="ensemble of 2 networks"):
        config_from_metadata(metadata, data_dirs=[tmp_path], models_dir=tmp_path)
