"""JD506: a declared outcome that no exit or goal produces."""

from __future__ import annotations

from journeydsl import ir
from journeydsl.compiler.lower import Lowered
from journeydsl.diagnostics import Diagnostics


def check(lowered: Lowered, diags: Diagnostics) -> None:
    """Warn on outcomes nothing can end with (usually a typo on one side)."""
    journey = lowered.journey
    used = {n.outcome for n in journey.nodes.values() if isinstance(n, ir.Exit) and not n.chosen}
    used |= {c for n in journey.nodes.values() if isinstance(n, ir.Exit) for c in n.choices}
    used |= {g.outcome for g in journey.goals}
    for name, span in lowered.outcome_spans.items():
        if name not in used:
            diags.warning(
                "JD506",
                f"outcome '{name}' is declared but no exit or goal ends with it",
                span,
            )
