"""Graph checks over the IR, one concern per module. Each takes the lowered journey and a
diagnostics collector; :data:`CHECKS` is the order they run in."""

from __future__ import annotations

from collections.abc import Callable

from journeydsl.compiler.checks import (
    assignment,
    constants,
    loops,
    outcomes,
    reachability,
    splits,
    waits,
)
from journeydsl.compiler.lower import Lowered
from journeydsl.diagnostics import Diagnostics

__all__ = ["CHECKS", "Check"]

Check = Callable[[Lowered, Diagnostics], None]

CHECKS: tuple[Check, ...] = (
    reachability.check,
    loops.check,
    assignment.check,
    waits.check,
    constants.check,
    splits.check,
    outcomes.check,
)
