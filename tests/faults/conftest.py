"""Faults of real services: the stack fixtures of tests/integration, private Redis and
PostgreSQL servers that a test may stop (never the shared ones)."""

from __future__ import annotations

import pytest
from integration.conftest import (  # noqa: F401  fixtures and the hook that keeps logs
    clinician,
    make_stack,
    pytest_runtest_makereport,
)
from support import stack


@pytest.fixture
def private_redis(tmp_path):
    try:
        server = stack.RedisServer(tmp_path).start()
    except FileNotFoundError:
        pytest.skip("redis-server is not installed")
    yield server
    server.stop()


@pytest.fixture
def private_postgres(tmp_path):
    try:
        server = stack.PostgresServer(tmp_path)
    except FileNotFoundError as exc:
        pytest.skip(f"cannot run a private PostgreSQL server: {exc}")
    yield server.start()
    server.remove()
