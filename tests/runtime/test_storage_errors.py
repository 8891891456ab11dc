"""Storage failures of `journeydsl run` are operator errors: one line naming the state file and
the problem, exit 1, no traceback; and `journeydsl run --check-db` checks a state file."""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from journeydsl.cli import main
from journeydsl.runtime.stores import sqlite as sqlite_module
from journeydsl.runtime.stores.sqlite import (
    SQLiteStore,
    StoreThreadError,
    StoreUnavailable,
    check_database,
    storage_error,
)
from tests.runtime.test_run_cli import EVENTS, JOURNEYS, PROFILES, jsonl

NOW = "2026-02-20T00:00:00+07:00"
PAGE = 4096  # SQLite's default page size, which the store keeps


@pytest.fixture
def files(tmp_path: Path) -> dict[str, str]:
    return {
        "events": str(jsonl(tmp_path / "events.jsonl", EVENTS)),
        "profiles": str(jsonl(tmp_path / "profiles.jsonl", PROFILES)),
        "db": str(tmp_path / "state.sqlite"),
        "actions": str(tmp_path / "actions.jsonl"),
    }


def run_cli(capsys: pytest.CaptureFixture[str], files: dict[str, str]) -> tuple[int, str]:
    argv = ["run", *JOURNEYS, "--db", files["db"], "--events", files["events"], "--now", NOW]
    code = main([*argv, "--actions", files["actions"], "--profiles", files["profiles"]])
    captured = capsys.readouterr()
    assert captured.out == ""
    return code, captured.err


def one_line(err: str) -> str:
    """The last line of stderr, once checked to be the only error line and no traceback."""
    assert "Traceback" not in err
    errors = [line for line in err.splitlines() if line.startswith("journeydsl: error:")]
    assert len(errors) == 1, err
    assert err.endswith(errors[0] + "\n")
    return errors[0]


def check_db(capsys: pytest.CaptureFixture[str], db: str) -> tuple[int, str, str]:
    code = main(["run", "--check-db", "--db", db])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _root_page(db: str, name: str) -> int:
    """The first page of a table or an index."""
    conn = sqlite3.connect(db)
    try:
        (page,) = conn.execute(
            "SELECT rootpage FROM sqlite_master WHERE name = ?", (name,)
        ).fetchone()
    finally:
        conn.close()
    return int(page)


def _overwrite_page(db: str, page: int, data: bytes) -> None:
    with open(db, "r+b") as f:
        f.seek((page - 1) * PAGE)
        f.write(data)


# --------------------------------------------------------------------------- journeydsl run


def test_a_file_that_is_not_a_database_is_one_line_and_exit_1(
    capsys: pytest.CaptureFixture[str], files: dict[str, str]
) -> None:
    """Random bytes as --db: one line naming the file and "not a SQLite database", exit 1, and
    the file is left as it was."""
    junk = bytes(range(256)) * 40
    Path(files["db"]).write_bytes(junk)
    code, err = run_cli(capsys, files)
    assert code == 1
    assert one_line(err) == (
        f"journeydsl: error: {files['db']}: not a SQLite database (file is not a database); "
        "is this the state file?"
    )
    assert Path(files["db"]).read_bytes() == junk
    assert not Path(files["actions"]).exists()


@pytest.mark.parametrize(
    ("version", "problem"),
    [
        (
            "99",
            "schema version 99 is newer than this journeydsl understands ({current}); "
            "upgrade journeydsl",
        ),
        ("soon", "its schema version 'soon' is not a number: the meta table is damaged"),
    ],
)
def test_a_schema_this_version_cannot_read_is_one_line_and_exit_1(
    capsys: pytest.CaptureFixture[str], files: dict[str, str], version: str, problem: str
) -> None:
    """A state file of a newer schema (or a garbled version) is refused in one line, exit 1,
    and its version is not touched."""
    SQLiteStore(files["db"]).close()
    conn = sqlite3.connect(files["db"])
    with conn:
        conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (version,))
    conn.close()
    code, err = run_cli(capsys, files)
    assert code == 1
    expected = problem.format(current=sqlite_module.SCHEMA_VERSION)
    assert one_line(err) == f"journeydsl: error: {files['db']}: {expected}"
    conn = sqlite3.connect(files["db"])
    assert conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == (
        version,
    )
    conn.close()


