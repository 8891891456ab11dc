"""``journeydsl explain JOURNEY --customer ID --db STATE``: why a customer of a live run got (or
did not get) a message, from what the run stored, with no simulation.

The state database (a SQLite file, opened read-only beside its writer, or ``postgresql://…``)
keeps every instance's decision log; the journey file names its steps; ``--actions`` (the run's
actions file) adds what was delivered, each line where a simulation's ``explain`` puts it. The
listing is the one ``journeydsl explain`` prints for a simulation.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from journeydsl.exitcodes import ExitCode

if TYPE_CHECKING:
    from journeydsl import ir
    from journeydsl.runtime.records import InstanceRecord

__all__ = ["StoredRun", "explain_stored"]

#: Simulation options that make no sense with ``--db`` (the run already happened).
_SIMULATION_OPTIONS = ("events", "enrol", "population", "behaviour", "policies")


class StoredRun:
    """What the ``explain`` listing reads of a run (see
    :func:`~journeydsl.simulate.report.render_explain`), from a state database: one customer's
    instances of one journey and their decision logs, and the delivered actions given."""

    def __init__(
        self,
        journey: ir.Journey,
        instances: Sequence[InstanceRecord],
        actions: Sequence[Mapping[str, Any]],
        timezone: str,
    ) -> None:
        self._journey = journey
        self._records = list(instances)
        self.instances: Sequence[Mapping[str, Any]] = self._records
        self.actions = actions
        self._timezone = timezone
        self.engine = self  # (the listing asks its engine for the decision logs)

    def explain(self, customer_id: str) -> list[dict[str, Any]]:
        """The decision logs (as ``Engine.explain`` gives them)."""
        from journeydsl.runtime.decisions import explain

        return explain([r for r in self._records if r["customer_id"] == customer_id], ())

    def timezone(self, customer_id: str) -> str:
        """The customer's time zone (their profile's, else the journey's)."""
        return self._timezone

    def journey(self, journey_id: str | None = None) -> ir.Journey:
        """The journey explained."""
        return self._journey


def explain_stored(args: Any, out: TextIO, err: TextIO) -> int:
    """``journeydsl explain … --db``: the stored decision logs of ``--customer``'s instances of
    the journey, with its delivered actions from ``--actions`` when given."""
    given = [f"--{o}" for o in _SIMULATION_OPTIONS if getattr(args, o, None)]
    if given:
        print(
            f"journeydsl: error: --db explains what a run stored; {', '.join(given)} "
            "describe a simulation: give one or the other",
            file=err,
        )
        return ExitCode.USAGE
    from journeydsl.cli.run import _compile

    journeys = _compile([Path(args.journey)], err, args.root, to_run=False)
    if journeys is None:
        return ExitCode.ERRORS
    journey = journeys[0]
    actions = _actions(args.actions, args.customer, journey.id, err)
    if actions is None:
        return ExitCode.USAGE
    from journeydsl.cli.customers import closest_customers, did_you_mean
    from journeydsl.cli.stores import (
        db_label,
        is_postgres_dsn,
        open_store,
        told_store_problem,
    )

    if not is_postgres_dsn(args.db) and not Path(args.db).is_file():
        print(f"journeydsl: error: {args.db}: no such database", file=err)
        return ExitCode.USAGE
    near: list[str] = []
    try:
        with open_store(args.db, readonly=True) as store:
            records = store.instances_of(args.customer)
            profile = store.get(args.customer)
            if not records and not profile.known:  # (the ids it may have meant: a mistake only)
                near = closest_customers(args.customer, store.customers())
    except Exception as exc:
        if not told_store_problem(args.db, exc, err):
            raise
        return ExitCode.ERRORS
    mine = [r for r in records if r["journey"] == journey.id]
    others = sorted({str(r["journey"]) for r in records} - {journey.id})
    if not mine and not profile.known and not others:
        print(
            f"journeydsl: error: no customer '{args.customer}' in {db_label(args.db)}"
            + did_you_mean(near),
            file=err,
        )
        return ExitCode.ERRORS
    from journeydsl.simulate.report import render_explain

    run = StoredRun(journey, mine, actions, profile.timezone or journey.timezone)
    out.write(render_explain(run, args.customer))
    if others:
        out.write(
            f"({args.customer} is in {', '.join(others)} too: give that journey's file to "
            "explain it)\n"
        )
    return ExitCode.OK


def _actions(
    path: str | None, customer_id: str, journey_id: str, err: TextIO
) -> list[dict[str, Any]] | None:
    """The lines of the actions file for the customer in the journey ([] without a file; None
    after saying why it cannot be read)."""
    if path is None:
        return []
    from journeydsl.runtime.file_channel import step_of_key

    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        print(f"journeydsl: error: {path}: {exc.strerror or exc}", file=err)
        return None
    found: list[dict[str, Any]] = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            action = json.loads(line)
        except ValueError as exc:
            print(f"journeydsl: error: {path}:{n}: not an action line ({exc})", file=err)
            return None
        if not isinstance(action, dict) or action.get("customer_id") != customer_id:
            continue
        if "journey" not in action and isinstance(action.get("key"), str):
            # (a reward or action line written before they carried their step)
            action = {**action, **step_of_key(action["key"])}
        if action.get("journey") == journey_id:
            found.append(action)
    return found
