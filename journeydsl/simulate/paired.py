"""Paired comparison of two journeys run on the same customers (``simulate --compare``).

Both journeys see the same customers with the same seed, so each customer gives a pair of
observations: whether they reached an outcome under the base journey (``a``) and under the other
(``b``). The difference of the two rates is the mean of the per-customer differences
``d = b - a`` (each -1, 0 or 1), and its 95 % interval is the normal interval on that mean:

    d̄ = (n01 - n10) / n
    s² = ((n01 + n10) - n·d̄²) / (n - 1)
    d̄ ± 1.96 · s / √n

cut at -1 and 1 (a difference of two shares lies within them; with few customers the normal
interval would pass them), where ``n`` is the number of customers, ``n10`` the customers who
reached the outcome under the base journey only and ``n01`` under the other only (the discordant
pairs of McNemar's test).
Customers who behave the same under both journeys add nothing to the variance: pairing removes
the customer-to-customer noise that two independent samples would carry, so the interval is much
narrower than an unpaired one for the same population.

Counts are mergeable (:meth:`PairTally.merge`): parts of the customers add up to the whole.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from journeydsl.simulate.proportions import Z95, rate

__all__ = ["PAIRED_METHOD", "PairTally", "paired_interval", "reached_outcomes"]

#: How the paired intervals are computed, as the reports print it.
PAIRED_METHOD = (
    "paired design (same customers, same seed): difference of the per-customer indicators "
    "(other - base), 95% normal interval on the mean difference, "
    "d ± 1.96·s/√n with s² = (n01 + n10 - n·d²)/(n - 1)"
)


def paired_interval(n: int, base_only: int, other_only: int) -> tuple[float, float, float] | None:
    """The mean paired difference ``(other_only - base_only) / n`` and its 95 % interval (see
    the module docstring; within -1 and 1), each rounded to 6 places; None without customers."""
    if n == 0:
        return None
    mean = (other_only - base_only) / n
    if n == 1:
        return round(mean, 6), round(mean, 6), round(mean, 6)
    variance = max(0.0, ((base_only + other_only) - n * mean * mean) / (n - 1))
    half = Z95 * math.sqrt(variance / n)
    # (a difference of two shares lies within -1 and 1: the normal interval is cut there)
    return round(mean, 6), round(max(-1.0, mean - half), 6), round(min(1.0, mean + half), 6)


def reached_outcomes(records: Iterable[Mapping[str, Any]]) -> dict[str, set[str]]:
    """Per customer, the outcomes any of their instances ended with."""
    reached: dict[str, set[str]] = {}
    for record in records:
        if record["status"] == "ended":
            reached.setdefault(record["customer_id"], set()).add(record["outcome"])
    return reached


@dataclass
class PairTally:
    """Per outcome, the customers who reached it under both journeys, the base only and the
    other only; ``customers`` counts every customer of the run (those who reached nothing too)."""

    customers: int = 0
    both: Counter[str] = field(default_factory=Counter)
    base_only: Counter[str] = field(default_factory=Counter)
    other_only: Counter[str] = field(default_factory=Counter)

    @classmethod
    def of(
        cls, customers: int, base: Mapping[str, set[str]], other: Mapping[str, set[str]]
    ) -> PairTally:
        """The pairs of ``customers`` customers, given per customer the outcomes reached under
        each journey (customers who reached nothing may be left out)."""
        tally = cls(customers)
        empty: set[str] = set()
        for customer in base.keys() | other.keys():
            a, b = base.get(customer, empty), other.get(customer, empty)
            tally.both.update(a & b)
            tally.base_only.update(a - b)
            tally.other_only.update(b - a)
        return tally

    def merge(self, other: PairTally) -> PairTally:
        """Add ``other``'s counts (of other customers) to these; returns ``self``."""
        self.customers += other.customers
        self.both.update(other.both)
        self.base_only.update(other.base_only)
        self.other_only.update(other.other_only)
        return self

    def rows(self, outcomes: Iterable[str], goals: frozenset[str]) -> dict[str, dict[str, Any]]:
        """Per outcome: customers and rate under each journey, the paired difference, its
        ``ci95`` and whether the interval excludes 0 (``significant``)."""
        n = self.customers
        rows: dict[str, dict[str, Any]] = {}
        for name in outcomes:
            both, a_only, b_only = self.both[name], self.base_only[name], self.other_only[name]
            found = paired_interval(n, a_only, b_only)
            rows[name] = {
                "goal": name in goals,
                "base": {"customers": both + a_only, "rate": rate(both + a_only, n)},
                "other": {"customers": both + b_only, "rate": rate(both + b_only, n)},
                "base_only": a_only,
                "other_only": b_only,
                "difference": found[0] if found else None,
                "ci95": [found[1], found[2]] if found else None,
                "significant": bool(found and (found[1] > 0 or found[2] < 0)),
            }
        return rows
