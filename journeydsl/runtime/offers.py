"""Offer choice: a ``choose`` step picks the best eligible offer of an offer catalogue and keeps
it, with why, in the instance.

* **Eligible.** An offer is eligible when ``valid_from <= now < valid_until`` (either end may be
  left out), the customer got it fewer than ``cap`` times before, and its ``eligible`` rule is
  true; each is tested in this order, and the first that fails is the reason it was not.
* **Best.** The eligible offer of the highest ``rank`` (0 when the offer has none); equal ranks
  go to the offer declared first in the catalogue. When none is eligible: the catalogue's
  ``fallback``, whatever its own rules, else the step's ``none`` exit (the compiler requires
  one of them).
* **Caps** count the customer's earlier choices: the ``offer`` entries of the decision logs of
  all their instances (of every journey) that chose that offer from that catalogue, the
  fallback included: those the store has, and those made earlier in the same step of the
  engine, not yet committed (:class:`PendingChoices`). (Choices beyond an instance's log
  limit, 1,000 entries, are not seen.)
* **Durable.** The chosen offer is a journey variable committed with the step, and the log
  entry says why: each offer's result (``eligible`` with its rank, or why not). A replay or a
  crash never changes it: a step that was committed never runs again, and one that was not
  runs again on the same inputs.
"""

from __future__ import annotations

from collections import OrderedDict
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from journeydsl.ir_offers import Candidate, ChooseOffer
from journeydsl.runtime.codec import plain
from journeydsl.runtime.decisions import note
from journeydsl.runtime.hostcalls import StoreError
from journeydsl.runtime.records import InstanceRecord

if TYPE_CHECKING:
    from journeydsl.runtime.evaluation import EvalContext
    from journeydsl.runtime.interpreter import Interpreter, Step

__all__ = ["PendingChoices", "Weighed", "choose", "earlier_choices", "run_choose"]

#: One offer as a choice weighed it: ``{"offer", "eligible", "rank"}`` or ``{"offer",
#: "eligible": False, "why"}``.
Weighed = dict[str, Any]


def earlier_choices(
    records: list[InstanceRecord], inst: InstanceRecord, catalogue: str
) -> dict[str, int]:
    """How many times each offer of ``catalogue`` was chosen for the customer, in ``records``
    (their instances, as stored) and in ``inst`` (the running one, as it is now)."""
    counts: dict[str, int] = {}
    logs = [r["log"] for r in records if r["id"] != inst["id"]] + [inst["log"]]
    for log in logs:
        for entry in log:
            if entry["what"] == "offer" and entry.get("catalogue") == catalogue:
                offer = entry.get("offer")
                if isinstance(offer, str):
                    counts[offer] = counts.get(offer, 0) + 1
    return counts


class PendingChoices:
    """The running instances that chose from a capped catalogue in this engine, by customer:
    one step of the engine (an event, a tick) may move several instances of a customer (two
    journeys entered by one event) and commits them together, so the second must count the
    first's choice before the store has it. An instance is forgotten once the store's record
    has its choices; at most :data:`KEPT` customers are kept (the oldest are long committed)."""

    KEPT = 1_000

    def __init__(self) -> None:
        self._by_customer: OrderedDict[str, dict[str, InstanceRecord]] = OrderedDict()

    def add(self, inst: InstanceRecord) -> None:
        """``inst`` chose (its log has the entry)."""
        customer = inst["customer_id"]
        self._by_customer.setdefault(customer, {})[inst["id"]] = inst
        self._by_customer.move_to_end(customer)
        while len(self._by_customer) > self.KEPT:
            self._by_customer.popitem(last=False)

    def merged(self, customer: str, stored: list[InstanceRecord]) -> list[InstanceRecord]:
        """``stored`` (the customer's records in the store), with the pending instances in
        place of their stored records (or added) while the store lacks some of their choices."""
        pending = self._by_customer.get(customer)
        if not pending:
            return stored
        by_id = {r["id"]: r for r in stored}
        for iid, live in list(pending.items()):
            kept = by_id.get(iid)
            if kept is not None and _chosen(kept) >= _chosen(live):
                del pending[iid]  # (committed)
            else:
                by_id[iid] = live
        if not pending:
            del self._by_customer[customer]
        return list(by_id.values())


def _chosen(record: InstanceRecord) -> int:
    return sum(1 for e in record["log"] if e["what"] == "offer")


def _weigh(c: Candidate, ctx: EvalContext, now: datetime, given: int) -> Weighed:
    """Whether ``c`` is eligible now (and its rank), or why not."""
    out: Weighed = {"offer": c.id, "eligible": False}
    if c.valid_from is not None and now < c.valid_from:
        out["why"] = f"not valid before {c.valid_from.isoformat()}"
    elif c.valid_until is not None and now >= c.valid_until:
        out["why"] = f"not valid from {c.valid_until.isoformat()}"
    elif c.cap is not None and given >= c.cap:
        out["why"] = f"cap reached: given {given} of {c.cap} times"
    elif c.eligible is not None and not c.eligible.fn(ctx, None):
        out["why"] = f"rule false: {c.eligible.source}"
    else:
        rank = c.rank.fn(ctx, None) if c.rank is not None else 0
        out["eligible"], out["rank"] = True, rank
    return out


def choose(
    node: ChooseOffer, ctx: EvalContext, now: datetime, counts: dict[str, int]
) -> tuple[Candidate | None, list[Weighed]]:
    """The offer ``node`` chooses (None: none eligible and no fallback), and how each offer was
    weighed, in declaration order."""
    weighed = [_weigh(c, ctx, now, counts.get(c.id, 0)) for c in node.candidates]
    best: Candidate | None = None
    top: Decimal | None = None
    for c, w in zip(node.candidates, weighed, strict=True):
        if w["eligible"]:
            rank = Decimal(w["rank"])
            if top is None or rank > top:  # (strictly: a tie keeps the one declared first)
                best, top = c, rank
    return (best if best is not None else node.fallback), weighed


def _counts(interp: Interpreter, node: ChooseOffer, inst: InstanceRecord) -> dict[str, int]:
    """The customer's earlier choices from the catalogue, read only when an offer has a cap (a
    store's failure abandons the step uncommitted, as in an expression)."""
    state = interp.state
    if state is None or all(c.cap is None for c in node.candidates):
        return earlier_choices([], inst, node.catalogue)
    try:
        records = state.instances_of(inst["customer_id"])
    except Exception as exc:
        raise StoreError(exc) from exc
    records = interp.pending_choices.merged(inst["customer_id"], records)
    return earlier_choices(records, inst, node.catalogue)


def run_choose(interp: Interpreter, node: ChooseOffer, step: Step) -> str | None:
    """The ``choose`` step: pick, keep the chosen offer and why, and go on (or take ``none``)."""
    ctx, inst = step.ctx, step.inst
    now = ctx.now
    counts = _counts(interp, node, inst)
    chosen, weighed = choose(node, ctx, now, counts)
    fallback = chosen is not None and chosen is node.fallback
    detail = {"catalogue": node.catalogue, "weighed": plain(weighed)}
    if chosen is None:
        note(inst, now, node.id, "offer", offer=None, **detail)
        return node.on_none if node.none_exit else node.next
    step.variables[node.var] = chosen.offer()
    note(inst, now, node.id, "offer", offer=chosen.id, fallback=fallback, **detail)
    if any(c.cap is not None for c in node.candidates):  # (caps count it before its commit)
        interp.pending_choices.add(inst)
    return node.next
