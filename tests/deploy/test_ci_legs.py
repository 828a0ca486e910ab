"""CI's second leg (.ci/run) runs pytest with --services-only: the tests that reach
PostgreSQL or the real CT sample, which leg 1 ran without them, and none of the others,
which would only run again as they ran in leg 1."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
FILES = ("tests/mlcore/test_body.py", "tests/scans/test_audit.py", "tests/scans/test_selectors.py")


def collected(*options: str) -> set[str]:
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", *options, *FILES],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return {line for line in result.stdout.splitlines() if "::" in line}


def test_services_only_keeps_the_tests_on_a_database_or_the_sample_and_no_other():
    everything = collected()
    kept = collected("--services-only")

    names = {test.split("::")[1].split("[")[0] for test in kept}
    assert names == {
        # the real sample (sample_dir)
        "test_body_mask_on_real_slices_covers_the_middle_not_the_corners",
        "test_load_image_can_mask_the_body_and_is_unchanged_without_it",
        # the database (the module's django_db mark, and the fixtures of its users)
        "test_log_in_failed_log_in_and_log_out_are_recorded",
        "test_upload_view_image_and_delete_are_recorded",
        "test_review_and_model_activation_are_recorded",
        "test_events_can_be_neither_changed_nor_deleted",
        "test_admins_read_the_trail_but_nobody_edits_it_in_the_admin",
    }
    # Collected without the option, then dropped: the other tests of test_body read
    # synthetic slices, test_selectors the models folder; the same in both legs.
    assert kept < everything
    assert any("test_selectors.py::" in test for test in everything)
