"""JD505: split percentages (arms plus holdout) must add up to 100."""

from __future__ import annotations

from journeydsl import ir
from journeydsl.compiler.lower import Lowered
from journeydsl.diagnostics import Diagnostics


def check(lowered: Lowered, diags: Diagnostics) -> None:
    """Report every split whose weights do not add up to 100%."""
    for node in lowered.journey.nodes.values():
        if isinstance(node, ir.Split):
            total = sum(w for w, _ in node.arms) + (node.holdout[0] if node.holdout else 0)
            if total != 100:
                diags.error(
                    "JD505",
                    f"split percentages add up to {total}%, not 100%",
                    node.span,
                    "every customer must land in exactly one arm (or the holdout)",
                )