def test_a_damaged_page_met_while_running_is_one_line_and_exit_1(
    capsys: pytest.CaptureFixture[str], files: dict[str, str]
) -> None:
    """Garbage over a page in the middle of a valid state file (the processed-event markers):
    the file still opens, the run meets the damage and ends in one line, exit 1."""
    assert run_cli(capsys, files)[0] == 0
    page = _root_page(files["db"], "processed_events")
    assert 1 < page < os.path.getsize(files["db"]) // PAGE
    _overwrite_page(files["db"], page, b"\xff" * PAGE)
    SQLiteStore(files["db"]).close()  # the damage is not where opening looks
    code, err = run_cli(capsys, files)
    assert code == 1
    assert one_line(err) == (
        f"journeydsl: error: {files['db']}: the database is damaged (database disk image is "
        "malformed); restore it from a backup (`journeydsl run --check-db` lists the damage)"
    )


def test_a_database_opened_read_only_is_one_line_and_exit_1(
    capsys: pytest.CaptureFixture[str], files: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A state file SQLite can only open read-only (as it does for a file without write
    permission, or on a read-only mount; here by opening it with mode=ro) ends in one line
    naming the file and the permissions to check, exit 1."""
    assert run_cli(capsys, files)[0] == 0
    connect = sqlite3.connect

    def read_only(database: Any, *args: Any, **kwargs: Any) -> sqlite3.Connection:
        if str(database) == files["db"]:
            database, kwargs["uri"] = f"file:{database}?mode=ro", True
        conn: sqlite3.Connection = connect(database, *args, **kwargs)
        return conn

    monkeypatch.setattr(sqlite3, "connect", read_only)
    code, err = run_cli(capsys, files)
    assert code == 1
    assert one_line(err) == (
        f"journeydsl: error: {files['db']}: the database cannot be written (attempt to write a "
        "readonly database); check the permissions of the file and its folder (SQLite writes "
        "-wal and -shm files next to it) and that the file system is not mounted read-only"
    )


@contextlib.contextmanager
def _unwritable(path: Path) -> Iterator[None]:
    """``path`` made unwritable for this process: chmod 444, or, for root (who writes through
    permissions), the immutable attribute (chattr +i); skips the test where neither works."""
    if os.geteuid() != 0:
        path.chmod(0o444)
        try:
            yield
        finally:
            path.chmod(0o644)
        return
    chattr = shutil.which("chattr")
    if chattr is None:
        pytest.skip("running as root without chattr: no way to make a file unwritable")
    made = subprocess.run([chattr, "+i", str(path)], capture_output=True, check=False)
    if made.returncode != 0:
        pytest.skip(f"chattr +i is not allowed here: {made.stderr.decode().strip()}")
    try:
        yield
    finally:
        subprocess.run([chattr, "-i", str(path)], check=True)


def test_a_database_file_that_cannot_be_written_is_one_line_and_exit_1(
    capsys: pytest.CaptureFixture[str], files: dict[str, str]
) -> None:
    """A real unwritable state file (no write permission, or immutable for root): one line
    naming the file, exit 1; --check-db still reads it."""
    assert run_cli(capsys, files)[0] == 0
    db = Path(files["db"])
    with _unwritable(db):
        code, err = run_cli(capsys, files)
        assert code == 1
        assert one_line(err).startswith(
            f"journeydsl: error: {db}: the database cannot be written (attempt to write a "
            "readonly database)"
        )
        assert check_db(capsys, str(db))[:2] == (0, f"{db}: ok\n")


def test_a_bug_is_not_reported_as_a_storage_error(
    files: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A sqlite3 error the file is not to blame for (a constraint) still raises with its
    traceback: only storage failures become one-line operator errors."""

    def broken(self: SQLiteStore, path: Any, *types: Any) -> Any:
        raise sqlite3.IntegrityError("UNIQUE constraint failed: profiles.customer_id")

    monkeypatch.setattr(SQLiteStore, "load_profiles_jsonl", broken)
    with pytest.raises(sqlite3.IntegrityError, match="UNIQUE"):
        main(["run", *JOURNEYS, "--db", files["db"], "--events", files["events"],
              "--actions", files["actions"], "--profiles", files["profiles"]])  # fmt: skip


def test_storage_error_maps_only_what_the_file_is_to_blame_for(tmp_path: Path) -> None:
    """storage_error turns SQLite's not-a-database, damaged, read-only, unopenable, full and
    locked errors into a StoreUnavailable naming the file, and leaves the rest alone."""
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"\x01" * 8192)
    conn = sqlite3.connect(junk)
    with pytest.raises(sqlite3.DatabaseError) as not_a_database:
        conn.execute("SELECT 1 FROM sqlite_master")
    conn.close()
    mapped = storage_error(str(junk), not_a_database.value)
    assert isinstance(mapped, StoreUnavailable)
    assert mapped.path == str(junk)
    assert str(mapped).startswith(f"{junk}: not a SQLite database (file is not a database)")

    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE t (k TEXT PRIMARY KEY)")
    conn.execute("INSERT INTO t VALUES ('a')")
    with pytest.raises(sqlite3.IntegrityError) as constraint:
        conn.execute("INSERT INTO t VALUES ('a')")
    with pytest.raises(sqlite3.OperationalError) as no_table:
        conn.execute("SELECT * FROM missing")
    conn.close()
    assert storage_error("x", constraint.value) is None
    assert storage_error("x", no_table.value) is None
    assert storage_error("x", StoreThreadError("x", "a", "b")) is None
    assert storage_error("x", ValueError("no")) is None


