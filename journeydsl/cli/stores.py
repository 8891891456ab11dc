"""Which store a ``--db`` names: a SQLite state file, or a PostgreSQL database
(``postgresql://…`` or ``postgres://…``, :mod:`journeydsl.runtime.stores.postgres`; psycopg is
imported only then), and the one line that says why one cannot be used."""

from __future__ import annotations

import sqlite3
from typing import TextIO, TypeAlias

from journeydsl.exitcodes import ExitCode
from journeydsl.runtime.stores.postgres import PostgresStore, is_postgres_dsn, pg_error
from journeydsl.runtime.stores.sqlite import (
    DatabaseInUse,
    SQLiteStore,
    StoreUnavailable,
    storage_error,
)

__all__ = [
    "Store",
    "db_label",
    "is_postgres_dsn",
    "open_store",
    "store_exit",
    "store_problem",
    "told_store_problem",
]

#: A store ``--db`` may name.
Store: TypeAlias = SQLiteStore | PostgresStore


def open_store(db: str, *, readonly: bool = False, migrate: bool = True) -> Store:
    """The store ``db`` names, opened for writing (one writer: the SQLite file's lock, or the
    PostgreSQL database's advisory writer lock) or ``readonly``. A PostgreSQL database is
    migrated only with ``migrate`` (otherwise it must have this journeydsl's schema); a SQLite
    file always is."""
    if is_postgres_dsn(db):
        return PostgresStore(db, readonly=readonly, migrate=migrate, writer_lock=not readonly)
    return SQLiteStore(db, readonly=readonly)


def db_label(db: str) -> str:
    """How messages name the database ``--db`` names: a SQLite file by its path, a PostgreSQL
    database as ``postgresql://user@host:port/dbname``, never with its password."""
    if is_postgres_dsn(db):
        from journeydsl.runtime.stores._pg_schema import describe

        return describe(db)
    return db


def told_store_problem(db: str, exc: BaseException, err: TextIO) -> bool:
    """Tell on ``err`` why the store ``db`` names cannot be used, when ``exc`` says so; False
    for an error that is not the store's fault (a bug: the caller raises it again, for its
    traceback)."""
    problem = store_problem(db, exc)
    if problem is not None:
        print(f"journeydsl: error: {problem}", file=err)
    return problem is not None


def store_exit(db: str, exc: BaseException, err: TextIO) -> ExitCode | None:
    """Tell on ``err``, in one line, why the store ``db`` names cannot be used, and return the
    exit code that says so: 2 when another writer holds it (:class:`DatabaseInUse`: a usage
    error, as for ``journeydsl run``), 1 when it cannot be used (damaged, unreachable …); None
    for an error that is not the store's fault (a bug: the caller raises it again)."""
    if isinstance(exc, DatabaseInUse):
        print(f"journeydsl: error: {exc}", file=err)
        return ExitCode.USAGE
    return ExitCode.ERRORS if told_store_problem(db, exc, err) else None


def store_problem(db: str, exc: BaseException) -> StoreUnavailable | None:
    """Why the store ``db`` names cannot be used, when ``exc`` says so (naming the file, or the
    server and database); None for an error that is not the store's fault."""
    if is_postgres_dsn(db):
        from journeydsl.runtime.stores._pg_schema import describe

        return pg_error(describe(db), exc)
    if isinstance(exc, StoreUnavailable | sqlite3.DatabaseError):
        return storage_error(db, exc)
    return None
