"""bench/uncertain_rules.py: the code's rule gives the summary's figures, and a case
with a known answer."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from support.planes import axial_slice, coronal_slice

ROOT = Path(__file__).resolve().parents[2]
RECORDED = ROOT / "docs/crossval/ensemble-masked-e60-and-crop-128-e30"
CODE_RULE = "readings above it 99 % right, steps of 0.01 (the code's rule)"


def run_bench(run: Path, *options: str) -> dict:
    result = subprocess.run(
        [sys.executable, "bench/uncertain_rules.py", str(run), *options],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return json.loads(result.stdout)


def test_the_codes_rule_gives_the_recorded_summarys_figures():
    summary = json.loads((RECORDED / "summary.json").read_text())
    rule = run_bench(RECORDED)["rules"][CODE_RULE]

    assert [row["fold"] for row in rule["per_fold"]] == [row["fold"] for row in summary["per_fold"]]
    for mine, recorded in zip(rule["per_fold"], summary["per_fold"], strict=True):
        assert mine["confidently_wrong"] == pytest.approx(recorded["confidently_wrong"])
        assert mine["uncertain_share"] == pytest.approx(recorded["uncertain_share"])
    assert rule["threshold_all_folds"] == summary["calibration"]["uncertain_below"]


def write_fold(folder: Path, fold: int, *, right: int, wrong: int, refused: int) -> None:
    sure = [0.997, 0.001, 0.001, 0.001]
    unsure = [0.1, 0.7, 0.1, 0.1]  # label 0, read as class 1
    predictions = [{"label": 0, "probabilities": sure, "refused": False}] * right
    predictions += [{"label": 0, "probabilities": unsure, "refused": False}] * wrong
    predictions += [{"label": 0, "probabilities": sure, "refused": True}] * refused
    (folder / f"fold-{fold}.json").write_text(
        json.dumps({"fold": fold, "predictions": predictions})
    )


def test_wrong_readings_less_sure_than_right_ones_are_all_flagged_by_every_rule(tmp_path):
    write_fold(tmp_path, 0, right=90, wrong=10, refused=0)
    write_fold(tmp_path, 1, right=90, wrong=10, refused=0)
    write_fold(tmp_path, 2, right=90, wrong=10, refused=5)

    report = run_bench(tmp_path)

    assert report["folds"] == [0, 1, 2]
    assert len(report["rules"]) == 5
    for name, rule in report["rules"].items():
        shares = [(row["confidently_wrong"], row["uncertain_share"]) for row in rule["per_fold"]]
        # Refused readings are neither confident nor uncertain: fold 2 flags 10 of 105.
        assert shares == [(0.0, 0.1), (0.0, 0.1), (0.0, pytest.approx(10 / 105))], name
        assert rule["confidently_wrong_worst"] == 0.0


def test_by_plane_every_coronal_reading_is_flagged_and_the_threshold_fitted_on_axial_ones(
    tmp_path,
):
    data_dir, run = tmp_path / "slices", tmp_path / "run"
    run.mkdir()
    sure_right = [0.997, 0.001, 0.001, 0.001]
    sure_wrong = [0.001, 0.997, 0.001, 0.001]  # label 0 read as class 1, as surely
    for fold in range(3):
        predictions = []
        for n in range(12):
            path = f"Cyst/Cyst- ({fold * 100 + n}).png"
            coronal = n < 2
            (coronal_slice if coronal else axial_slice)(data_dir / path)
            row = sure_wrong if coronal else sure_right
            predictions.append(
                {"path": f"slices/{path}", "label": 0, "probabilities": row, "refused": False}
            )
        (run / f"fold-{fold}.json").write_text(
            json.dumps({"fold": fold, "predictions": predictions})
        )

    report = run_bench(run, "--data-dir", str(data_dir))

    by_plane = report["by_plane"][CODE_RULE]
    # The two coronal readings of each fold are flagged, the ten axial ones (all right
    # on the other folds: the lowest threshold) are not.
    assert by_plane["confidently_wrong_worst"] == 0.0
    for row in by_plane["per_fold"]:
        assert row["uncertain_share"] == pytest.approx(2 / 12)
        assert row["axial_unflagged"] == 1.0
    assert set(report["by_plane"]) == set(report["rules"])


def test_a_folder_without_two_folds_is_refused_with_a_message(tmp_path):
    write_fold(tmp_path, 0, right=9, wrong=1, refused=0)

    result = subprocess.run(
        [sys.executable, "bench/uncertain_rules.py", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )

    assert result.returncode != 0
    assert "at least two folds" in result.stderr
