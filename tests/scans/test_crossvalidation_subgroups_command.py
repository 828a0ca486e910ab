from __future__ import annotations

import json

import pytest
from django.core.management import CommandError, call_command
from support.crossval_records import prediction
from support.planes import axial_slice, coronal_slice

CLASSES = ["Cyst", "Normal", "Stone", "Tumor"]


def test_the_command_reads_each_slices_plane_and_writes_the_report(tmp_path, capsys):
    data_dir = tmp_path / "data" / "scans"
    axial_slice(data_dir / "Cyst" / "Cyst- (1).png")
    coronal_slice(data_dir / "Cyst" / "Cyst- (2).png")
    axial_slice(data_dir / "Stone" / "Stone- (1).png")
    run = tmp_path / "run"
    run.mkdir()
    record = {
        "fold": 0,
        "recipe": {"class_names": CLASSES},
        "predictions": [
            prediction("scans/Cyst/Cyst- (1).png", 0, 0),
            prediction("scans/Cyst/Cyst- (2).png", 0, 2),  # the coronal one, misread
            prediction("scans/Stone/Stone- (1).png", 2, 2),
        ],
    }
    (run / "fold-0.json").write_text(json.dumps(record))

    call_command("crossvalidation_subgroups", "--run", run, "--data-dir", data_dir)

    out = capsys.readouterr().out
    assert "scans: 75.0 % over 1 fold(s); pooled 75.0 % of 3 slices" in out
    assert "axial: 100.0 % over 1 fold(s); pooled 100.0 % of 2 slices" in out
    assert "scans / fills the frame: 0.0 % over 1 fold(s); pooled 0.0 % of 1 slices" in out
    report = json.loads((run / "subgroups.json").read_text())
    assert report["folds"] == [0]
    assert "93 %" in report["plane_rule"]


def test_the_commands_error_paths(tmp_path):
    with pytest.raises(CommandError, match="No such data folder"):
        call_command(
            "crossvalidation_subgroups", "--run", tmp_path, "--data-dir", tmp_path / "missing"
        )
    with pytest.raises(CommandError, match="No fold records"):
        call_command("crossvalidation_subgroups", "--run", tmp_path, "--data-dir", tmp_path)
    record = {
        "fold": 0,
        "recipe": {"class_names": CLASSES},
        "predictions": [prediction(f"{tmp_path.name}/Cyst/gone.png", 0, 0)],
    }
    (tmp_path / "fold-0.json").write_text(json.dumps(record))
    with pytest.raises(CommandError, match="Cannot report on"):
        call_command("crossvalidation_subgroups", "--run", tmp_path, "--data-dir", tmp_path)
