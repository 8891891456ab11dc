"""One writer per SQLite database and one thread per store: the writer lock of SQLiteStore, its
take-over after a crash, concurrent `journeydsl run`s on one file, and use from a second thread."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from journeydsl.runtime.protocols import OutboxEntry, Profile
from journeydsl.runtime.stores._sqlite_guards import WriterLock
from journeydsl.runtime.stores.sqlite import (
    DatabaseInUse,
    SQLiteStore,
    StoreThreadError,
    StoreUnavailable,
)
from tests.runtime.test_run_cli import JOURNEYS, crash_stream, jsonl

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)


def _lock_holder(lock: Path) -> dict[str, Any]:
    return dict(json.loads(lock.read_text(encoding="utf-8")))


# --------------------------------------------------------------------------- one writer per file


def test_a_second_store_on_the_same_file_is_refused_until_the_first_closes(
    tmp_path: Path,
) -> None:
    """A second writable store on an open file raises DatabaseInUse naming the holder (this
    process) and the rule; once the first closes, the file opens again."""
    path = tmp_path / "state.sqlite"
    with SQLiteStore(path) as first:
        first.add(Profile("c1"))
        with pytest.raises(DatabaseInUse) as refused:
            SQLiteStore(path)
        assert refused.value.pid == os.getpid()
        assert str(refused.value).startswith(
            f"{path} is in use by another SQLiteStore of this process (pid {os.getpid()}, since "
        )
        assert "one writer per SQLite database — use PostgreSQL for many workers" in str(
            refused.value
        )
        assert isinstance(refused.value, StoreUnavailable)
        assert _lock_holder(tmp_path / "state.sqlite.lock")["pid"] == os.getpid()
        assert first.customers() == ["c1"]  # the refusal did not disturb the holder
    with SQLiteStore(path) as again:
        assert again.customers() == ["c1"]


def test_another_spelling_of_the_path_is_the_same_lock(tmp_path: Path) -> None:
    """A relative path or a symbolic link to the file names the same lock as the absolute path."""
    path = tmp_path / "state.sqlite"
    (tmp_path / "link.sqlite").symlink_to(path)
    with SQLiteStore(path):
        with pytest.raises(DatabaseInUse):
            SQLiteStore(tmp_path / "link.sqlite")
        with pytest.raises(DatabaseInUse):
            SQLiteStore(os.path.relpath(path))
    assert not (tmp_path / "link.sqlite.lock").exists()


def test_a_refused_store_leaves_the_file_untouched(tmp_path: Path) -> None:
    """A store refused the lock does not open the database at all: a file that is not even a
    database is refused as in use, not as damaged, and stays byte for byte as it was."""
    path = tmp_path / "state.sqlite"
    path.write_bytes(b"not a database, and nobody may touch it")
    held = WriterLock.take(str(path))  # the lock a writer holds (no store can open this file)
    assert held is not None
    try:
        with pytest.raises(DatabaseInUse):
            SQLiteStore(path)
    finally:
        held.release()
    assert path.read_bytes() == b"not a database, and nobody may touch it"
    assert not (tmp_path / "state.sqlite-wal").exists()


def test_memory_databases_take_no_lock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two `:memory:` stores open side by side and no lock file is written."""
    monkeypatch.chdir(tmp_path)
    with SQLiteStore(":memory:") as a, SQLiteStore(":memory:") as b:
        a.add(Profile("c1"))
        assert list(b.customers()) == []
    assert list(tmp_path.iterdir()) == []


def test_read_only_stores_read_beside_the_writer_without_the_lock(tmp_path: Path) -> None:
    """Any number of `readonly=True` stores open while the writer holds the file; they see its
    commits and cannot write."""
    path = tmp_path / "state.sqlite"
    with SQLiteStore(path) as writer:
        writer.commit([], [OutboxEntry("k1", "send", "c1", {}, T0)])
        with (
            SQLiteStore(path, readonly=True) as reader,
            SQLiteStore(path, readonly=True) as other,
        ):
            assert [e.key for e in reader.outbox()] == ["k1"] == [e.key for e in other.outbox()]
            writer.commit([], [OutboxEntry("k2", "send", "c1", {}, T0)])
            assert [e.key for e in reader.outbox()] == ["k1", "k2"]
            with pytest.raises(sqlite3.OperationalError, match="readonly"):
                reader.add(Profile("c1"))
        with pytest.raises(DatabaseInUse):
            SQLiteStore(path)


