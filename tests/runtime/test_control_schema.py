"""The control tables in the stores' versioned schemas: a SQLite file of schema 4 and a
PostgreSQL database of schema 2 gain them when opened or migrated, keep what they held, and a
journey in them can then be paused, resumed and audited."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from journeydsl.cli import main
from journeydsl.runtime import control
from journeydsl.runtime.stores.sqlite import SCHEMA_VERSION, SQLiteStore
from tests.runtime.scenario import build, ev, local, profile
from tests.runtime.test_control import NUDGES

_TABLES = ("journey_control", "control_audit", "held_events")


def _one_instance(store: object) -> None:
    store.add(profile("c1"))  # type: ignore[attr-defined]
    r = build([NUDGES], [], start=local("2026-01-05 10:00"), state=store, events=store,  # type: ignore[arg-type]
              profile_store=store)  # type: ignore[arg-type]  # fmt: skip
    r.engine.ingest(ev("c1", "card_issued", local("2026-01-05 10:00"), card_id="K", product="x"))


def _round_trip(store: object) -> None:
    """Pause, resume with extend, and read the audit back."""
    at = local("2026-01-06 10:00")
    control.pause(store, "nudges", by="ops", now=at)
    assert control.states(store)["nudges"].state == "paused"
    done = control.resume(store, "nudges", timers="extend", now=local("2026-01-08 10:00"))
    assert done.moved == 1
    assert [e.action for e in control.audit(store)] == ["pause", "resume"]


def test_a_schema_4_file_gains_the_control_tables_and_keeps_its_instances(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A version-4 file (no control tables) is migrated to 5 by `journeydsl db migrate`; its
    instance is still there, and its journey can be paused and resumed."""
    db = tmp_path / "s.db"
    with SQLiteStore(db) as store:
        _one_instance(store)
    with sqlite3.connect(db) as conn:
        for table in _TABLES:
            conn.execute(f"DROP TABLE {table}")
        conn.execute("UPDATE meta SET value = '4' WHERE key = 'schema_version'")
    assert main(["db", "migrate", "--db", str(db)]) == 0
    assert f"migrated from schema version 4 to {SCHEMA_VERSION}" in capsys.readouterr().out
    assert SCHEMA_VERSION == 5
    with SQLiteStore(db) as store:
        assert [i["status"] for i in store.all_instances()] == ["waiting"]
        _round_trip(store)


@pytest.mark.postgres
def test_a_schema_2_postgres_database_gains_the_control_tables(
    pg_dsn: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A version-2 PostgreSQL database is migrated to 3 by `journeydsl db migrate`, keeping its
    instances and bucket count; its journey can then be paused and resumed."""
    from journeydsl.runtime.stores.postgres import SCHEMA_VERSION as PG_VERSION
    from journeydsl.runtime.stores.postgres import PostgresStore

    with PostgresStore(pg_dsn, buckets=8) as store:
        _one_instance(store)
        for table in _TABLES:
            store._conn.execute(f"DROP TABLE {table}")
        store._conn.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
    assert main(["db", "migrate", "--db", pg_dsn]) == 0
    assert f"migrated from schema version 2 to {PG_VERSION}" in capsys.readouterr().out
    assert PG_VERSION == 3
    with PostgresStore(pg_dsn) as store:
        assert store.buckets == 8
        assert [i["status"] for i in store.all_instances()] == ["waiting"]
        _round_trip(store)
