"""The customer a simulation command names (``simulate --trace``, ``explain --customer``,
``preview --customer``): one the run has, or an error (exit 1) that says it is not in the run,
with the closest ids, before anything is simulated."""

from __future__ import annotations

import argparse
import difflib
import re
from collections.abc import Collection, Iterable
from typing import Protocol, TextIO

from journeydsl.exitcodes import ExitCode

__all__ = [
    "PopulationIds",
    "closest_customers",
    "customer_problem",
    "did_you_mean",
    "note_without_profile",
    "recorded_ids",
    "refuse_unknown_customer",
]


class _Model(Protocol):
    @property
    def customer_prefix(self) -> str: ...


class _Customer(Protocol):
    @property
    def customer_id(self) -> str: ...


class _Event(Protocol):
    @property
    def record(self) -> _Customer: ...


def recorded_ids(
    events: Iterable[_Event], profiles: Iterable[_Customer], enrolments: Iterable[_Customer]
) -> set[str]:
    """The customers of a recorded run: those of its events, profiles and enrolments."""
    found = {e.record.customer_id for e in events}
    return found.union((p.customer_id for p in profiles), (n.customer_id for n in enrolments))


def note_without_profile(
    args: argparse.Namespace,
    events: Iterable[_Event],
    profiles: Iterable[_Customer],
    enrolments: Iterable[_Customer],
    err: TextIO,
) -> None:
    """Say on ``err`` which customers of a recorded run have no profile line: they consent to
    no channel (unless ``--default-consent``), so every message to them is suppressed, which a
    report alone shows only as suppressions."""
    if getattr(args, "default_consent", False):
        return
    acting = {e.record.customer_id for e in events} | {n.customer_id for n in enrolments}
    missing = sorted(acting - {p.customer_id for p in profiles})
    if not missing:
        return
    shown = ", ".join(missing[:3]) + (f" and {len(missing) - 3:,} more" if len(missing) > 3 else "")
    where = f"line in {args.profiles}" if args.profiles else "profile (no --profiles given)"
    print(
        f"note: {len(missing):,} of {len(acting):,} customers have no {where}: {shown}; they "
        "consent to no channel, so every message to them is suppressed (--default-consent "
        "gives them every channel)",
        file=err,
    )


class PopulationIds:
    """The ids of a synthetic population of ``size`` customers (``c-0001`` to ``c-1000``) drawn
    by ``model``, known without listing them: a population may hold a hundred million."""

    def __init__(self, model: _Model, size: int) -> None:
        self.prefix = model.customer_prefix
        self.size = size

    def _id(self, number: int) -> str:
        from journeydsl.simulate.population import customer_ids

        return customer_ids(self.prefix, self.size, [number])[0]

    def __contains__(self, customer: object) -> bool:
        if not isinstance(customer, str) or not customer.startswith(self.prefix):
            return False
        digits = customer[len(self.prefix) :]
        if not (digits.isascii() and digits.isdigit()) or not 1 <= int(digits) <= self.size:
            return False
        return customer == self._id(int(digits))

    def near(self, customer: str) -> list[str]:
        """The id with the number ``customer`` ends with (``C-42``, ``c-00042`` → ``c-0042``),
        when the population has one."""
        m = re.search(r"([0-9]+)[^0-9]*$", customer)
        if m is None or not 1 <= int(m.group(1)) <= self.size:
            return []
        return [self._id(int(m.group(1)))]

    def __str__(self) -> str:
        return f"the population of {self.size:,}: {self._id(1)} to {self._id(self.size)}"


def _either(ids: list[str]) -> str:
    quoted = [f"'{i}'" for i in ids]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + f" or {quoted[-1]}"


def did_you_mean(ids: list[str]) -> str:
    """`` — did you mean 'c-001' or 'c-010'?``, or nothing without ids."""
    return f" — did you mean {_either(ids)}?" if ids else ""


def closest_customers(customer: str, known: Iterable[str]) -> list[str]:
    """The ids closest to ``customer`` (difflib's ratio, at least 0.6): the closest one, and
    up to two more as close (``c-01``: ``c-001`` or ``c-010``), sorted."""
    scored = [(difflib.SequenceMatcher(None, customer, k).ratio(), k) for k in sorted(set(known))]
    best = max((score for score, _ in scored), default=0.0)
    return [k for score, k in scored if score == best >= 0.6][:3]


def customer_problem(customer: str, known: Collection[str] | PopulationIds) -> str | None:
    """None when ``customer`` is one of the run's customers (``known``: the ids of its events,
    profiles and enrolments, or a synthetic population); else why not, with the closest ids
    (at most three)."""
    if customer in known:
        return None
    if isinstance(known, PopulationIds):
        where, near = str(known), known.near(customer)
    else:
        where = "the events, the profiles or the enrolments"
        near = closest_customers(customer, known)
    hint = did_you_mean(near)
    if not near and not isinstance(known, PopulationIds):
        hint = f"; it has {len(known):,} customer{'s' * (len(known) != 1)}"
    return f"no customer '{customer}' in this simulation (not in {where}){hint}"


def refuse_unknown_customer(
    args: argparse.Namespace, known: Iterable[str] | PopulationIds, err: TextIO
) -> int | None:
    """When the customer ``args`` names (``--trace``, ``--customer``) is not in the run, say so
    on ``err`` and return the exit code (1); None when there is none or the run has them."""
    customer = getattr(args, "trace", None) or getattr(args, "customer", None)
    if customer is None:
        return None
    ids = known if isinstance(known, PopulationIds | Collection) else set(known)
    if (problem := customer_problem(customer, ids)) is None:
        return None
    print(f"journeydsl: error: {problem}", file=err)
    return ExitCode.ERRORS