def test_a_read_only_store_neither_creates_nor_migrates(tmp_path: Path) -> None:
    """A read-only store on a missing file or one without the current schema is refused with a
    reason, and the file is not created."""
    missing = tmp_path / "missing.sqlite"
    with pytest.raises(StoreUnavailable, match="cannot open the database file"):
        SQLiteStore(missing, readonly=True)
    assert not missing.exists()
    empty = tmp_path / "empty.sqlite"
    sqlite3.connect(empty).close()
    with pytest.raises(StoreUnavailable, match="schema version 0 is older"):
        SQLiteStore(empty, readonly=True)


_HOLDER = """
import sys, time
from journeydsl.runtime.stores.sqlite import SQLiteStore
store = SQLiteStore(sys.argv[1])
print("holding", flush=True)
time.sleep(120)
"""


def test_the_lock_of_a_killed_process_is_taken_over(tmp_path: Path) -> None:
    """While another process holds the file, opening it names that process; once it is killed
    with SIGKILL (no clean-up ran), the lock file it left is simply taken over."""
    path = tmp_path / "state.sqlite"
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(path)], stdout=subprocess.PIPE, text=True, cwd=ROOT
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline() == "holding\n"
        with pytest.raises(DatabaseInUse) as refused:
            SQLiteStore(path)
        assert refused.value.pid == holder.pid
        assert f"in use by another journeydsl process (pid {holder.pid}, since " in str(
            refused.value
        )
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
        if holder.stdout is not None:
            holder.stdout.close()
    assert _lock_holder(tmp_path / "state.sqlite.lock")["pid"] == holder.pid  # stale content
    with SQLiteStore(path) as store:
        assert store.schema_version() >= 1
        assert _lock_holder(tmp_path / "state.sqlite.lock")["pid"] == os.getpid()
    assert (tmp_path / "state.sqlite.lock").read_text(encoding="utf-8") == ""  # released


# --------------------------------------------------------------------------- concurrent runs


def _run_command(tmp: Path, db: Path, events: str, actions: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "journeydsl",
        "run",
        *JOURNEYS,
        "--db",
        str(db),
        "--events",
        events,
        "--actions",
        str(actions),
        "--profiles",
        str(tmp / "profiles.jsonl"),
        "--now",
        "2026-03-15T00:00:00+07:00",
    ]