# --------------------------------------------------------------------------- --check-db


def test_check_db_says_ok_for_a_sound_file_even_while_a_run_holds_it(
    capsys: pytest.CaptureFixture[str], files: dict[str, str]
) -> None:
    """--check-db needs no journeys, events or actions, prints `<db>: ok` and exits 0; it reads
    without the writer lock, so it works while a store holds the file."""
    assert run_cli(capsys, files)[0] == 0
    with SQLiteStore(files["db"]):
        assert check_db(capsys, files["db"]) == (0, f"{files['db']}: ok\n", "")
    assert check_database(files["db"]) == []


def test_check_db_lists_the_damage_of_a_corrupt_file_and_exits_1(
    capsys: pytest.CaptureFixture[str], files: dict[str, str]
) -> None:
    """Garbage inside a page (of an index of the events): --check-db prints SQLite's findings,
    one line each naming the file, and exits 1."""
    assert run_cli(capsys, files)[0] == 0
    page = _root_page(files["db"], "events_window")
    with open(files["db"], "r+b") as f:  # past the page header: the cell pointers go wild
        f.seek((page - 1) * PAGE + 8)
        f.write(bytes((i * 37 + 11) % 256 for i in range(64)))
    code, out, err = check_db(capsys, files["db"])
    assert code == 1
    assert err == ""
    lines = out.splitlines()
    assert lines
    assert all(line.startswith(f"{files['db']}: ") for line in lines)
    assert f"{files['db']}: On tree page {page} cell 0: Offset " in out
    assert f"{files['db']}: row 1 missing from index events_window" in lines
    assert "*** in database main ***" not in out


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (bytes(range(256)) * 40, "not a SQLite database (file is not a database)"),
        (None, "not a journeydsl state file (it has no meta table)"),
    ],
)
def test_check_db_refuses_what_is_not_a_state_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, content: bytes | None, problem: str
) -> None:
    """--check-db on random bytes or on a SQLite file that journeydsl never wrote: one line,
    exit 1."""
    db = tmp_path / "other.sqlite"
    if content is None:
        conn = sqlite3.connect(db)
        conn.execute("CREATE TABLE t (x)")
        conn.close()
    else:
        db.write_bytes(content)
    code, out, _ = check_db(capsys, str(db))
    assert code == 1
    assert out.startswith(f"{db}: {problem}")
    assert out.count("\n") == 1


def test_check_db_on_a_missing_file_and_run_without_journeys_are_usage_errors(
    capsys: pytest.CaptureFixture[str], files: dict[str, str]
) -> None:
    """--check-db on a file that does not exist, and a run without journeys or --actions (which
    only --check-db may leave out), exit 2 with one line."""
    code, out, err = check_db(capsys, files["db"])
    assert (code, out) == (2, "")
    assert err == f"journeydsl: error: {files['db']}: no such file\n"
    assert not Path(files["db"]).exists()
    assert main(["run", "--db", files["db"], "--events", files["events"]]) == 2
    assert capsys.readouterr().err == (
        "journeydsl: error: the following arguments are required: JOURNEY, --actions "
        "(unless --check-db)\n"
    )


def test_run_refuses_another_programs_database_and_leaves_it_untouched(
    capsys: pytest.CaptureFixture[str], files: dict[str, str]
) -> None:
    """A `--db` naming a database of another program (its own tables, no meta table): one line
    naming the file and its tables, exit 1; the file keeps its tables and its journal mode."""
    db = Path(files["db"])
    with contextlib.closing(sqlite3.connect(db)) as conn, conn:
        conn.execute("CREATE TABLE customers (id TEXT PRIMARY KEY)")
    code, err = run_cli(capsys, files)
    assert code == 1
    assert one_line(err) == (
        f"journeydsl: error: {db}: not a journeydsl state file: it holds other tables "
        "(customers) and no meta table; give a new file or a journeydsl state file"
    )
    with contextlib.closing(sqlite3.connect(db)) as conn:
        tables = [n for (n,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        assert (tables, conn.execute("PRAGMA journal_mode").fetchone()[0]) == (
            ["customers"],
            "delete",
        )
