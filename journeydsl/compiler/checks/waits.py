"""JD503: a `wait for` or `wait first` without a timeout can keep a customer in the journey
forever."""

from __future__ import annotations

from journeydsl import ir
from journeydsl.compiler.lower import Lowered
from journeydsl.diagnostics import Diagnostics


def check(lowered: Lowered, diags: Diagnostics) -> None:
    """Warn on every wait-for with no `within` / `until`."""
    for node in lowered.journey.nodes.values():
        if isinstance(node, ir.WaitFor) and node.timeout is None:
            what = f"'{node.event}'" if node.event else "this condition"
            diags.warning(
                "JD503",
                f"this waits for {what} with no timeout: customers for whom it never happens "
                "stay in the journey forever",
                node.span,
                "add `within 30d` (or `until …`) and say what happens on `timeout`",
            )
        elif isinstance(node, ir.WaitFirst) and node.timeout is None:
            diags.warning(
                "JD503",
                "this waits for the first of its branches with no timeout: customers for whom "
                "none happens stay in the journey forever",
                node.span,
                "add `within 30d` (or `until …`) and say what happens on `timeout`",
            )
