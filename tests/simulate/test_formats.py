"""The figures reports share (`journeydsl/simulate/formats.py`)."""

from __future__ import annotations

import pytest

from journeydsl.simulate.compare import pp
from journeydsl.simulate.formats import points


@pytest.mark.parametrize(
    ("diff", "shown"),
    [
        (-0.0004, "-0.04"),
        (0.0004, "+0.04"),
        (-0.00004, "-<0.01"),
        (0.0, "0.0"),
        (-0.0, "0.0"),
        (0.0325, "+3.2"),
        (-1.0, "-100.0"),
        (None, "-"),
    ],
)
def test_percentage_points_never_show_a_negative_zero(diff: float | None, shown: str) -> None:
    """An uplift or a bound of its interval in points: no `-0.0` for a small fall (it read as
    no change, with a sign), two decimals when one would round a change to zero."""
    assert points(diff) == shown
    assert pp(diff) == ("-" if diff is None else f"{shown} pp")
