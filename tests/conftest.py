"""Test-wide settings: the engine's structured logs are kept to warnings and above; the
PostgreSQL server of the ``postgres`` tests (see tests/pgserver.py)."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

from tests.pgserver import PgServer, start_cluster

structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))


def pytest_sessionstart(session: pytest.Session) -> None:
    """Refuse to test a checkout that a compiled build left its extension modules in: they
    would be imported instead of the sources (the compiled run, which imports the installed
    build on purpose, says so with JOURNEYDSL_EXPECT_COMPILED=1)."""
    import journeydsl
    from journeydsl._compiled import compiled_modules

    checkout = Path(__file__).resolve().parents[1] / "journeydsl"
    if os.environ.get("JOURNEYDSL_EXPECT_COMPILED") == "1":
        return
    if Path(journeydsl.__file__).resolve().parent == checkout and compiled_modules():
        pytest.exit(
            f"{checkout} holds compiled modules ({', '.join(compiled_modules()[:3])} …), which "
            "are imported instead of the sources: remove them (find journeydsl -name '*.so' "
            "-delete) and build the compiled package from a copy (docs/performance.md)",
            returncode=4,
        )


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
