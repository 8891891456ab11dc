"""Cap state is durable: the contact history lives in the state store, is written with the
outbox update in one transaction, and survives an engine restart on SQLite."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from journeydsl.runtime.engine import Engine
from journeydsl.runtime.protocols import Contact, ContactHistory, OutboxEntry
from journeydsl.runtime.stores.sqlite import SCHEMA_VERSION, SQLiteStore
from journeydsl.testing import (
    MemoryEventStore,
    MemoryProfileStore,
    MemoryStateStore,
    SteppableClock,
)
from tests.runtime.policies.harness import compile_journey, harness, local, policies, profile
from tests.runtime.policies.test_caps import CAP_3_PER_DAY, OFFER_PER_TXN
from tests.runtime.scenario import txn


def _sqlite_run(path: Path, *times: str, until: str) -> list[str]:
    """A fresh engine on the SQLite file at ``path`` (the stores persist between calls)."""
    store = SQLiteStore(path)
    try:
        h = harness(
            [compile_journey(OFFER_PER_TXN)],
            [profile("c1")],
            start=local(times[0]),
            policy=policies(CAP_3_PER_DAY),
            state=store,
            events=store,
            profile_store=store,
        )
        h.feed([txn("c1", local(t), 100_000) for t in times])
        h.advance(local(until))
        return h.times("c1")
    finally:
        store.close()


def test_cap_state_survives_an_engine_restart_on_sqlite(tmp_path: Path) -> None:
    """Three SMS, a restart, a 4th: the new engine defers it to 24h after the first."""
    db = tmp_path / "state.sqlite"
    first = _sqlite_run(
        db, "2026-01-05 09:00", "2026-01-05 10:00", "2026-01-05 11:00", until="2026-01-05 12:00"
    )
    assert first == ["2026-01-05 09:00", "2026-01-05 10:00", "2026-01-05 11:00"]
    second = _sqlite_run(db, "2026-01-05 13:00", until="2026-01-07 00:00")
    assert second == ["2026-01-06 09:00"]  # the channels are new: only this run's delivery
    with sqlite3.connect(db) as conn:
        (n,) = conn.execute("SELECT count(*) FROM contacts WHERE customer_id = 'c1'").fetchone()
    assert n == 4


def test_a_pending_deferral_survives_a_restart(tmp_path: Path) -> None:
    """A message deferred by the cap before a restart is delivered by the next engine on time."""
    db = tmp_path / "state.sqlite"
    times = ["2026-01-05 09:00", "2026-01-05 10:00", "2026-01-05 11:00", "2026-01-05 12:00"]
    assert _sqlite_run(db, *times, until="2026-01-05 13:00") == times[:3]
    store = SQLiteStore(db)
    try:
        h = harness(
            [compile_journey(OFFER_PER_TXN)],
            [],
            start=local("2026-01-05 13:00"),
            policy=policies(CAP_3_PER_DAY),
            state=store,
            events=store,
            profile_store=store,
        )
        h.advance(local("2026-01-07 00:00"))
        assert h.times("c1") == ["2026-01-06 09:00"]
    finally:
        store.close()


@pytest.fixture(params=["memory", "sqlite"])
def history(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ContactHistory]:
    """Both built-in state stores, as contact histories."""
    if request.param == "memory":
        yield MemoryStateStore()
        return
    store = SQLiteStore(tmp_path / "h.sqlite")
    yield store
    store.close()


def _entry(key: str) -> OutboxEntry:
    return OutboxEntry(key, "send", "c1", {"index": 0}, local("2026-01-05 10:00"))


def test_contacts_are_kept_once_per_key_and_read_from_a_time(history: ContactHistory) -> None:
    """record_delivery stores a contact once per key; contacts(since) is inclusive, by time."""
    state = history
    base = local("2026-01-05 10:00")
    for i, key in enumerate(["k1", "k2", "k1"]):
        entry = _entry(key)
        state.commit([], [entry])  # type: ignore[attr-defined]
        entry.status = "done"
        contact = Contact(key, "c1", base + timedelta(hours=i), "sms", "marketing", "j", "t")
        state.record_delivery(entry, contact)
    found = state.contacts("c1", base)
    assert [(c.key, c.at) for c in found] == [("k1", base), ("k2", base + timedelta(hours=1))]
    assert [c.key for c in state.contacts("c1", base + timedelta(hours=1))] == ["k2"]
    assert state.contacts("c2", base) == []
    assert [e.status for e in state.pending_outbox(base)] == []  # type: ignore[attr-defined]


def test_record_delivery_is_all_or_nothing(history: ContactHistory) -> None:
    """An instance record that cannot be stored leaves the outbox and the history untouched."""
    state = history
    entry = _entry("k1")
    state.commit([], [entry])  # type: ignore[attr-defined]
    entry.status = "done"
    contact = Contact("k1", "c1", local("2026-01-05 10:00"), "sms", "marketing", "j", "t")
    bad: Any = {"id": "i1", "customer_id": "c1", "journey": "j", "version": 1, "status": "ended"}
    bad["log"] = [{"oops": object()}]
    with pytest.raises(TypeError):
        state.record_delivery(entry, contact, bad)
    assert state.contacts("c1", local("2026-01-01 00:00")) == []
    assert [e.key for e in state.pending_outbox(local("2026-01-06 00:00"))] == ["k1"]  # type: ignore[attr-defined]


def test_a_version_1_file_gains_the_contacts_table(tmp_path: Path) -> None:
    """Opening a schema-1 file migrates it to the current schema with a contacts table."""
    db = tmp_path / "old.sqlite"
    SQLiteStore(db).close()
    with sqlite3.connect(db) as conn:
        conn.execute("DROP TABLE contacts")
        conn.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    with SQLiteStore(db) as store:
        assert store.schema_version() == SCHEMA_VERSION == 5
        assert store.contacts("c1", local("2026-01-01 00:00")) == []


def test_policies_need_a_store_with_a_contact_history() -> None:
    """A host state store without contacts()/record_delivery() is refused up front."""

    class Bare:
        def __init__(self) -> None:
            self.inner = MemoryStateStore()

        def __getattr__(self, name: str) -> object:
            if name in ("contacts", "record_delivery"):
                raise AttributeError(name)
            return getattr(self.inner, name)

    with pytest.raises(TypeError, match="contact history"):
        Engine(
            [],
            events=MemoryEventStore(),
            profiles=MemoryProfileStore(),
            state=Bare(),  # type: ignore[arg-type]
            clock=SteppableClock(local("2026-01-05 00:00")),
            policies=policies(CAP_3_PER_DAY),
        )