@pytest.mark.parametrize("runs", [2, 4])
def test_concurrent_runs_on_one_database_one_writes_the_others_are_refused(
    tmp_path: Path, runs: int
) -> None:
    """N `journeydsl run`s started together on one state file and one actions file: exactly one
    runs (exit 0), every other exits 2 at once with the one-line in-use message, and the actions
    file is exactly the one of a single run. (The runs read their events from stdin, so the one
    holding the file waits for them while the others try it: no run can finish before another
    starts, whatever the machine's load.)"""
    events, profiles = crash_stream(customers=12)
    stream = jsonl(tmp_path / "events.jsonl", events)
    jsonl(tmp_path / "profiles.jsonl", profiles)
    reference = tmp_path / "reference.jsonl"
    single = _run_command(tmp_path, tmp_path / "reference.sqlite", str(stream), reference)
    done = subprocess.run(single, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    expected = reference.read_text(encoding="utf-8").splitlines()
    assert len(expected) > 20

    db, actions = tmp_path / "state.sqlite", tmp_path / "actions.jsonl"
    command = _run_command(tmp_path, db, "-", actions)
    procs = [
        subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        for _ in range(runs)
    ]
    try:
        deadline = time.monotonic() + 60
        while sum(p.poll() is not None for p in procs) < runs - 1:
            assert time.monotonic() < deadline, "the refused runs did not exit"
            time.sleep(0.02)
        (writer,) = [p for p in procs if p.poll() is None]
        _, writer_err = writer.communicate(stream.read_text(encoding="utf-8"), timeout=300)
        assert writer.returncode == 0, writer_err
        for refused in (p for p in procs if p is not writer):
            out, err = refused.communicate(timeout=60)
            assert refused.returncode == 2
            assert out == ""
            assert err.count("\n") == 1, err  # one line, no traceback
            assert err.startswith(
                f"journeydsl: error: {db} is in use by another journeydsl process "
                f"(pid {writer.pid}, since "
            )
            assert err.endswith(
                "; one writer per SQLite database — use PostgreSQL for many workers\n"
            )
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
            p.communicate()  # (and its pipes closed, even when an assertion failed above)
    got = actions.read_text(encoding="utf-8").splitlines()
    assert Counter(got) == Counter(expected)
    assert len({json.loads(line)["key"] for line in got}) == len(got)


# --------------------------------------------------------------------------- one thread per store


def _in_thread(call: Any) -> BaseException | None:
    caught: list[BaseException] = []

    def target() -> None:
        try:
            call()
        except BaseException as exc:
            caught.append(exc)

    thread = threading.Thread(target=target, name="handler-1")
    thread.start()
    thread.join()
    return caught[0] if caught else None


def test_a_store_used_from_another_thread_raises_naming_the_rule(tmp_path: Path) -> None:
    """A call from a thread other than the opener's, including one the store would answer from
    its caches, raises StoreThreadError naming both threads and what to do; the store goes on
    working in its own thread."""
    with SQLiteStore(tmp_path / "state.sqlite") as store:
        store.add(Profile("c1", {"segment": "mass"}))
        with store.batch():
            store.get("c1")  # cached, and answered without SQLite inside the transaction
            store.next_due()
            for call in (
                lambda: store.get("c1"),
                store.next_due,
                lambda: store.add(Profile("c2")),
                store.close,
            ):
                failure = _in_thread(call)
                assert isinstance(failure, StoreThreadError)
                assert isinstance(failure, sqlite3.ProgrammingError)  # as before, for old handlers
                message = str(failure)
                assert message.startswith("SQLiteStore is single-threaded: ")
                assert "opened in thread 'MainThread'" in message
                assert "used from thread 'handler-1'" in message
                assert "ThreadPoolExecutor(max_workers=1)" in message
                assert "readonly=True" in message
        assert store.get("c1").attributes == {"segment": "mass"}
        assert list(store.customers()) == ["c1"]


def test_every_public_store_method_checks_its_thread() -> None:
    """Each public method of SQLiteStore goes through the thread check (a method added later is
    covered without anyone remembering to)."""
    import inspect

    public = [
        name
        for name, value in vars(SQLiteStore).items()
        if not name.startswith("_") and inspect.isfunction(value)
    ]
    assert {"get", "commit", "aggregate", "batch", "close"} <= set(public)
    assert [n for n in public if not hasattr(getattr(SQLiteStore, n), "__wrapped__")] == []


def test_the_thread_check_keeps_signatures_and_defaults(tmp_path: Path) -> None:
    """The checked methods take the same arguments, by position or by name, with the same
    defaults, as the methods they wrap."""
    import inspect

    for name in ("pending_outbox", "commit", "due", "record_delivery"):
        checked = getattr(SQLiteStore, name)
        assert inspect.signature(checked) == inspect.signature(checked.__wrapped__)
    with SQLiteStore(tmp_path / "s.sqlite") as store:
        store.commit([], [OutboxEntry("k1", "send", "c1", {}, T0)], None, meta={"m": "1"})
        assert [e.key for e in store.pending_outbox(T0 + timedelta(hours=1))] == ["k1"]
        assert store.pending_outbox(now=T0 + timedelta(hours=1), limit=0) == []
        assert store.get_meta("m") == "1"
