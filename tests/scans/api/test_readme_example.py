"""The README's `curl` example, run as written against the live test server."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from factories import encode, synthetic_slice

from scans.services.accounts import api_token_create

README = Path(__file__).resolve().parents[3] / "README.md"
MAKE_RUN_URL = "http://127.0.0.1:8000"


def readme_api_commands() -> list[str]:
    section = README.read_text().split("## Use the API", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^    (curl .+)$", section, flags=re.MULTILINE)


@pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")
def test_readme_curl_example_uploads_and_reads_a_scan(
    live_server, transactional_db, alice, tmp_path
):
    upload, read = readme_api_commands()
    (tmp_path / "slice.jpg").write_bytes(encode(synthetic_slice(2, 1), "JPEG"))
    env = {"TOKEN": api_token_create(user=alice).key, "PATH": "/usr/bin:/bin"}

    def run(command: str) -> dict:
        command = command.replace(MAKE_RUN_URL, live_server.url)
        result = subprocess.run(
            ["bash", "-c", command], cwd=tmp_path, env=env, capture_output=True, text=True
        )
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    [scan] = run(upload)["scans"]
    assert (scan["status"], scan["note"], scan["original_name"]) == (
        "queued",
        "study 42",
        "slice.jpg",
    )
    assert run(read.replace("/scans/1/", f"/scans/{scan['id']}/"))["id"] == scan["id"]
