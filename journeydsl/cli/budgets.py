"""``journeydsl budgets --db DB``: the reward budgets of a state database (a SQLite state file, a
shared budgets file, or a PostgreSQL database): each budget's total, what was spent, what
remains, and how many draws were granted and refused. Read-only: a run may be drawing meanwhile.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TextIO

from journeydsl.cli.common import Command
from journeydsl.cli.stores import db_label, is_postgres_dsn, open_store, told_store_problem
from journeydsl.exitcodes import ExitCode
from journeydsl.runtime.budgets import BudgetState, budget_json, budget_text
from journeydsl.runtime.stores.sqlite_budgets import SQLiteBudgets

__all__ = ["COMMANDS", "add_budgets_arguments", "cmd_budgets"]


def add_budgets_arguments(p: argparse.ArgumentParser) -> None:
    """The options of ``journeydsl budgets``."""
    p.add_argument(
        "--db",
        metavar="STATE.db",
        required=True,
        help="the state file (or a shared budgets file), or a PostgreSQL database (postgresql://…)",
    )
    p.add_argument(
        "--format",
        choices=("text", "json"),
        default="text",
        help='text: one line per budget (default); json: {"budgets": [...]}',
    )


def _states(db: str) -> list[BudgetState]:
    if is_postgres_dsn(db):
        with open_store(db, readonly=True) as store:
            return store.budget_states()
    with SQLiteBudgets(db, readonly=True) as ledger:
        return ledger.budget_states()


def cmd_budgets(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``journeydsl budgets`` from parsed arguments."""
    db: str = args.db
    if not is_postgres_dsn(db) and not Path(db).is_file():
        print(f"journeydsl: error: {db}: no such database", file=err)
        return ExitCode.USAGE
    try:
        states = _states(db)
    except Exception as exc:
        if not told_store_problem(db, exc, err):
            raise
        return ExitCode.ERRORS
    if args.format == "json":
        json.dump({"budgets": [budget_json(s) for s in states]}, out, indent=2)
        out.write("\n")
        return ExitCode.OK
    if not states:
        print(f"{db_label(db)}: no budgets (no reward has drawn from one yet)", file=out)
        return ExitCode.OK
    for line in budget_text(states):
        print(line, file=out)
    return ExitCode.OK


COMMANDS = {"budgets": Command(add_budgets_arguments, cmd_budgets)}
