"""Property-based fuzzing of the whole API from its own OpenAPI schema: schemathesis'
command line (examples, coverage, fuzzing and stateful phases) against the live test
server. No generated request may cause a server error, and every response must match
the schema the server publishes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from scans.services import api_token_create

SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
CONFIG = Path(__file__).with_name("schemathesis.toml")
EXAMPLES_PER_OPERATION = 50
SEED = 20261126  # the same run every time; change it to explore other inputs


@pytest.fixture
def token(transactional_db, alice, make_scan, settings) -> str:
    settings.API_THROTTLE_RATE = "100000/minute"  # fuzzing is not abuse
    for label in ("Cyst", "Stone"):
        make_scan(alice, label=label)  # something real to list, read and delete
    return api_token_create(user=alice).key


def test_generated_requests_cause_no_server_error_and_match_the_schema(
    live_server, token, tmp_path
):
    result = subprocess.run(
        [
            SCHEMATHESIS,
            "--config-file",
            CONFIG,
            "run",
            f"{live_server.url}/api/v1/schema/?format=json",
            "--header",
            f"Authorization: Token {token}",
            "--max-examples",
            str(EXAMPLES_PER_OPERATION),
            "--seed",
            str(SEED),
            "--generation-database",
            "none",
            "--workers",
            "1",
            "--no-color",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-20000:] + result.stderr[-5000:]
