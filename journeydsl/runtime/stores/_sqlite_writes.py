"""The writes of a SQLite store's open transaction, held in memory until the transaction needs
them in the file: the group commit's write batch.

Inside a transaction (a host's :meth:`~journeydsl.runtime.stores.sqlite.SQLiteStore.batch`, or
one the store opened), the rows the engine writes at every step (events, instance rows and their
decision-log chunks, outbox entries and their outcomes, contacts, processed marks, meta) are
collected here, already serialised, and written together, one ``executemany`` a statement,
when the transaction commits, before a savepoint opens, or before any statement that could read
them (the store's connection flushes them first: see
:attr:`~journeydsl.runtime.stores._sqlite_core.StoreCore._conn`). What they change stays exactly
what the statements one by one would have changed:

* a later write of the same instance or outbox entry replaces the earlier one (the last row
  wins, as the upserts do), and an outbox entry inserted twice keeps the first row (``INSERT OR
  IGNORE``);
* an instance whose log is written anew drops the chunks held for it, and its stored chunks are
  deleted before the new ones are written;
* events keep their arrival order (they are always written together, in the order appended), and
  an event appended and marked processed in the same batch is written once, already marked.

A rollback drops them with the transaction (nothing of them was written, or what was is rolled
back with it); a savepoint flushes them first, so that a rollback to it drops exactly the writes
made after it.
"""

from __future__ import annotations

import sqlite3
from typing import Any

__all__ = ["WriteBatch"]

