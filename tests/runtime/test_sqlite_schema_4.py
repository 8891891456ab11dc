"""The SQLite store's schema 4: decision logs kept in an append-only table, appended to by each
step through live records and read back whole by hosts; processed markers on the event rows; and
the migration of schema-3 files, which kept logs inside the records and markers in a table."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, cast

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from journeydsl.runtime.decisions import LOG_LIMIT, note
from journeydsl.runtime.protocols import LiveRecords, Message
from journeydsl.runtime.records import DecisionEntry
from journeydsl.runtime.stores.sqlite import SCHEMA_VERSION, SQLiteStore
from journeydsl.testing import MemoryStateStore
from tests.runtime.scenario import Run, build, ev, example, local, profile

ICT = timezone(timedelta(hours=7))
T0 = datetime(2026, 1, 5, 10, 0, tzinfo=ICT)


def _record(iid: str, log: list[Any]) -> Any:
    return {
        "format": 1,
        "id": iid,
        "customer_id": "c1",
        "journey": "j",
        "version": 1,
        "status": "waiting",
        "due": T0.isoformat(),
        "vars": {},
        "log": log,
        "wakes": 0,
    }


def _entry(n: int, what: str) -> dict[str, Any]:
    return {"at": (T0 + timedelta(minutes=n)).isoformat(), "node": f"n{n}", "what": what}


def _onboarding(store: SQLiteStore, start: str) -> Run:
    """The onboarding journey on ``store`` (events, profiles and state), its clock at ``start``."""
    return build(
        [example("onboarding_new_cardholder")],
        (),
        start=local(start),
        state=store,
        events=store,
        profile_store=store,
    )


def _chunks(path: Path, iid: str) -> list[tuple[int, str]]:
    with sqlite3.connect(path) as conn:
        return conn.execute(
            "SELECT n, entries FROM decisions WHERE instance = ? ORDER BY n", (iid,)
        ).fetchall()


def test_the_sqlite_store_offers_live_records_and_the_memory_store_does_not() -> None:
    """LiveRecords is the SQLite store's; the memory store keeps whole logs in its records."""
    assert issubclass(SQLiteStore, LiveRecords)
    assert not isinstance(MemoryStateStore(), LiveRecords)


