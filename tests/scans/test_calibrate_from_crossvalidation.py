from __future__ import annotations

import io
import json
import shutil

import pytest
from django.core.management import CommandError, call_command

from mlcore import versions
from mlcore.training import NOT_RECIPE


@pytest.fixture
def models_with_tiny(settings, tiny_version, tmp_path):
    root = tmp_path / "models"
    root.mkdir()
    shutil.copytree(tiny_version, root / tiny_version.name)
    settings.MODELS_DIR = root
    return root


def write_summary(folder, metadata: dict, **changes) -> None:
    """A cross-validation summary of the version's recipe and data, as
    mlcore.crossval.summarize writes it (two folds, figures made up)."""
    training = metadata["training"]
    recipe = {k: v for k, v in training.items() if k not in (*NOT_RECIPE, "seconds", "members")}
    row = {"balanced_accuracy": 0.8, "accuracy": 0.82, "confidently_wrong": 0.01}
    summary = {
        "recipe": recipe,
        "folds": 2,
        "folds_done": [0, 1],
        "data": {"folders": ["x"], "fingerprint": metadata["dataset"]["fingerprint"]},
        "per_fold": [{"fold": 0, **row}, {"fold": 1, **row}],
        "mean": row,
        "spread": dict.fromkeys(row, 0.0),
        "confusion": {"classes": ["Cyst", "Normal"], "matrix": [[3, 1], [0, 4]]},
        "calibration": {
            "temperature": 1.7,
            "uncertain_below": 0.66,
            "ece_before": 0.1,
            "ece_after_in_sample": 0.05,
            "n_images": 24,
            "fitted_on": "out-of-fold predictions of 2 patient-block folds",
        },
        **changes,
    }
    folder.mkdir()
    (folder / "summary.json").write_text(json.dumps(summary))


def test_a_version_takes_the_out_of_fold_calibration_of_its_recipe(
    models_with_tiny, tiny_version, tmp_path, db
):
    metadata = versions.read_metadata(tiny_version)
    write_summary(tmp_path / "cv", metadata)
    out = io.StringIO()

    call_command(
        "calibrate_model", "--crossvalidation", str(tmp_path / "cv"),
        "--model", tiny_version.name, "--activate", stdout=out,
    )  # fmt: skip

    derived = versions.active_version(models_with_tiny)
    assert derived != tiny_version.name
    new = versions.read_metadata(models_with_tiny / derived)
    assert new["calibration"]["temperature"] == 1.7
    assert new["inference"]["uncertain_below"] == 0.66
    assert new["metrics"]["crossvalidation"]["mean"]["balanced_accuracy"] == 0.8
    # What each class is mistaken for on new patients (the weak-class sentence).
    assert new["metrics"]["crossvalidation"]["confusion"]["matrix"] == [[3, 1], [0, 4]]
    assert new["derived_from"] == tiny_version.name
    assert "fitted on 24 out-of-fold predictions of 2 folds" in out.getvalue()


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"folds_done": [0]}, r"holds folds \[0\] of 2: run them all"),
        ({"data": {"folders": [], "fingerprint": "f" * 64}}, "other data"),
    ],
)
def test_a_cross_validation_of_other_data_or_unfinished_is_refused(
    changes, message, models_with_tiny, tiny_version, tmp_path
):
    write_summary(tmp_path / "cv", versions.read_metadata(tiny_version), **changes)

    with pytest.raises(CommandError, match=message):
        call_command(
            "calibrate_model", "--crossvalidation", str(tmp_path / "cv"),
            "--model", tiny_version.name,
        )  # fmt: skip


def test_another_recipe_is_refused(models_with_tiny, tiny_version, tmp_path):
    metadata = versions.read_metadata(tiny_version)
    metadata["training"]["epochs"] = 99
    write_summary(tmp_path / "cv", metadata)

    with pytest.raises(CommandError, match=r"another recipe .*\(differs in: epochs\)"):
        call_command(
            "calibrate_model", "--crossvalidation", str(tmp_path / "cv"),
            "--model", tiny_version.name,
        )  # fmt: skip


def test_either_a_data_folder_or_a_cross_validation_is_given(models_with_tiny, tmp_path):
    with pytest.raises(CommandError, match="Give --data-dir, --crossvalidation, or both"):
        call_command("calibrate_model")
    with pytest.raises(CommandError, match="--flip-averaging cannot change"):
        call_command(
            "calibrate_model", "--crossvalidation", str(tmp_path), "--flip-averaging", "off"
        )