_INSERT_EVENT = (
    "INSERT OR IGNORE INTO events (id, customer_id, type, at_utc, at_iso, data, processed) "
    "VALUES (?, ?, ?, ?, ?, ?, ?)"
)
_INSERT_OUTBOX = (
    "INSERT OR IGNORE INTO outbox (key, kind, customer_id, payload, not_before_utc, "
    "not_before_iso, attempts, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
_INSERT_CONTACT = (
    "INSERT OR IGNORE INTO contacts (key, customer_id, at_utc, at_iso, channel, category, "
    "journey, template) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
_SET_META = (
    "INSERT INTO engine_meta (key, value) VALUES (?, ?) "
    "ON CONFLICT (key) DO UPDATE SET value = excluded.value"
)


class WriteBatch:
    """The rows written in the open transaction and not yet in the file (see the module
    docstring). Every row is as its statement takes it; the store checks that its keys are text
    before it holds a row here (anything else is written at once, as SQLite would convert it)."""

    __slots__ = (
        "chunks",
        "contacts",
        "customers",
        "erase",
        "event_keys",
        "events",
        "flushed",
        "instances",
        "marks",
        "meta",
        "outbox_new",
        "outbox_set",
        "reload_outbox",
        "size",
    )

    def __init__(self) -> None:
        #: Events appended, by id: ``[id, customer, type, at_utc, at_iso, data, processed]``.
        self.events: dict[str, list[Any]] = {}
        #: The (customer, type) pairs of :attr:`events`: reads of other windows need no flush.
        self.event_keys: set[tuple[str, str]] = set()
        #: Events written to the file in this transaction, not marked processed yet.
        self.flushed: set[str] = set()
        #: Events written to the file in this transaction, marked processed since.
        self.marks: dict[str, None] = {}
        #: Instance rows by id (the last written), and their ids by customer.
        self.instances: dict[str, tuple[Any, ...]] = {}
        self.customers: dict[str, dict[str, None]] = {}
        #: Instances whose stored decision log is deleted before their chunks are written.
        self.erase: dict[str, None] = {}
        #: Decision-log chunks ``(instance, n, entries)`` by instance, in the order written.
        self.chunks: dict[str, list[tuple[str, int, str]]] = {}
        #: Outbox rows inserted when new (the first kept), and rows that replace (the last kept).
        self.outbox_new: dict[str, tuple[Any, ...]] = {}
        self.outbox_set: dict[str, tuple[Any, ...]] = {}
        #: Whether an outbox entry was inserted twice (the store's pending index must be reread).
        self.reload_outbox = False
        self.contacts: list[tuple[Any, ...]] = []
        self.meta: dict[str, str] = {}
        #: Rows held (what a flush writes; 0: nothing to flush).
        self.size = 0

    def clear(self) -> None:
        """Drop every row held (the transaction rolled back, or they were written)."""
        self.events.clear()
        self.event_keys.clear()
        self.instances.clear()
        self.customers.clear()
        self.erase.clear()
        self.chunks.clear()
        self.outbox_new.clear()
        self.outbox_set.clear()
        self.contacts.clear()
        self.meta.clear()
        self.size = 0

    def end(self) -> None:
        """The transaction ended (committed or rolled back): forget its events too."""
        self.clear()
        self.flushed.clear()
        self.marks.clear()
        self.reload_outbox = False

    # ------------------------------------------------------------------ what is held

    def event(self, row: list[Any]) -> None:
        """An event appended (not processed yet)."""
        self.events[row[0]] = row
        self.event_keys.add((row[1], row[2]))
        self.size += 1

    def mark(self, event_id: str) -> bool:
        """Mark an event of this transaction processed; False when it is not one (the caller
        marks it in the file)."""
        row = self.events.get(event_id)
        if row is not None:
            row[6] = 1
            return True
        if event_id in self.flushed:
            self.flushed.discard(event_id)
            self.marks[event_id] = None
            self.size += 1
            return True
        return False

    def processed(self, event_id: str) -> bool:
        """Whether an event of this transaction is marked processed here (when not, the file
        may still mark it: in ``processed_events``)."""
        row = self.events.get(event_id)
        return bool(row[6]) if row is not None else event_id in self.marks

    def instance(self, row: tuple[Any, ...], rewrite: bool, chunk: tuple[int, str] | None) -> None:
        """An instance row, its log written anew (``rewrite``) or not, and its new chunk."""
        iid, customer = row[0], row[1]
        before = self.instances.get(iid)
        if before is not None and before[1] != customer:
            self.customers[before[1]].pop(iid, None)
        self.instances[iid] = row
        self.customers.setdefault(customer, {})[iid] = None
        if rewrite:
            self.erase[iid] = None
            self.chunks.pop(iid, None)
        if chunk is not None:
            self.chunks.setdefault(iid, []).append((iid, *chunk))
        self.size += 1

    def outbox(self, row: tuple[Any, ...], replace: bool) -> None:
        """An outbox row: one that replaces the stored entry, or one inserted when new."""
        key = row[0]
        if replace:
            self.outbox_set[key] = row
        elif key in self.outbox_new or key in self.outbox_set:
            self.reload_outbox = True  # (the key is written already: this insert is ignored)
        else:
            self.outbox_new[key] = row
        self.size += 1

    def contact(self, row: tuple[Any, ...]) -> None:
        """A contact (kept once per key)."""
        self.contacts.append(row)
        self.size += 1

    def set_meta(self, rows: list[tuple[str, str]]) -> None:
        """Engine meta (the last value of a key wins)."""
        self.meta.update(rows)
        self.size += 1

    # ------------------------------------------------------------------ writing them

    def flush_events(self, db: sqlite3.Connection) -> None:
        """Write the events held (in the order appended) and the marks of those written
        before."""
        if self.events:
            rows = list(self.events.values())
            db.executemany(_INSERT_EVENT, rows)
            self.flushed.update(row[0] for row in rows if not row[6])
            self.size -= len(rows)
            self.events.clear()
            self.event_keys.clear()
        if self.marks:
            marked = [(event_id,) for event_id in self.marks]
            db.executemany("UPDATE events SET processed = 1 WHERE id = ?", marked)
            self.size -= len(self.marks)
            self.marks.clear()

    def flush(self, db: sqlite3.Connection, upsert_instance: str, upsert_outbox: str) -> bool:
        """Write every row held, in the order the statements one by one would have left them;
        returns whether an outbox insert was ignored (an entry with its key was stored)."""
        self.flush_events(db)
        if self.instances:
            db.executemany(upsert_instance, list(self.instances.values()))
        if self.erase:
            db.executemany("DELETE FROM decisions WHERE instance = ?", [(i,) for i in self.erase])
        if self.chunks:
            db.executemany(
                "INSERT INTO decisions (instance, n, entries) VALUES (?, ?, ?)",
                [chunk for chunks in self.chunks.values() for chunk in chunks],
            )
        ignored = self.reload_outbox
        if self.outbox_new:
            added = db.executemany(_INSERT_OUTBOX, list(self.outbox_new.values())).rowcount
            ignored = ignored or added != len(self.outbox_new)
        if self.outbox_set:
            db.executemany(upsert_outbox, list(self.outbox_set.values()))
        if self.contacts:
            db.executemany(_INSERT_CONTACT, self.contacts)
        if self.meta:
            db.executemany(_SET_META, list(self.meta.items()))
        self.clear()
        self.reload_outbox = False
        return ignored
