"""What the upload budget rests on, short of its times: a file at the pixel limit is read,
the bombs are refused while they inflate and a file one pixel past the limit from its
header, each checked in a fresh process (tests/upload_probe.py) that also reports the
growth of its peak resident memory; and the worst request keeps 4 files and refuses 46.

The time budgets (README "Upload budget") are measured by bench/upload_budget.py, never
asserted here: wall-clock times on a shared machine say more about its load than about
the code. Peak memory does not depend on the load, so its bounds stay."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.corpus import LIMIT_SIDE, at_the_limit, deflate_bombs, png_16bit
from support.probe import probe_upload

# README "Upload budget": measured 240-350 MB per file at the limit and 66 MB per bomb.
FILE_BUDGET_MB, BOMB_BUDGET_MB, HEADER_BUDGET_MB = 450, 100, 5
BOMBS = deflate_bombs()


def probe(tmp_path: Path, name: str, data: bytes) -> dict:
    path = tmp_path / name
    path.write_bytes(data)
    return probe_upload(path)


@pytest.mark.parametrize("case", at_the_limit(), ids=lambda case: case.name)
def test_file_at_the_pixel_limit_is_read_within_the_memory_budget(tmp_path, case):
    result = probe(tmp_path, case.name, case.data)

    assert result["reason"] is None, result["reason"]
    assert result["peak_mb"] <= FILE_BUDGET_MB, result


@pytest.mark.parametrize("case", BOMBS, ids=lambda case: case.name)
def test_deflated_dicom_bomb_is_refused_while_inflating(tmp_path, case):
    result = probe(tmp_path, case.name, case.data)

    assert "expands to more than" in result["reason"]
    assert result["peak_mb"] <= BOMB_BUDGET_MB, result


def test_one_pixel_past_the_limit_is_refused_from_the_header(tmp_path):
    result = probe(tmp_path, "past.png", png_16bit(LIMIT_SIDE, LIMIT_SIDE + 1))

    assert "the limit is 16,777,216 pixels" in result["reason"]
    assert result["peak_mb"] <= HEADER_BUDGET_MB, result


@pytest.mark.django_db
def test_worst_request_keeps_the_four_files_at_the_limit_and_refuses_46_bombs(
    client, alice, media_root
):
    """Four files at the limit (the most one upload may hold) and 46 bombs."""
    from django.urls import reverse
    from factories import upload_file

    from scans.models import Scan, UploadBatch

    files = [upload_file(case.name, case.data) for case in at_the_limit()]
    files += [upload_file(f"bomb-{i}.dcm", BOMBS[i % len(BOMBS)].data) for i in range(46)]
    client.force_login(alice)

    response = client.post(reverse("upload"), {"files": files})

    assert response.status_code == 302  # to the batch page
    assert Scan.objects.count() == 4
    refused = [file["reason"] for file in UploadBatch.objects.get().files if not file["scan"]]
    assert len(refused) == 46
    assert all("expands to more than" in reason for reason in refused)
