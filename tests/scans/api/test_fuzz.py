"""Property-based fuzzing of the whole API from its own OpenAPI schema: schemathesis'
command line (examples, coverage, fuzzing and stateful phases) against the live test
server. No generated request may cause a server error, and every response must match
the schema the server publishes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import requests

from scans.services.accounts import api_token_create

SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
CONFIG = Path(__file__).with_name("schemathesis.toml")
EXAMPLES_PER_OPERATION = 50
SEED = 20261126  # the same run every time; change it to explore other inputs


def schemathesis_run(live_server, cwd: Path, *options: str) -> subprocess.CompletedProcess:
    """schemathesis with this folder's settings against the schema the live server serves."""
    return subprocess.run(
        [
            SCHEMATHESIS,
            "--config-file",
            CONFIG,
            "run",
            f"{live_server.url}/api/v1/schema/?format=json",
            "--max-examples",
            str(EXAMPLES_PER_OPERATION),
            "--seed",
            str(SEED),
            "--generation-database",
            "none",
            "--workers",
            "1",
            "--no-color",
            *options,
        ],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.fixture
def token(transactional_db, alice, make_scan, settings) -> str:
    settings.API_THROTTLE_RATE = "100000/minute"  # fuzzing is not abuse
    for label in ("Cyst", "Stone"):
        make_scan(alice, label=label)  # something real to list, read and delete
    return api_token_create(user=alice).key


def test_generated_requests_cause_no_server_error_and_match_the_schema(
    live_server, token, tmp_path
):
    result = schemathesis_run(live_server, tmp_path, "--header", f"Authorization: Token {token}")
    assert result.returncode == 0, result.stdout[-20000:] + result.stderr[-5000:]


def test_the_health_checks_documented_503_is_no_server_error_when_the_broker_is_down(
    live_server, token, unreachable_broker, tmp_path
):
    health = requests.get(f"{live_server.url}/api/v1/health/", timeout=30)
    assert health.status_code == 503  # what every request of the run below gets

    result = schemathesis_run(
        live_server,
        tmp_path,
        "--header",
        f"Authorization: Token {token}",  # the schema is for API users
        "--include-operation-id",
        "health",
    )

    assert result.returncode == 0, result.stdout[-20000:] + result.stderr[-5000:]
