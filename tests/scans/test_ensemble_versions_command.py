"""ensemble_versions, then calibrate_model --crossvalidation on the members' recipes
combined by crossvalidate_ensemble: the way a version of two views is shipped."""

from __future__ import annotations

import shutil

import pytest
from django.core.management import CommandError, call_command
from support.crossval_records import HALF, OTHER_HALF, SURE, record, write_run

from mlcore import versions
from mlcore.ensemble_cv import combine_crossvalidations
from mlcore.training.config import recipe


@pytest.fixture(scope="module")
def recipes(view_members, tmp_path_factory):
    """The two members' networks (tests/conftest.py: view_members) and their recipes'
    cross-validation combined as crossvalidate_ensemble does. The folds' readings are
    given (tests/support/crossval_records), each recipe's its own; their recipes and
    data are the members' own, which is what calibrate_model checks. Real
    cross-validation runs in tests/mlcore/test_crossval.py."""
    data_dir, configs, members = view_members
    base = tmp_path_factory.mktemp("ensemble-command")
    readings = [(SURE, HALF), (SURE, OTHER_HALF)]  # per recipe, fold by fold
    runs = []
    for index, (config, member, folds) in enumerate(zip(configs, members, readings, strict=True)):
        fingerprint = versions.read_metadata(member)["dataset"]["fingerprint"]
        records = [
            record(fold, rows, recipe=recipe(config), fingerprint=fingerprint)
            for fold, rows in enumerate(folds)
        ]
        runs.append(write_run(base / f"cv-{index}", *records))
    combine_crossvalidations(runs, base / "cv-ensemble")
    return data_dir, members, base / "cv-ensemble"


@pytest.fixture
def models(recipes, settings, tmp_path):
    _, members, _ = recipes
    root = tmp_path / "models"
    for member in members:
        shutil.copytree(member, root / member.name)
    settings.MODELS_DIR = root
    return root


def make_ensemble(models, data_dir, *members: str) -> str:
    """ensemble_versions of ``members`` in that order; the new version's id."""
    arguments = [a for member in members for a in ("--member", member)]
    call_command("ensemble_versions", *arguments, "--data-dir", data_dir)
    return (set(versions.list_versions(models)) - set(members)).pop()


def test_two_views_become_one_version_that_takes_its_recipes_calibration(
    recipes, models, db, capsys
):
    data_dir, members, crossvalidation = recipes
    whole, crop = (m.name for m in members)

    made = make_ensemble(models, data_dir, whole, crop)

    out = capsys.readouterr().out
    assert f"Version {made}: {whole} + {crop}, each reading its own view." in out
    assert f"calibrate_model --model {made} --crossvalidation DIR --activate" in out
    call_command(
        "calibrate_model",
        "--model",
        made,
        "--crossvalidation",
        crossvalidation,
        "--data-dir",
        data_dir,
        "--activate",
    )
    active = versions.active(models)
    assert versions.read_metadata(models / made)["metrics"] == {}
    assert active.metadata["derived_from"] == made
    assert active.metadata["preprocessing"]["views"][1]["body_crop"] is True
    assert active.metadata["inference"]["uncertain_below"] > 0
    assert active.metadata["metrics"]["crossvalidation"]["folds"] == 2
    assert active.metadata["calibration"]["n_images"] == 2 * 4  # two folds' readings
    assert active.metadata["ood"]


def test_networks_given_in_another_order_than_cross_validated_are_refused(
    recipes, models, db, capsys
):
    data_dir, members, crossvalidation = recipes
    whole, crop = (m.name for m in members)
    made = make_ensemble(models, data_dir, crop, whole)

    with pytest.raises(CommandError, match="differs in: network 1: body_crop"):
        call_command("calibrate_model", "--model", made, "--crossvalidation", crossvalidation)
    with pytest.raises(CommandError, match="calibrate it with --crossvalidation"):
        call_command("calibrate_model", "--model", made, "--data-dir", data_dir)


@pytest.mark.parametrize(
    ("members", "message"),
    [(["{whole}"], "at least two"), (["{whole}", "no-such-version"], "No model version")],
)
def test_bad_members_give_one_clear_error(recipes, models, db, members, message):
    data_dir, (whole, _), _ = recipes
    arguments = [a for m in members for a in ("--member", m.format(whole=whole.name))]

    with pytest.raises(CommandError, match=message):
        call_command("ensemble_versions", *arguments, "--data-dir", data_dir)
    assert len(versions.list_versions(models)) == 2