def test_a_step_appends_its_decisions_and_leaves_the_history_alone(tmp_path: Path) -> None:
    """Over the onboarding journey, each step appends one chunk of entries; the chunks written
    before stay byte for byte, the record's row holds no log, and a host reads the whole log."""
    db = tmp_path / "s.sqlite"
    with SQLiteStore(db) as store:
        store.add(profile("c-1"))
        run = _onboarding(store, "2026-01-05 09:00")
        run.engine.ingest(
            ev("c-1", "card_issued", local("2026-01-05 09:00"), card_id="k1", product="gold")
        )
        (iid,) = [i["id"] for i in store.instances_of("c-1")]
        first = _chunks(db, iid)
        run.advance(local("2026-01-20 09:00"))
        later = _chunks(db, iid)
        assert len(later) > len(first) >= 1
        assert later[: len(first)] == first
        whole = store.instance(iid)
        assert whole is not None
        assert whole["log"] == [e for _, text in later for e in json.loads(text)]
        assert [i["log"] for i in store.instances_of("c-1")] == [whole["log"]]
        assert [i["log"] for i in store.all_instances()] == [whole["log"]]
        with sqlite3.connect(db) as conn:
            (text,) = conn.execute("SELECT record FROM instances WHERE id = ?", (iid,)).fetchone()
        assert json.loads(text)["log"] is None
        assert list(whole) == list(json.loads(text))  # the keys read back in their order


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["live", "whole"]),
            st.lists(st.sampled_from(["step", "deliver", "woke"]), max_size=4),
        ),
        min_size=1,
        max_size=8,
    )
)
def test_live_and_whole_commits_keep_the_log_a_host_reads(
    tmp_path_factory: pytest.TempPathFactory, steps: list[tuple[str, list[str]]]
) -> None:
    """Any mix of commits of live records (new entries appended) and of whole records (the log
    written anew, possibly shorter) leaves the log the last commit meant, and a live record
    holds its end from the last entry that is not a delivery's."""
    db = tmp_path_factory.mktemp("log") / "s.sqlite"
    expected: list[dict[str, Any]] = [_entry(0, "enter")]
    n = 1
    with SQLiteStore(db) as store:
        store.commit([_record("i1", list(expected))], [])
        for kind, whats in steps:
            new = [_entry(n + k, w) for k, w in enumerate(whats)]
            n += len(new)
            if kind == "live":
                live = store.live_instance("i1")
                assert live is not None
                assert live["log_from"] + len(live["log"]) == live["log_stored"] == len(expected)
                assert live["log"] == expected[live["log_from"] :]
                assert (
                    not live["log"] or live["log"][0]["what"] != "deliver" or not live["log_from"]
                )
                live["log"].extend(cast(list[DecisionEntry], new))
                expected.extend(new)
                store.commit([live], [])
                store.commit([live], [])  # (again: nothing is appended twice)
            else:
                expected = expected[: len(expected) // 2] + new  # a log written anew
                store.commit([_record("i1", list(expected))], [])
            whole = store.instance("i1")
            assert whole is not None
            assert whole["log"] == expected
    with SQLiteStore(db) as store:
        assert store.instance("i1") == _record("i1", expected)


def test_a_live_record_counts_its_whole_log_against_the_limit(tmp_path: Path) -> None:
    """note() stops at LOG_LIMIT entries of the whole log, not of the end a live record holds."""
    with SQLiteStore(tmp_path / "s.sqlite") as store:
        store.commit([_record("i1", [_entry(k, "step") for k in range(LOG_LIMIT - 1)])], [])
        live = store.live_instance("i1")
        assert live is not None
        assert len(live["log"]) == 1
        note(live, T0, "n", "woke")
        note(live, T0, "n", "woke")  # (beyond the limit: not recorded)
        store.commit([live], [])
        whole = store.instance("i1")
        assert whole is not None
        assert len(whole["log"]) == LOG_LIMIT


def _as_version_3(db: Path) -> None:
    """Turn a current file into what schema 3 wrote: logs inside the records, no decisions
    table, no log columns."""
    with sqlite3.connect(db) as conn:
        logs: dict[str, list[Any]] = {}
        for iid, text in conn.execute("SELECT instance, entries FROM decisions ORDER BY n"):
            logs.setdefault(iid, []).extend(json.loads(text))
        for iid, text in conn.execute("SELECT id, record FROM instances").fetchall():
            record = json.loads(text)
            record["log"] = logs.get(iid, [])
            conn.execute("UPDATE instances SET record = ? WHERE id = ?", (json.dumps(record), iid))
        conn.execute("DROP TABLE decisions")
        conn.execute("ALTER TABLE instances DROP COLUMN log_len")
        conn.execute("ALTER TABLE instances DROP COLUMN tail")
        conn.execute("ALTER TABLE events DROP COLUMN processed")
        conn.execute("UPDATE meta SET value = '3' WHERE key = 'schema_version'")


def test_a_version_3_file_keeps_its_logs_and_resumes(tmp_path: Path) -> None:
    """Opening a schema-3 file moves each record's log into the decisions table; the instance
    then reads the same and resumes to the same messages as the file never migrated."""
    db = tmp_path / "s.sqlite"
    issued = ev("c-1", "card_issued", local("2026-01-05 09:00"), card_id="k1", product="gold")

    def sent(store: SQLiteStore, until: str) -> list[tuple[str, str]]:
        run = _onboarding(store, "2026-01-06 09:00")
        run.advance(local(until))
        seen: list[Message] = [m for c in run.channels.values() for m in c.delivered]
        return sorted((m.template, m.idempotency_key) for m in seen)

    with SQLiteStore(db) as store:
        store.add(profile("c-1"))
        _onboarding(store, "2026-01-05 09:00").engine.ingest(issued)
        before = store.all_instances()
    reference = tmp_path / "ref.sqlite"
    reference.write_bytes(db.read_bytes())
    _as_version_3(db)
    with SQLiteStore(db) as store:
        assert store.schema_version() == SCHEMA_VERSION == 5
        assert store.all_instances() == before
        migrated = sent(store, "2026-01-25 09:00")
    with SQLiteStore(reference) as store:
        assert sent(store, "2026-01-25 09:00") == migrated
    assert migrated  # (the reminders came)


def test_a_stored_events_marker_is_on_its_row_and_others_keep_their_table(tmp_path: Path) -> None:
    """The processed marker of an event the store holds is a column of its row (no row in
    processed_events); a marker of an event kept elsewhere, or a per-journey one, is a row of
    processed_events; both read back, before and after reopening."""
    db = tmp_path / "s.sqlite"
    with SQLiteStore(db) as store:
        store.add(profile("c-1"))
        run = _onboarding(store, "2026-01-05 09:00")
        eid = run.engine.ingest(
            ev("c-1", "card_issued", local("2026-01-05 09:00"), card_id="k1", product="gold")
        ).event_id
        assert store.processed(eid)
        assert not store.processed("elsewhere")
        store.commit([], [], processed_event="elsewhere")
        assert store.processed("elsewhere")
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT id FROM processed_events").fetchall() == [("elsewhere",)]
        assert conn.execute("SELECT processed FROM events WHERE id = ?", (eid,)).fetchone() == (1,)
    with SQLiteStore(db) as store:
        assert store.processed(eid)
        assert store.processed("elsewhere")
        assert not store.processed("never")


def test_a_version_3_files_markers_move_onto_the_event_rows(tmp_path: Path) -> None:
    """Migrating a schema-3 file moves the markers of stored events onto their rows and keeps
    the others; every event processed before is processed after."""
    db = tmp_path / "s.sqlite"
    with SQLiteStore(db) as store:
        store.add(profile("c-1"))
        run = _onboarding(store, "2026-01-05 09:00")
        eid = run.engine.ingest(
            ev("c-1", "card_issued", local("2026-01-05 09:00"), card_id="k1", product="gold")
        ).event_id
    with sqlite3.connect(db) as conn:  # as schema 3 kept them
        conn.execute("INSERT INTO processed_events (id) VALUES (?), ('scoped#j')", (eid,))
        conn.execute("UPDATE events SET processed = 0")
    _as_version_3(db)
    with SQLiteStore(db) as store:
        assert store.processed(eid)
        assert store.processed("scoped#j")
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT id FROM processed_events").fetchall() == [("scoped#j",)]
