"""JD208: a journey variable read on a path where no `set` has given it a value yet."""

from __future__ import annotations

from journeydsl import ir
from journeydsl.compiler.checks._graph import predecessors
from journeydsl.compiler.lower import Lowered
from journeydsl.diagnostics import Diagnostics
from journeydsl.ir_offers import ChooseOffer  # choose: the offer catalogue


def check(lowered: Lowered, diags: Diagnostics) -> None:
    """Forward must-analysis: a variable is set at a node when it is set on every path there."""
    journey = lowered.journey
    if journey.start is None:
        return
    variables = set(journey.variables) | set(lowered.counters.values())
    preds = predecessors(journey)
    top = frozenset(variables)
    set_in: dict[str, frozenset[str]] = dict.fromkeys(journey.nodes, top)
    set_in[journey.start] = frozenset(n for n, _ in journey.entry.inputs)  # (hand-off inputs)

    def out(nid: str, to: str) -> frozenset[str]:
        var = lowered.sets.get(nid)
        node = journey.nodes[nid]
        if isinstance(node, ir.Decide | ChooseOffer) and to in node.failure_targets():
            return set_in[nid]  # (a decision, a choice: set on the answer edge only)
        return set_in[nid] | {var} if var else set_in[nid]

    def settle() -> None:
        changed = True
        while changed:
            changed = False
            for nid in journey.nodes:
                ps = [p for p in preds.get(nid, []) if p in set_in]
                if nid == journey.start or not ps:
                    continue  # (the start, and the first step of a goal's steps)
                new = frozenset.intersection(*(out(p, nid) for p in ps))
                if new != set_in[nid]:
                    set_in[nid] = new
                    changed = True

    settle()
    # Goals are evaluated whenever the instance waits, so what they read must be set at every
    # waiting step; and a goal's steps (`goal … then { … }`) start from what is set at all of
    # them.
    steps = ir.reachable_from(journey, [journey.start])
    waits = [
        nid
        for nid, node in journey.nodes.items()
        if isinstance(node, ir.WAITING_KINDS) and nid in steps
    ]
    at_goals = frozenset.intersection(*(set_in[w] for w in waits)) if waits else frozenset()
    starts = [g.start for g in journey.goals if g.start is not None]
    for start in starts:
        set_in[start] = at_goals
    if starts:
        settle()
    goal_reported: set[str] = set()
    for var, span in lowered.goal_reads:
        for nid in waits:
            if var in variables and var not in set_in[nid] and var not in goal_reported:
                goal_reported.add(var)
                diags.error(
                    "JD208",
                    f"this goal reads '{var}', which is not yet set while waiting at step '{nid}'",
                    span,
                    f"set '{var}' before the first wait, or test something else in the goal",
                )
    in_goals = ir.reachable_from(journey, starts) if starts else set()
    answers = {n.var for n in journey.nodes.values() if isinstance(n, ir.Decide)}
    choices = {n.var for n in journey.nodes.values() if isinstance(n, ChooseOffer)}
    for nid, reads in lowered.reads.items():
        reported: set[str] = set()
        for var, span in reads:
            if var in variables and var not in set_in.get(nid, top) and var not in reported:
                reported.add(var)
                diags.error(
                    "JD208",
                    f"variable '{var}' may be read before it is set",
                    span,
                    f"'{var}' is a decision's answer: read it after its `decide` step, where "
                    "the call answered (an `on error` or `on timeout` block that does not exit "
                    "goes on without it)"
                    if var in answers
                    else f"'{var}' is a chosen offer: read it after its `choose` step, where "
                    "an offer was chosen (a `none` block that does not exit goes on without it)"
                    if var in choices
                    else f"a goal's steps run when the goal is reached, at any wait: set '{var}' "
                    "before the first wait, or give it a value there"
                    if nid in in_goals
                    else f"set it on every path before this step (`set {var} = …`)",
                )
