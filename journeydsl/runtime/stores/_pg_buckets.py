"""Partitioned ownership in the PostgreSQL store: buckets, leases and fencing.

Every customer belongs to one of a fixed number of **buckets** (:func:`bucket_of`: the first
eight bytes of the SHA-256 of the customer id, as an unsigned number, modulo the count). The
count is chosen when the database is created (``meta`` key ``buckets``, 256 by default) and never
changes: a customer's bucket is written beside their instances, outbox entries and profile, and
the ``journeydsl_bucket(text)`` SQL function computes the same number for producers writing to
the ``inbox`` table.

A worker owns buckets through **leases** (table ``leases``: bucket, owner, epoch, expires_at):
it claims unowned or expired ones with ``SELECT … FOR UPDATE SKIP LOCKED`` up to its fair share
(``ceil(buckets / live workers)``; the ``workers`` table holds one heartbeat row per live
worker), renews them before they expire, gives back what exceeds its share when others join,
and releases them all when it stops. Every claim bumps the bucket's **epoch**. Times are the
server's (``clock_timestamp()``), so the workers' own clocks do not matter.

**Fencing.** While a store holds an :class:`Ownership`, every write of a customer's state (an
event, instance records, outbox entries, a delivery's outcome, a quarantined event) checks,
inside the same transaction and before it commits, that the worker still holds the lease of the
customer's bucket at the epoch it claimed: ``SELECT … FROM leases … FOR SHARE`` on those
buckets, which also keeps a claimer off them until the transaction ends. A worker that was
paused past its lease (a GC pause, SIGSTOP, a network partition) and whose bucket another worker
has claimed since gets :class:`LeaseLostError`; its transaction is rolled back, and the
rejection is counted (``meta`` key ``fencing_rejections``, and :attr:`Ownership.fenced`).

**Scope.** :meth:`PgBuckets.scoped` narrows what the store hands the engine to some buckets:
due timers (indexed by bucket and due time), the pending outbox, the customers (and their time
zones) that segment journeys evaluate, and the engine meta of scheduled segment entries, which
is kept per bucket (``bucket_meta``), so that each bucket's schedule runs once per instant,
whichever worker owns it.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from journeydsl.runtime.stores._pg_core import PgCore

__all__ = [
    "DEFAULT_BUCKETS",
    "LeaseLostError",
    "Ownership",
    "PgBuckets",
    "bucket_function",
    "bucket_of",
]

#: The bucket count of a database created without one being asked for.
DEFAULT_BUCKETS = 256
#: Engine meta keys kept per bucket while the store is scoped to one bucket.
BUCKET_META_PREFIXES = ("segment:",)
#: The ``bucket_meta`` keys of customers whose profiles were given again, to be looked at again
#: by their bucket's owner (:meth:`PgBuckets.note_profiles`): this prefix and the customer id.
PROFILE_GIVEN = "profile_given:"


def bucket_of(customer_id: str, buckets: int) -> int:
    """The bucket of ``customer_id`` among ``buckets``: the first 8 bytes of the SHA-256 of its
    UTF-8 text, big-endian and unsigned, modulo ``buckets`` (stable across processes, machines
    and Python versions; ``journeydsl_bucket(text)`` in SQL gives the same)."""
    digest = hashlib.sha256(customer_id.encode("utf-8", "surrogatepass")).digest()
    return int.from_bytes(digest[:8], "big") % buckets


def bucket_function(buckets: int) -> str:
    """The SQL function ``journeydsl_bucket(text)``: :func:`bucket_of` with this database's
    count (for a text without NUL or U+FFFF, which the store escapes)."""
    return (
        "CREATE OR REPLACE FUNCTION journeydsl_bucket(customer_id text) RETURNS integer "
        "LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$ "
        "SELECT ((('x' || lpad(substr(h, 1, 8), 16, '0'))::bit(64)::bigint::numeric "
        "* 4294967296 + ('x' || lpad(substr(h, 9, 8), 16, '0'))::bit(64)::bigint::numeric) "
        f"% {int(buckets)})::integer "
        "FROM (SELECT encode(sha256(convert_to(customer_id, 'UTF8')), 'hex') AS h) AS d $$"
    )


class LeaseLostError(Exception):
    """A commit was fenced: this worker no longer holds the lease of a bucket it wrote to (it
    expired and another worker claimed it). The transaction was rolled back."""

    def __init__(self, label: str, buckets: Iterable[int]) -> None:
        self.buckets = sorted(buckets)
        shown = ", ".join(map(str, self.buckets[:8])) + (" …" if len(self.buckets) > 8 else "")
        super().__init__(
            f"{label}: fenced: this worker's lease of bucket {shown} was lost (it expired and "
            "another worker claimed it); the commit was rolled back"
        )


@dataclass(slots=True)
class Ownership:
    """What one worker holds: its id, the epoch of each bucket it leases, and counts."""

    worker: str
    #: The buckets leased, with the epoch each was claimed at.
    epochs: dict[int, int] = field(default_factory=dict)
    #: Commits refused by fencing since the worker started.
    fenced: int = 0
    #: Buckets claimed, given back and lost since the worker started.
    claimed: int = 0
    released: int = 0
    lost: int = 0


class PgBuckets(PgCore):
    """Buckets, leases, fencing and the bucket scope of a PostgreSQL store."""

    #: The database's bucket count (set when the store opens it).
    buckets: int = DEFAULT_BUCKETS
    #: The worker this store writes for (None: no leases, no fencing: ``journeydsl run``).
    ownership: Ownership | None = None
    #: The buckets the store's reads are narrowed to (None: all).
    scope: frozenset[int] | None = None
    #: The buckets already checked in the open transaction (their lease rows are share-locked).
    _fenced_ok: set[int]

    def bucket(self, customer_id: str) -> int:
        """The bucket of ``customer_id`` in this database."""
        return bucket_of(customer_id, self.buckets)

    # ------------------------------------------------------------------ scope

    @contextlib.contextmanager
    def scoped(self, buckets: Iterable[int]) -> Iterator[None]:
        """Narrow timers, the outbox, the customers and segment meta to ``buckets`` for the
        block."""
        before, self.scope = self.scope, frozenset(buckets)
        try:
            yield
        finally:
            self.scope = before

    def _in_scope(self, column: str = "bucket") -> tuple[str, list[Any]]:
        """An ``AND`` clause keeping rows of the scoped buckets, and its argument."""
        if self.scope is None:
            return "", []
        return f" AND {column} = ANY(%s)", [sorted(self.scope)]

    def _meta_bucket(self, key: str) -> int | None:
        """The bucket a meta key is kept for (scoped to one bucket, a per-bucket key)."""
        if self.scope is not None and len(self.scope) == 1 and key.startswith(BUCKET_META_PREFIXES):
            return next(iter(self.scope))
        return None

    # ------------------------------------------------------------------ fencing

    def _fence(self, customers: Iterable[str], buckets: Iterable[int] = ()) -> None:
        """Check, in the open transaction, that this worker holds the leases of the buckets of
        ``customers`` (and of ``buckets``) at the epochs it claimed them (share-locking them
        until it ends); raise :class:`LeaseLostError` (counted) otherwise. Nothing to check
        without an ownership."""
        owner = self.ownership
        if owner is None:
            return
        if not self._in_tx():
            self._fenced_ok = set()
        wanted = ({self.bucket(c) for c in customers} | set(buckets)) - self._fenced_ok
        if not wanted:
            return
        rows = self._conn.execute(
            "SELECT bucket, epoch FROM leases WHERE bucket = ANY(%s) AND owner = %s FOR SHARE",
            (sorted(wanted), owner.worker),
        ).fetchall()
        held = {int(b) for b, epoch in rows if owner.epochs.get(int(b)) == int(epoch)}
        lost = wanted - held
        if lost:
            owner.fenced += 1
            for b in lost:
                owner.epochs.pop(b, None)
            raise LeaseLostError(self.path, lost)
        if self._in_tx():
            self._fenced_ok |= wanted

    def _transaction_ended(self) -> None:
        self._fenced_ok = set()

    def count_fenced(self) -> None:
        """Add one to the database's count of fenced commits (after the rollback)."""
        with contextlib.suppress(Exception):
            self._conn.execute(
                "INSERT INTO meta (key, value) VALUES ('fencing_rejections', '1') "
                "ON CONFLICT (key) DO UPDATE SET value = (meta.value::bigint + 1)::text"
            )

    def fencing_rejections(self) -> int:
        """How many commits fencing refused in this database, by every worker."""
        row = self._conn.execute(
            "SELECT value FROM meta WHERE key = 'fencing_rejections'"
        ).fetchone()
        return int(row[0]) if row else 0

    # ------------------------------------------------------------------ leases

    def heartbeat(self, worker: str, ttl: timedelta) -> int:
        """Record ``worker`` as live for ``ttl``; how many workers are live now."""
        self._conn.execute(
            "INSERT INTO workers (id, started_at, expires_at) VALUES "
            "(%s, clock_timestamp(), clock_timestamp() + %s) ON CONFLICT (id) DO UPDATE "
            "SET expires_at = excluded.expires_at",
            (worker, ttl),
        )
        self._conn.execute(
            "DELETE FROM workers WHERE expires_at < clock_timestamp() - interval '1 hour'"
        )
        row = self._conn.execute(
            "SELECT count(*) FROM workers WHERE expires_at > clock_timestamp()"
        ).fetchone()
        return max(1, int(row[0])) if row else 1

    def claim(self, owner: Ownership, ttl: timedelta) -> tuple[set[int], set[int]]:
        """Renew ``owner``'s leases, give back what exceeds its fair share, claim unowned or
        expired buckets up to it (``FOR UPDATE SKIP LOCKED``: a bucket another worker is
        claiming or committing to is skipped this time); returns ``(gained, lost)``."""
        live = self.heartbeat(owner.worker, ttl)
        share = math.ceil(self.buckets / live)
        with self._transaction():
            rows = self._conn.execute(
                "UPDATE leases SET expires_at = clock_timestamp() + %s WHERE owner = %s "
                "RETURNING bucket, epoch",
                (ttl, owner.worker),
            ).fetchall()
            held = {int(b): int(e) for b, e in rows}
            lost = {b for b, e in owner.epochs.items() if held.get(b) != e}
            # (a lease this worker's record does not know, say from before a restart, is kept)
            owner.epochs = held
            extra = sorted(held)[share:]
            if extra:
                self._conn.execute(
                    "UPDATE leases SET owner = NULL, expires_at = NULL "
                    "WHERE bucket = ANY(%s) AND owner = %s",
                    (extra, owner.worker),
                )
                for b in extra:
                    del owner.epochs[b]
                owner.released += len(extra)
            gained: set[int] = set()
            want = share - len(owner.epochs)
            if want > 0:
                rows = self._conn.execute(
                    "UPDATE leases SET owner = %s, epoch = epoch + 1, "
                    "expires_at = clock_timestamp() + %s WHERE bucket IN (SELECT bucket FROM "
                    "leases WHERE owner IS NULL OR expires_at < clock_timestamp() "
                    "ORDER BY bucket LIMIT %s FOR UPDATE SKIP LOCKED) RETURNING bucket, epoch",
                    (owner.worker, ttl, want),
                ).fetchall()
                for b, e in rows:
                    owner.epochs[int(b)] = int(e)
                    gained.add(int(b))
                owner.claimed += len(gained)
        owner.lost += len(lost)
        return gained, lost

    def release_leases(self, owner: Ownership) -> int:
        """Give back every lease of ``owner`` and remove its heartbeat; how many."""
        with self._transaction():
            cur = self._conn.execute(
                "UPDATE leases SET owner = NULL, expires_at = NULL WHERE owner = %s",
                (owner.worker,),
            )
            self._conn.execute("DELETE FROM workers WHERE id = %s", (owner.worker,))
        owner.released += len(owner.epochs)
        owner.epochs = {}
        return int(cur.rowcount)

    def leases(self) -> list[tuple[int, str | None, int, datetime | None]]:
        """Every bucket's lease: ``(bucket, owner, epoch, expires_at)``."""
        rows = self._conn.execute(
            "SELECT bucket, owner, epoch, expires_at FROM leases ORDER BY bucket"
        ).fetchall()
        return [(int(b), o, int(e), t) for b, o, e, t in rows]

    def busy(self, buckets: Iterable[int], now: datetime) -> list[int]:
        """Those of ``buckets`` with work at ``now``: an event in the inbox, a timer due, or a
        pending outbox entry due (what a live worker ticks between full sweeps)."""
        wanted = sorted(buckets)
        rows = self._conn.execute(
            "SELECT bucket FROM inbox WHERE bucket = ANY(%s) UNION "
            "SELECT bucket FROM instances WHERE status = 'waiting' AND due <= %s "
            "AND bucket = ANY(%s) UNION "
            "SELECT bucket FROM outbox WHERE status = 'pending' AND not_before <= %s "
            "AND bucket = ANY(%s)",
            (wanted, now, wanted, now, wanted),
        ).fetchall()
        return sorted(int(b) for (b,) in rows)

    def backlog(self, buckets: Iterable[int]) -> tuple[int, int]:
        """Events waiting in the inbox, and pending outbox entries, of ``buckets``."""
        wanted = sorted(buckets)
        row = self._conn.execute(
            "SELECT (SELECT count(*) FROM inbox WHERE bucket = ANY(%s)), "
            "(SELECT count(*) FROM outbox WHERE status = 'pending' AND bucket = ANY(%s))",
            (wanted, wanted),
        ).fetchone()
        return (int(row[0]), int(row[1])) if row else (0, 0)

    # ------------------------------------------------------------------ bucket clocks

    def bucket_clocks(self) -> dict[int, datetime | None]:
        """The time each bucket's work reached (event-time workers), None where none yet."""
        rows = self._conn.execute("SELECT bucket, clock FROM leases ORDER BY bucket").fetchall()
        return {int(b): datetime.fromisoformat(c) if c else None for b, c in rows}

    def bucket_clocks_of(self, bucket: int) -> datetime | None:
        """The time ``bucket``'s work reached, None when none yet."""
        row = self._conn.execute("SELECT clock FROM leases WHERE bucket = %s", (bucket,)).fetchone()
        return datetime.fromisoformat(str(row[0])) if row and row[0] else None

    def set_bucket_clock(self, bucket: int, at: datetime) -> None:
        """Record that ``bucket``'s work reached ``at`` (never moved back); fenced."""
        with self._transaction():
            self._fence_bucket(bucket)
            self._conn.execute(
                "UPDATE leases SET clock = %s, clock_at = %s WHERE bucket = %s "
                "AND (clock_at IS NULL OR clock_at < %s)",
                (at.isoformat(), at, bucket, at),
            )

    def _fence_bucket(self, bucket: int) -> None:
        owner = self.ownership
        if owner is None:
            return
        row = self._conn.execute(
            "SELECT epoch FROM leases WHERE bucket = %s AND owner = %s FOR SHARE",
            (bucket, owner.worker),
        ).fetchone()
        if row is None or owner.epochs.get(bucket) != int(row[0]):
            owner.fenced += 1
            owner.epochs.pop(bucket, None)
            raise LeaseLostError(self.path, [bucket])

    # ------------------------------------------------------------------ profiles given again

    def note_profiles(self, customers: Iterable[str]) -> int:
        """Note, in one transaction, that the profiles of ``customers`` were given again (a
        profiles file loaded), for the owner of each one's bucket to look at their `entry
        when` conditions again (:meth:`noted_profiles`); how many were noted. A customer noted
        again before being looked at gets a new mark, so a look again that read the older one
        does not take it away."""
        rows = [(self.bucket(c), PROFILE_GIVEN + c) for c in dict.fromkeys(customers)]
        if rows:
            with self._transaction(), self._conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO bucket_meta (bucket, key, value) "
                    "VALUES (%s, %s, gen_random_uuid()::text) "
                    "ON CONFLICT (bucket, key) DO UPDATE SET value = excluded.value",
                    rows,
                )
        return len(rows)

    def noted_profiles(self, buckets: Iterable[int]) -> dict[int, list[tuple[str, str]]]:
        """The customers of ``buckets`` noted by :meth:`note_profiles` and not looked at since,
        by bucket, each with its mark (for :meth:`profiles_looked_at`)."""
        rows = self._conn.execute(
            "SELECT bucket, key, value FROM bucket_meta WHERE bucket = ANY(%s) "
            "AND key >= %s AND key < %s ORDER BY bucket, key",
            (sorted(buckets), PROFILE_GIVEN, PROFILE_GIVEN[:-1] + chr(ord(PROFILE_GIVEN[-1]) + 1)),
        ).fetchall()
        noted: dict[int, list[tuple[str, str]]] = {}
        for bucket, key, mark in rows:
            noted.setdefault(int(bucket), []).append((str(key)[len(PROFILE_GIVEN) :], str(mark)))
        return noted

    def profiles_looked_at(self, bucket: int, noted: Iterable[tuple[str, str]]) -> None:
        """Remove the notes of ``bucket`` that were looked at (each ``(customer, mark)`` as
        :meth:`noted_profiles` gave it; a newer mark stays); fenced on the bucket."""
        rows = [(bucket, PROFILE_GIVEN + customer, mark) for customer, mark in noted]
        with self._transaction():
            self._fence_bucket(bucket)
            with self._conn.cursor() as cur:
                cur.executemany(
                    "DELETE FROM bucket_meta WHERE bucket = %s AND key = %s AND value = %s", rows
                )
