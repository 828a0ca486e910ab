from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--data-dir", "/no/such/folder"], "Data folder /no/such/folder does not exist."),
        (["--data-dir", "{data}", "--data-dir", "{data}"], "given twice"),
        (["--data-dir", "{data}", "--folds", "1"], "at least 2 folds"),
        (["--data-dir", "{data}", "--fold", "5"], "There is no fold 5: 5 folds are 0-4."),
        (["--data-dir", "{data}", "--average-last", "0"], "--average-last N"),
        (["--data-dir", "{data}", "--weights", "/no/weights.h5"], "does not exist"),
    ],
)
def test_bad_arguments_give_one_clear_error(arguments, message, dataset_dir, tmp_path):
    arguments = [a.format(data=dataset_dir) for a in arguments]
    defaults = ["--output", str(tmp_path / "cv"), "--epochs", "1", "--average-last", "1"]

    with pytest.raises(CommandError, match=message):
        call_command("crossvalidate_model", *defaults, *arguments)
    assert not list((tmp_path / "cv").glob("fold-*.json")) if (tmp_path / "cv").exists() else True
