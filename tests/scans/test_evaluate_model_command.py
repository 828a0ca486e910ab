from __future__ import annotations

import json

import pytest
from django.core.management import CommandError, call_command
from factories import write_dataset


def test_json_output_is_one_object_with_the_documented_keys(tiny_version, tmp_path, capsys):
    data_dir = write_dataset(tmp_path / "eval", per_class=3)

    call_command(
        "evaluate_model", "--data-dir", str(data_dir), "--model", str(tiny_version), "--json"
    )

    report = json.loads(capsys.readouterr().out)
    keys = {"accuracy", "per_class", "confusion_matrix", "classes", "n_images", "model_version"}
    assert keys <= report.keys()
    assert set(report["ece"]) == {"before", "after", "temperature", "bins"}
    assert report["ece"]["bins"] == 15
    assert 0 <= report["ece"]["after"] <= 1
    assert report["classes"] == ["Cyst", "Normal", "Stone", "Tumor"]
    assert report["n_images"] == 12
    assert report["model_version"] == tiny_version.name
    assert [sum(row) for row in report["confusion_matrix"]] == [3, 3, 3, 3]
    diagonal = sum(report["confusion_matrix"][i][i] for i in range(4))
    assert report["accuracy"] == pytest.approx(diagonal / 12)
    assert set(report["per_class"]["Stone"]) == {"precision", "recall", "f1", "support"}
    attention = report["attention_in_body"]
    assert set(attention) == {"mean", "per_class", "n_images", "even_body"}
    assert set(attention["per_class"]) == {"Cyst", "Normal", "Stone", "Tumor"}


def test_text_output_lists_every_class(tiny_version, tmp_path, capsys):
    data_dir = write_dataset(tmp_path / "eval", per_class=2)

    call_command("evaluate_model", "--data-dir", str(data_dir), "--model", str(tiny_version))

    out = capsys.readouterr().out
    assert f"Model {tiny_version.name}: accuracy" in out
    assert all(f"  {name}" in out for name in ("Cyst", "Normal", "Stone", "Tumor"))


def test_unknown_model_is_one_clear_error(tmp_path):
    with pytest.raises(CommandError, match="No model version v404"):
        call_command("evaluate_model", "--data-dir", str(tmp_path), "--model", "v404")


def test_missing_data_folder_is_one_clear_error(tiny_version, tmp_path):
    with pytest.raises(CommandError, match="does not exist"):
        call_command(
            "evaluate_model", "--data-dir", str(tmp_path / "none"), "--model", str(tiny_version)
        )
