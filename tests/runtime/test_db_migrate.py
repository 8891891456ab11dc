"""`journeydsl db migrate` on a SQLite state file: it reports the version it found and the one it
left, and refuses a missing file (PostgreSQL: tests/runtime/test_postgres_store.py)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from journeydsl.cli import main
from journeydsl.runtime.stores.sqlite import SCHEMA_VERSION, SQLiteStore


def test_db_migrate_on_a_sqlite_file_says_what_it_did(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A file of an older schema is migrated and said to be; a current one is up to date."""
    db = tmp_path / "s.sqlite"
    SQLiteStore(db).close()
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE meta SET value = '3' WHERE key = 'schema_version'")
    assert main(["db", "migrate", "--db", str(db)]) == 0
    assert f"{db}: migrated from schema version 3 to {SCHEMA_VERSION}" in capsys.readouterr().out
    assert main(["db", "migrate", "--db", str(db)]) == 0
    assert f"schema version {SCHEMA_VERSION}, up to date" in capsys.readouterr().out


def test_db_migrate_refuses_a_missing_sqlite_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A mistyped file name is a usage error (exit 2), not a new empty database."""
    missing = tmp_path / "nope.sqlite"
    assert main(["db", "migrate", "--db", str(missing)]) == 2
    assert f"{missing}: no such file" in capsys.readouterr().err
    assert not missing.exists()


def test_db_migrate_refuses_buckets_for_a_sqlite_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """`--buckets` (PostgreSQL only) given with a SQLite file is a usage error (exit 2) saying
    so, and the file is left as it was."""
    db = tmp_path / "s.sqlite"
    SQLiteStore(db).close()
    before = db.read_bytes()
    assert main(["db", "migrate", "--db", str(db), "--buckets", "8"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "--buckets is for a PostgreSQL database" in err
    assert db.read_bytes() == before


def test_db_migrate_on_a_sqlite_file_in_use_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A SQLite file another writer holds is refused with one line and exit 2, as `journeydsl
    run` refuses it."""
    db = tmp_path / "s.sqlite"
    with SQLiteStore(db):
        assert main(["db", "migrate", "--db", str(db)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert f"journeydsl: error: {db} is in use by another SQLiteStore" in err
