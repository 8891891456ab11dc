"""How the simulation reports (text, compare, policy figures, the HTML report's SVG) write
their numbers: one spelling of a percentage everywhere."""

from __future__ import annotations

__all__ = ["percent", "percent_of"]


def percent(rate: float | None) -> str:
    """A rate (0.125) as a percentage with one decimal ("12.5%"); "-" when there is none."""
    return "-" if rate is None else f"{100 * rate:.1f}%"


def percent_of(n: int, total: int) -> str:
    """``n`` of ``total`` as a percentage ("12.5%"); "-" when the total is 0."""
    return percent(n / total) if total else "-"
