"""Group commit (GroupCommit): over a store that can make several commits one transaction, the
engine writes one step of work as one transaction, and effects leave only after it."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

from journeydsl.expr.context import EventRecord
from journeydsl.runtime.protocols import GroupCommit, Message, OutboxEntry
from journeydsl.runtime.records import InstanceRecord
from journeydsl.runtime.stores.sqlite import SQLiteStore
from journeydsl.testing import MemoryEventStore, MemoryStateStore
from tests.runtime.scenario import build, ev, example, local, profile

_CARD_ISSUED = ev("c-1", "card_issued", local("2026-01-05 09:00"), card_id="k1", product="gold")


class Journal:
    """What happened, in order: ("begin"|"end", depth), ("append", type), ("commit", n),
    ("send", template)."""

    def __init__(self) -> None:
        self.entries: list[tuple[str, Any]] = []
        self.depth = 0


class GroupingState(MemoryStateStore):
    """A memory store that journals its batches and commits."""

    def __init__(self, journal: Journal) -> None:
        super().__init__()
        self.journal = journal

    @contextlib.contextmanager
    def step(self) -> Iterator[None]:
        self.journal.depth += 1
        self.journal.entries.append(("begin", self.journal.depth))
        try:
            yield
        finally:
            self.journal.entries.append(("end", self.journal.depth))
            self.journal.depth -= 1

    def commit(
        self,
        instances: Sequence[InstanceRecord],
        outbox: Sequence[OutboxEntry],
        processed_event: str | None = None,
        meta: Any = None,
    ) -> None:
        self.journal.entries.append(("commit", self.journal.depth))
        super().commit(instances, outbox, processed_event, meta)


class JournalledEvents(MemoryEventStore):
    def __init__(self, journal: Journal) -> None:
        super().__init__()
        self.journal = journal

    def append(self, event_id: str, event: EventRecord) -> bool:
        self.journal.entries.append(("append", self.journal.depth))
        return super().append(event_id, event)


def _onboarding(journal: Journal) -> Any:
    run = build(
        [example("onboarding_new_cardholder")],
        [profile("c-1")],
        start=local("2026-01-05 09:00"),
        state=GroupingState(journal),
        events=JournalledEvents(journal),
    )
    for channel in run.channels.values():
        send = channel.send

        def journalled(message: Message, send: Any = send) -> Any:
            journal.entries.append(("send", journal.depth))
            return send(message)

        channel.send = journalled  # type: ignore[method-assign]
    return run


def test_an_event_is_one_transaction_and_its_messages_leave_after_it() -> None:
    """ingest: the event's append and the step's commit happen inside one batch; the welcome
    e-mail is handed to the channel only once the batch has ended, inside the delivery round's
    own transaction (which saves its outcome)."""
    journal = Journal()
    run = _onboarding(journal)
    run.engine.ingest(_CARD_ISSUED)
    kinds = [(what, depth) for what, depth in journal.entries]
    assert kinds == [
        *[("begin", 1), ("append", 1), ("commit", 1), ("end", 1)],
        *[("begin", 1), ("send", 1), ("end", 1)],
    ]


def _transactions(entries: list[tuple[str, Any]]) -> list[list[str]]:
    """The journal cut into its outermost transactions: what happened inside each."""
    found: list[list[str]] = []
    for what, depth in entries:
        if what == "begin" and depth == 1:
            found.append([])
        elif what != "end" and depth >= 1:
            found[-1].append(what)
    return found


def test_every_timer_due_at_a_tick_is_one_transaction() -> None:
    """tick: the instances whose timers are due commit inside one batch, and their messages
    leave after it."""
    journal = Journal()
    run = _onboarding(journal)
    run.engine.ingest(_CARD_ISSUED)
    journal.entries.clear()
    run.advance(local("2026-01-05 09:00") + timedelta(days=3, hours=1))
    assert ("send", 1) in journal.entries
    assert all(depth == 1 for what, depth in journal.entries if what == "commit")
    # Messages leave in a transaction of their own, after the one that committed the timers.
    transactions = _transactions(journal.entries)
    assert transactions[0]
    assert set(transactions[0]) == {"commit"}
    assert all("commit" not in t for t in transactions if "send" in t)


def test_the_sqlite_store_groups_commits_and_a_memory_store_does_not_need_to(
    tmp_path: Path,
) -> None:
    """The SQLite store offers step() (GroupCommit); the memory store does not, and the engine
    runs over it as before."""
    with SQLiteStore(tmp_path / "s.sqlite") as store:
        assert isinstance(store, GroupCommit)
    assert not isinstance(MemoryStateStore(), GroupCommit)


def _traced(store: SQLiteStore) -> tuple[Any, list[str]]:
    """The onboarding journey over ``store``, and the list its SQL statements go to."""
    store.add(profile("c-1"))
    run = build(
        [example("onboarding_new_cardholder")],
        (),
        start=local("2026-01-05 09:00"),
        state=store,
        events=store,
        profile_store=store,
    )
    statements: list[str] = []
    store._conn.set_trace_callback(statements.append)
    return run, statements


def test_on_sqlite_an_event_costs_one_write_transaction(tmp_path: Path) -> None:
    """On the SQLite store, ingesting card_issued (the event's append and the step's commit)
    opens one write transaction, and the welcome e-mail leaves after it."""
    with SQLiteStore(tmp_path / "s.sqlite") as store:
        run, statements = _traced(store)
        email = run.channels["email"]
        send = email.send

        def marked(message: Message) -> Any:
            statements.append("-- send")
            return send(message)

        email.send = marked
        run.engine.ingest(_CARD_ISSUED)
        before_send = statements[: statements.index("-- send")]
        # The step's transaction, then the delivery round's (which saves the outcome).
        assert [s for s in before_send if s.startswith(("BEGIN", "COMMIT"))] == [
            "BEGIN IMMEDIATE",
            "COMMIT",
            "BEGIN IMMEDIATE",
        ]
        writes = [i for i, s in enumerate(before_send) if s.startswith(("INSERT", "UPDATE"))]
        assert writes  # the event, the instance, the outbox entry, the marker
        assert before_send.index("BEGIN IMMEDIATE") < writes[0]
        assert writes[-1] < before_send.index("COMMIT")
        after_send = statements[statements.index("-- send") :]
        assert [s for s in after_send if s.startswith(("BEGIN", "COMMIT"))] == ["COMMIT"]


def test_inside_a_host_batch_a_step_adds_no_savepoint(tmp_path: Path) -> None:
    """Within the host's store.batch(), an event's step joins the open transaction without a
    savepoint: its writes are held and written with the batch, just before its COMMIT."""
    with SQLiteStore(tmp_path / "s.sqlite") as store:
        run, statements = _traced(store)
        with store.batch():
            run.engine.ingest(_CARD_ISSUED)
        # The host's batch, then the deliveries that waited for it, in one transaction.
        assert [s for s in statements if s.startswith("BEGIN")] == ["BEGIN IMMEDIATE"] * 2
        assert [s for s in statements if s.startswith("SAVEPOINT")] == []
        # (the instance, its log and its outbox entry: together, just before the COMMIT)
        commit = statements.index("COMMIT")
        kinds: tuple[str, ...] = ("INSERT INTO instances", "DELETE FROM decisions")
        kinds += ("INSERT INTO decisions", "INSERT OR IGNORE INTO outbox")
        first = min(i for i, t in enumerate(statements) if t.startswith(kinds))
        assert [t.split(" (")[0].split(" WHERE")[0] for t in statements[first:commit]] == [*kinds]
