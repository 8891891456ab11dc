"""Treated against holdout: outcome rates of two groups, their difference and a 95 % confidence
interval for it. One method for every report that compares a holdout (``--compare`` on a journey
with a split holdout, and the global holdout of ``--policies``).

The interval is Newcombe's hybrid score interval (his method 10) built from the Wilson interval of
each rate. Unlike the normal approximation (Wald), it stays inside [-1, 1], does not collapse to
a point when a rate is 0 or 1, and keeps close to its nominal 95 % for the small holdouts that
marketing tests have (Newcombe, "Interval estimation for the difference between independent
proportions", Statistics in Medicine 17, 1998).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["METHOD", "Z95", "difference_interval", "outcome_rows", "rate", "wilson_interval"]

#: The 97.5th percentile of the standard normal distribution: a two-sided 95 % interval.
Z95 = 1.959963984540054

#: How the intervals are computed, as the reports print it.
METHOD = (
    "difference of outcome rates (treated - holdout); 95% confidence interval by Newcombe's "
    "hybrid score method (Wilson intervals of each rate), sound for small groups and rates "
    "near 0 or 1"
)


def rate(n: int, of: int) -> float | None:
    """``n / of`` rounded to 6 places; None for an empty group."""
    return round(n / of, 6) if of else None


def wilson_interval(hits: int, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of the proportion ``hits / n`` (``n`` > 0)."""
    p = hits / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def difference_interval(
    hits_a: int, n_a: int, hits_b: int, n_b: int
) -> tuple[float, float, float] | None:
    """``hits_a/n_a - hits_b/n_b`` and its 95 % interval (Newcombe's method 10), each rounded
    to 6 places; None when a group is empty."""
    if n_a == 0 or n_b == 0:
        return None
    p_a, p_b = hits_a / n_a, hits_b / n_b
    low_a, high_a = wilson_interval(hits_a, n_a)
    low_b, high_b = wilson_interval(hits_b, n_b)
    diff = p_a - p_b
    low = diff - math.sqrt((p_a - low_a) ** 2 + (high_b - p_b) ** 2)
    high = diff + math.sqrt((high_a - p_a) ** 2 + (p_b - low_b) ** 2)
    return round(diff, 6), round(low, 6), round(high, 6)


def outcome_rows(
    names: Iterable[str],
    treated: int,
    treated_outcomes: Mapping[str, int],
    holdout: int,
    holdout_outcomes: Mapping[str, int],
    difference: str = "difference",
) -> dict[str, dict[str, Any]]:
    """Per outcome: the count and rate of each group, their ``difference`` (the key the report
    names it by) and ``ci95``, ``[low, high]`` (None when a group is empty)."""
    rows: dict[str, dict[str, Any]] = {}
    for name in names:
        t, h = treated_outcomes.get(name, 0), holdout_outcomes.get(name, 0)
        found = difference_interval(t, treated, h, holdout)
        rows[name] = {
            "treated": {"count": t, "rate": rate(t, treated)},
            "holdout": {"count": h, "rate": rate(h, holdout)},
            difference: found[0] if found else None,
            "ci95": [found[1], found[2]] if found else None,
        }
    return rows
