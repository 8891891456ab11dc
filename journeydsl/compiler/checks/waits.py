"""JD503: a `wait for` or `wait first` without a timeout can keep a customer in the journey
forever."""

from __future__ import annotations

from journeydsl import ir
from journeydsl.compiler.lower import Lowered
from journeydsl.diagnostics import Diagnostics


def check(lowered: Lowered, diags: Diagnostics) -> None:
    """Warn on every wait-for with no `within` / `until` (a handler of a `during` block lasts
    as long as its body by design, and is not warned about)."""
    nodes = lowered.journey.nodes.values()
    handlers = {  # during (interrupting handlers): the leading branches of the fork
        b for n in nodes if isinstance(n, ir.Parallel) for b in n.branches[: len(n.handlers)]
    }
    for node in nodes:
        if isinstance(node, ir.WaitFor) and node.timeout is None and node.id not in handlers:
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
