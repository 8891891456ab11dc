"""The profiles of the SQLite store (:class:`~journeydsl.runtime.protocols.ProfileStore`), with
the cache of profiles read and the loading of a profiles file that leaves unchanged lines alone."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from journeydsl.expr.types import Type
from journeydsl.runtime.codec import decode_map
from journeydsl.runtime.profiles import ProfilesLoaded, read_profiles_jsonl
from journeydsl.runtime.protocols import Profile
from journeydsl.runtime.stores._sqlite_core import StoreCore
from journeydsl.runtime.stores._sqlite_rows import _dump_values, _profile_hash

__all__ = ["PROFILE_CACHE", "ProfilesPart"]

#: Profiles a store keeps in memory between reads (see :meth:`ProfilesPart.get`).
PROFILE_CACHE = 50_000


class ProfilesPart(StoreCore):
    """The :class:`~journeydsl.runtime.protocols.ProfileStore` part of
    :class:`~journeydsl.runtime.stores.sqlite.SQLiteStore` (the ``profiles`` table)."""

    def get(self, customer_id: str) -> Profile:
        """The profile; an unknown customer gets a default one (no consent, default zone).

        The engine reads a profile for every event and every delivery, so profiles read are
        kept (up to :data:`PROFILE_CACHE` of them) until this store writes them, a transaction
        rolls back, or another connection commits to the file (``PRAGMA data_version``)."""
        self._fresh()
        cache = self._profile_cache
        found = cache.get(customer_id)
        if found is not None:
            return found
        row = self._db.execute(  # (no write held is a profile's)
            "SELECT attributes, consent, timezone, tags FROM profiles WHERE customer_id = ?",
            (customer_id,),
        ).fetchone()
        if row is None:
            profile = Profile(customer_id, known=False)
        else:
            attributes, consent, tz, tags = row
            profile = Profile(
                customer_id,
                decode_map(json.loads(attributes)),
                json.loads(consent),
                tz,
                frozenset(json.loads(tags)),
            )
        if len(cache) >= PROFILE_CACHE:
            del cache[next(iter(cache))]  # the oldest
        cache[customer_id] = profile
        return profile

    def _put(self, db: sqlite3.Connection, p: Profile, source_hash: str | None = None) -> None:
        self._profile_cache.pop(p.customer_id, None)
        self._timezones = None
        db.execute(
            "INSERT INTO profiles (customer_id, attributes, consent, timezone, tags, source_hash) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (customer_id) DO UPDATE SET "
            "attributes = excluded.attributes, consent = excluded.consent, "
            "timezone = excluded.timezone, tags = excluded.tags, "
            "source_hash = coalesce(excluded.source_hash, profiles.source_hash)",
            (
                p.customer_id,
                _dump_values(p.attributes),
                json.dumps(dict(p.consent), sort_keys=True),
                p.timezone,
                json.dumps(sorted(p.tags), ensure_ascii=False),
                source_hash,
            ),
        )

    def add(self, profile: Profile) -> None:
        """Add or replace a profile."""
        self.add_profiles([profile])

    def add_profiles(self, profiles: Iterable[Profile]) -> int:
        """Add or replace profiles in one transaction; returns how many."""
        n = 0
        with self._transaction() as db:
            for p in profiles:
                self._put(db, p)
                n += 1
        return n

    def update(self, customer_id: str, attribute: str, value: Any) -> None:
        """Set one attribute (an unknown customer becomes known, as in memory)."""
        with self._transaction():
            p = self.get(customer_id)
            attributes = {**p.attributes, attribute: value}
            self._put(self._conn, Profile(customer_id, attributes, p.consent, p.timezone, p.tags))

    def tag(self, customer_id: str, tag: str, remove: bool = False) -> None:
        """Add or remove a tag."""
        with self._transaction():
            p = self.get(customer_id)
            tags = p.tags - {tag} if remove else p.tags | {tag}
            self._put(self._conn, Profile(customer_id, p.attributes, p.consent, p.timezone, tags))

    def customers(self) -> Iterable[str]:
        """Every known customer, in the order they became known."""
        return [c for (c,) in self._conn.execute("SELECT customer_id FROM profiles ORDER BY seq")]

    def timezones(self) -> set[str]:
        """The distinct time zones of known customers (kept until a profile is written here, a
        transaction rolls back, or another connection commits to the file: segment journeys
        ask at every ``next_wakeup``)."""
        self._fresh()
        if self._timezones is None:
            rows = self._conn.execute("SELECT DISTINCT timezone FROM profiles")
            self._timezones = frozenset(tz for (tz,) in rows)
        return set(self._timezones)

    def load_profiles_jsonl(
        self, path: str | Path, attribute_types: Mapping[str, Type] | None = None
    ) -> ProfilesLoaded:
        """Load a profiles JSON Lines file (the DESIGN.md profile contract) in one transaction.

        Returns ``(loaded, problems, customers)`` (:class:`ProfilesLoaded`): ``customers`` are
        the customers of the lines loaded, in file order; each problem is ``file:line: reason``
        and its line is skipped (with ``attribute_types``, the catalogs' attributes, a line
        whose declared attribute has another type is such a problem). A profile whose line is
        unchanged since it was last loaded is left alone, so re-running a load (e.g. when a run
        resumes) keeps the attributes and tags journeys have set since; a changed line replaces
        the profile.
        """
        problems: list[str] = []
        customers: list[str] = []
        lines = list(read_profiles_jsonl(path, attribute_types))
        with self._transaction() as db:
            for item in lines:
                if item.profile is None:
                    problems.append(f"{path}:{item.line}: {item.error}")
                    continue
                digest = _profile_hash(item.profile)
                row = db.execute(
                    "SELECT source_hash FROM profiles WHERE customer_id = ?",
                    (item.profile.customer_id,),
                ).fetchone()
                if row is None or row[0] != digest:
                    self._put(db, item.profile, digest)
                customers.append(item.profile.customer_id)
        return ProfilesLoaded(len(customers), problems, customers)
