"""``journeydsl db migrate --db DB``: bring a state database to this journeydsl's schema.

A PostgreSQL database (``postgresql://…``) is migrated only by this command or by ``journeydsl
run --migrate`` (several processes may share one, so its schema changes when an operator says
so); a SQLite state file is migrated by whatever opens it for writing, and this command does
just that. Migrations are versioned in the database's ``meta`` table, taken one version at a
time, each in the transaction that records it, so running the command again does nothing.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TextIO

from journeydsl.cli.common import Command, Parser
from journeydsl.cli.stores import is_postgres_dsn, store_exit
from journeydsl.exitcodes import ExitCode

__all__ = ["COMMANDS", "add_db_arguments", "cmd_db"]


def add_db_arguments(db: argparse.ArgumentParser) -> None:
    """The actions of ``journeydsl db`` (``migrate``) and their options."""
    sub = db.add_subparsers(
        dest="action", metavar="ACTION", parser_class=Parser, help="what to do with the database"
    )
    sub.required = True
    migrate = sub.add_parser(
        "migrate", help="bring the database to this journeydsl's schema (idempotent)"
    )
    migrate.add_argument(
        "--db",
        metavar="DB",
        required=True,
        help="a PostgreSQL database (postgresql://user@host:port/db) or a SQLite state file",
    )
    migrate.add_argument(
        "--buckets",
        type=int,
        metavar="N",
        help="PostgreSQL: the bucket count workers share the customers by, for a database "
        "that has none yet (default 256); fixed once set, another is refused",
    )


def cmd_db(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``journeydsl db migrate``: prints what it did, one line; exit 1 when the database cannot
    be used (the line names the server and database, or the file, and why)."""
    db: str = args.db
    try:
        if is_postgres_dsn(db):
            from journeydsl.runtime.stores._pg_schema import describe
            from journeydsl.runtime.stores.postgres import migrate_database

            found, now = migrate_database(db, buckets=args.buckets)
            label = describe(db)
        else:
            if args.buckets is not None:
                print(
                    f"journeydsl: error: --buckets is for a PostgreSQL database "
                    f"(postgresql://…): workers share its customers by buckets; {db} is a "
                    "SQLite state file, which has one writer and no buckets",
                    file=err,
                )
                return ExitCode.USAGE
            if not Path(db).is_file():
                print(f"journeydsl: error: {db}: no such file", file=err)
                return ExitCode.USAGE
            found, now = _migrate_sqlite(db)
            label = db
    except Exception as exc:
        code = store_exit(db, exc, err)
        if code is None:
            raise
        return code
    if found == now:
        print(f"{label}: schema version {now}, up to date", file=out)
    else:
        print(f"{label}: migrated from schema version {found} to {now}", file=out)
    return ExitCode.OK


def _migrate_sqlite(path: str) -> tuple[int, int]:
    """The schema version of the SQLite file at ``path`` before and after a writable store
    opened it (which migrates it)."""
    import contextlib
    import sqlite3

    from journeydsl.runtime.stores._sqlite_schema import readonly_uri, stored_schema
    from journeydsl.runtime.stores.sqlite import SQLiteStore

    with contextlib.closing(sqlite3.connect(readonly_uri(path), uri=True)) as conn:
        try:
            found = stored_schema(path, conn)
        except sqlite3.OperationalError:  # no meta table: a file SQLiteStore has not written
            found = 0
    with SQLiteStore(path) as store:
        return found, store.schema_version()


#: The command this module defines.
COMMANDS = {"db": Command(add_db_arguments, cmd_db)}
