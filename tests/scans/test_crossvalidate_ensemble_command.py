from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command
from support.crossval_records import HALF, OTHER_HALF, SURE, record, write_run


def test_the_command_prints_the_ensembles_mean_and_its_errors(tmp_path, capsys):
    a = write_run(tmp_path / "a", record(0, HALF), record(1, SURE))
    b = write_run(tmp_path / "b", record(0, OTHER_HALF), record(1, SURE))

    call_command("crossvalidate_ensemble", "--run", a, "--run", b, "--output", tmp_path / "ab")

    out = capsys.readouterr().out
    assert "Folds 0, 1 of 2: balanced accuracy 87.5 ± 12.5 %" in out
    assert "uncertain" in out
    assert f"Written to {tmp_path / 'ab'}" in out
    with pytest.raises(CommandError, match="no fold in common"):
        call_command(
            "crossvalidate_ensemble",
            "--run",
            a,
            "--run",
            write_run(tmp_path / "c", record(5, SURE)),
            "--output",
            tmp_path / "ac",
        )
