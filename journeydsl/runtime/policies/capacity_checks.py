"""What ``journeydsl check --policies FILE`` checks against the capacity limits of the policy
file's top level (``queues``, ``throughput``, ``entry_rates``), which every journey shares:

* JD606 (warning) a ticket with ``accepted`` / ``not accepted`` exits on a queue the policies
  give no capacity: every ticket is accepted at once.
"""

from __future__ import annotations

from collections.abc import Callable

from journeydsl import ir
from journeydsl.diagnostics import Diagnostics
from journeydsl.runtime.policies.model import Policies

__all__ = ["CAPACITY_CHECKS", "check_ticket_exits"]

CapacityCheck = Callable[[ir.Journey, Policies, Diagnostics], None]


def check_ticket_exits(journey: ir.Journey, policies: Policies, diags: Diagnostics) -> None:
    """JD606: a ticket waits for the decision of a queue that always accepts."""
    limited = {q.queue for q in policies.queues}
    for node in journey.nodes.values():
        if isinstance(node, ir.Ticket) and node.waits and node.queue not in limited:
            diags.warning(
                "JD606",
                f"this ticket waits for queue '{node.queue}' to accept it, but the policies "
                f"give '{node.queue}' no capacity: every ticket is accepted at once, and the "
                "`not accepted` exit runs only when the ticket system refuses one",
                node.span,
                f"give the queue a daily capacity (queues: [{{queue: {node.queue}, capacity: "
                "…}]), or drop the exits",
            )


CAPACITY_CHECKS: tuple[CapacityCheck, ...] = (check_ticket_exits,)
