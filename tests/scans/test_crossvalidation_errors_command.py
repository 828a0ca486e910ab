from __future__ import annotations

import json

import pytest
from django.core.management import CommandError, call_command
from support.crossval_records import prediction
from support.planes import axial_slice, coronal_slice

CLASSES = ["Cyst", "Normal", "Stone", "Tumor"]


def test_the_command_writes_the_surest_errors_with_their_plane(tmp_path, capsys):
    data_dir = tmp_path / "data" / "scans"
    axial_slice(data_dir / "Tumor" / "Tumor- (1).png")
    coronal_slice(data_dir / "Cyst" / "Cyst- (2).png")
    axial_slice(data_dir / "Stone" / "Stone- (1).png")
    run = tmp_path / "run"
    run.mkdir()
    record = {
        "fold": 3,
        "recipe": {"class_names": CLASSES},
        "predictions": [
            prediction("scans/Tumor/Tumor- (1).png", 3, 1, 0.9),
            prediction("scans/Cyst/Cyst- (2).png", 0, 2, 0.95),
            prediction("scans/Stone/Stone- (1).png", 2, 2, 0.99),  # right: not shown
        ],
    }
    (run / "fold-3.json").write_text(json.dumps(record))

    call_command("crossvalidation_errors", "--run", run, "--data-dir", data_dir)

    out = capsys.readouterr().out
    assert "the 2 surest wrong readings" in out
    assert (
        "scans/Cyst/Cyst- (2).png (fold 3, fills the frame): Cyst read as Stone, 95.0 %; "
        "1 misread in 2"
    ) in out
    listed = json.loads((run / "confident-errors.json").read_text())["errors"]
    assert [(e["path"], e["plane"]) for e in listed] == [
        ("scans/Cyst/Cyst- (2).png", "fills the frame"),
        ("scans/Tumor/Tumor- (1).png", "axial"),
    ]
    assert (run / "confident-errors.png").read_bytes().startswith(b"\x89PNG")


def test_the_commands_error_paths(tmp_path):
    with pytest.raises(CommandError, match="No such data folder"):
        call_command("crossvalidation_errors", "--run", tmp_path, "--data-dir", tmp_path / "x")
    with pytest.raises(CommandError, match="--count must be at least 1"):
        call_command(
            "crossvalidation_errors", "--run", tmp_path, "--data-dir", tmp_path, "--count", "0"
        )
    with pytest.raises(CommandError, match="No fold records"):
        call_command("crossvalidation_errors", "--run", tmp_path, "--data-dir", tmp_path)
