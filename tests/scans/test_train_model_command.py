from __future__ import annotations

import io
import json

import pytest
from django.core.management import CommandError, call_command
from factories import synthetic_slice

from mlcore import versions


def test_train_model_writes_an_active_version_and_prints_a_summary(dataset_dir, tmp_path, capsys):
    models = tmp_path / "models"

    call_command(
        "train_model",
        "--data-dir", str(dataset_dir),
        "--epochs", "1",
        "--batch-size", "8",
        "--image-size", "32",
        "--val-fraction", "0.34",
        "--seed", "3",
        "--output", str(models),
        "--activate",
    )  # fmt: skip

    out = capsys.readouterr().out
    version = versions.active_version(models)
    metadata = json.loads((models / version / "metadata.json").read_text())
    assert metadata["training"]["seed"] == 3
    assert metadata["training"]["batch_size"] == 8
    assert f"Version {version} written to" in out
    assert "Validation accuracy" in out and "on 8 held-out images; recall: Cyst" in out
    assert f"Version {version} is now active." in out


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--data-dir", "/no/such/folder"], "Data folder /no/such/folder does not exist."),
        (["--data-dir", "{empty}"], "No folder under"),
        (["--data-dir", "{data}", "--val-fraction", "1.5"], "validation fraction"),
        (["--data-dir", "{data}", "--weights", "/no/weights.h5"], "does not exist"),
        (["--data-dir", "{data}", "--fine-tune-layers", "some"], "'all' or a number"),
        (["--data-dir", "{data}", "--average-last", "-1"], "--average-last takes 0"),
        (
            ["--data-dir", "{data}", "--folder-balance", "on", "--balanced-sampling", "on"],
            "choose one",
        ),
        (["--data-dir", "{data}", "--folder-balance", "on"], "two or more --data-dir"),
        (["--data-dir", "{data}", "--val-fold", "9"], "no validation fold 9"),
        (["--data-dir", "{data}", "--teacher", "no-such-version"], "No model version no-such"),
        (["--data-dir", "{data}", "--teacher", "{empty}"], "No model version"),
        (["--data-dir", "{data}", "--teacher", "x", "--teacher-weight", "0"], "teacher weight"),
    ],
)
def test_bad_arguments_give_one_clear_error(arguments, message, dataset_dir, tmp_path):
    (tmp_path / "empty").mkdir()
    arguments = [a.format(empty=tmp_path / "empty", data=dataset_dir) for a in arguments] + [
        "--output",
        str(tmp_path / "models"),
        "--epochs",
        "1",
    ]

    with pytest.raises(CommandError, match=message):
        call_command("train_model", *arguments)
    assert versions.list_versions(tmp_path / "models") == []


def test_download_offline_is_one_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("KAGGLEHUB_CACHE", str(tmp_path))
    monkeypatch.setenv("KAGGLE_API_ENVIRONMENT", "TEST")

    with pytest.raises(CommandError, match="internet connection"):
        call_command("train_model", "--download", "--output", str(tmp_path / "models"))


def test_command_line_errors_exit_non_zero_without_a_traceback(tmp_path):
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "manage.py", "train_model", "--data-dir", str(tmp_path / "none")],
        capture_output=True,
        text=True,
        env={"DJANGO_SECRET_KEY": "x", "PATH": "/usr/bin:/bin"},
        check=False,
    )

    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        f"CommandError: Data folder {tmp_path / 'none'} does not exist."
    )
    assert "Traceback" not in result.stderr


def test_several_data_folders_are_pooled_and_recorded(dataset_dir, tmp_path):
    extra = tmp_path / "extra"
    for label, name in enumerate(("Cyst", "Normal", "Stone", "Tumor")):
        (extra / name).mkdir(parents=True)
        for number in (701, 702):
            synthetic_slice(label, number).save(extra / name / f"{name}- ({number}).jpg")
    models = tmp_path / "models"
    out = io.StringIO()

    call_command(
        "train_model",
        "--data-dir", str(dataset_dir), "--data-dir", str(extra),
        "--epochs", "1", "--batch-size", "8", "--image-size", "32",
        "--val-fraction", "0.25", "--val-fold", "1", "--body-mask", "on", "--folder-balance", "on",
        "--output", str(models), stdout=out,
    )  # fmt: skip

    (version,) = versions.list_versions(models)
    metadata = json.loads((models / version / "metadata.json").read_text())
    folders = metadata["dataset"]["folders"]
    assert [f["root"] for f in folders] == [str(dataset_dir.resolve()), str(extra.resolve())]
    assert [f["counts"]["Stone"] for f in folders] == [6, 2]
    assert metadata["dataset"]["counts"]["Stone"] == 8
    assert len({f["fingerprint"] for f in folders}) == 2
    assert metadata["preprocessing"]["body_mask"] is True
    assert metadata["training"]["folder_balance"] is True
    # Per class, files 1-4 of the first folder train (5-6 are held out) and both of the
    # second: 4 and 2 slices carrying half the class's weight each.
    assert (
        "loss weight of a slice by class and folder: Cyst 0.75 / 1.50; Normal 0.75 / 1.50; "
        "Stone 0.75 / 1.50; Tumor 0.75 / 1.50"
    ) in out.getvalue()
