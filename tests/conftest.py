"""Test-wide settings: the engine's structured logs are kept to warnings and above; the
PostgreSQL server of the ``postgres`` tests (see tests/pgserver.py)."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator

import pytest
import structlog

from tests.pgserver import PgServer, start_cluster

structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """The PostgreSQL server: ``JOURNEYDSL_TEST_DSN``'s, or a throwaway cluster started for the
    session; the test skips when there is neither (``JOURNEYDSL_REQUIRE_POSTGRES=1``: fails)."""
    required = os.environ.get("JOURNEYDSL_REQUIRE_POSTGRES") == "1"
    try:
        import psycopg  # noqa: F401
    except ImportError:
        why = "psycopg is not installed (pip install -e '.[test]')"
        if required:
            pytest.fail(f"PostgreSQL tests required, but {why}")
        pytest.skip(f"PostgreSQL tests: {why}")
    dsn = os.environ.get("JOURNEYDSL_TEST_DSN")
    if dsn:
        yield PgServer(dsn)
        return
    try:
        server = start_cluster()
    except RuntimeError as exc:
        why = f"JOURNEYDSL_TEST_DSN is not set and no server could be started: {exc}"
        if required:
            pytest.fail(f"PostgreSQL tests required, but {why}")
        pytest.skip(f"PostgreSQL tests: {why}")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def pg_dsn(pg_server: PgServer) -> Iterator[str]:
    """The DSN of a new, empty database, dropped after the test."""
    dsn = pg_server.create_database()
    try:
        yield dsn
    finally:
        pg_server.drop_database(dsn)
