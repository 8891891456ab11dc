"""Mergeable counts of a run: what the text report, ``--compare`` and ``--workers`` need.

A :class:`Tally` counts one journey's instances (entered, per step reached, per outcome, treated
vs holdout) and actions (messages per channel, suppressions and why, tickets, rewards). Tallies of
disjoint sets of customers add up (:meth:`Tally.merge`) to the tally of their union, in any
order: this is how runs of separate partitions or chunks of a population are combined without
keeping every action in memory.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from decimal import Decimal
from typing import Any

from journeydsl.ir_offers import ChooseOffer
from journeydsl.runtime.decisions import DELIVERY_ENTRIES

__all__ = ["MILLION", "ChannelStats", "Tally", "merge_channel_stats"]

#: Budget amounts are counted in millionths of their unit (exact for every ISO 4217 currency).
MILLION = 1_000_000


def _last_step(
    record: Mapping[str, Any], visited: Mapping[str, int], exits: frozenset[str]
) -> str | None:
    """The step an ended instance ended at: its exit step, or else the last step its decision
    log names (where it waited when a goal was met, or the step that failed, which the failure
    left unvisited); None when the log does not say (a log that reached its size limit, or a
    record without one)."""
    for node in exits:
        if visited.get(node):
            return node
    for entry in reversed(record.get("log") or ()):
        if entry.get("what") in DELIVERY_ENTRIES:  # (a delivery's, after the step that waited)
            continue
        node = entry.get("node")
        if node and (node in visited or entry.get("what") == "error"):
            return str(node)
    return None


@dataclass
class ChannelStats:
    """What one channel double saw: deliveries, failed attempts and the cost of deliveries."""

    delivered: int = 0
    transient: int = 0
    permanent: int = 0
    cost: Decimal = Decimal(0)

    def merge(self, other: ChannelStats) -> None:
        """Add ``other``'s counts to these."""
        self.delivered += other.delivered
        self.transient += other.transient
        self.permanent += other.permanent
        self.cost += other.cost


def merge_channel_stats(
    into: dict[str, ChannelStats], other: Mapping[str, ChannelStats]
) -> dict[str, ChannelStats]:
    """Add ``other``'s per-channel stats to ``into`` (channels keep ``into``'s order, new ones
    are appended in ``other``'s)."""
    for name, stats in other.items():
        into.setdefault(name, ChannelStats()).merge(stats)
    return into


@dataclass
class Tally:
    """Counts of one journey's instances and actions (see the module docstring).

    ``treated`` / ``control`` count the instances that went through a random split with a
    holdout, outside and inside the holdout, with their outcomes in ``treated_outcomes`` /
    ``control_outcomes``."""

    entered: int = 0
    running: int = 0
    nodes: Counter[str] = field(default_factory=Counter)
    outcomes: Counter[str] = field(default_factory=Counter)
    treated: int = 0
    control: int = 0
    treated_outcomes: Counter[str] = field(default_factory=Counter)
    control_outcomes: Counter[str] = field(default_factory=Counter)
    sent: Counter[str] = field(default_factory=Counter)
    suppressed: Counter[str] = field(default_factory=Counter)
    #: Messages given up after a delivery failure (on their channel or a fallback): neither
    #: sent nor suppressed by a policy, so that each message is counted once.
    undelivered: Counter[str] = field(default_factory=Counter)
    reasons: Counter[str] = field(default_factory=Counter)
    tickets: Counter[tuple[str, str]] = field(default_factory=Counter)
    rewards: Counter[tuple[str, str]] = field(default_factory=Counter)
    #: Per step, the instances that ended there (an exit step, or a goal met while waiting
    #: there) and those still waiting there at the end of the run.
    ended_at: Counter[str] = field(default_factory=Counter)
    waiting_at: Counter[str] = field(default_factory=Counter)
    #: Per ticket step with exits, ``(step, "accepted" | "not_accepted")``: the exits taken.
    ticket_exits: Counter[tuple[str, str]] = field(default_factory=Counter)
    #: Per choose step, ``(step, offer id)``: the offers chosen (``"none"``: none was).
    offers: Counter[tuple[str, str]] = field(default_factory=Counter)
    #: Reward budgets: per ``(budget, day)`` the draws and their amount in millionths (an
    #: integer, so that the counts add up exactly), from the decision logs.
    budget_draws: Counter[tuple[str, str]] = field(default_factory=Counter)
    budget_spend: Counter[tuple[str, str]] = field(default_factory=Counter)
    #: Per ``(budget, day, amount in millionths)`` the draws of that amount: the forecast
    #: grants whole draws, as a ledger does (one that would pass the total is refused).
    budget_amounts: Counter[tuple[str, str, str]] = field(default_factory=Counter)

    def add_instance(
        self,
        record: Mapping[str, Any],
        splits: frozenset[str] = frozenset(),
        exits: frozenset[str] = frozenset(),
        tickets: frozenset[str] = frozenset(),
        rewards: frozenset[str] = frozenset(),
        zone: tzinfo | None = None,
    ) -> None:
        """Count one instance record (the engine's state record). ``splits`` are the ids of the
        journey's split steps that have a holdout, ``exits`` its exit steps, ``tickets`` its
        ticket steps with exits and its choose steps (their exits, the offers chosen, are read
        from the decision log), ``rewards`` its rewards drawn from a budget (their draws are read
        from it too, each counted on its calendar day in ``zone``, the journey's: the same
        instants give the same days whatever offset the events were written in)."""
        self.entered += 1
        visited = record["visits"]
        if rewards and any(visited.get(r) for r in rewards):  # reward budgets
            for entry in record.get("log") or ():
                if entry.get("what") == "budget" and entry.get("granted"):
                    key = (str(entry["name"]), _day(str(entry["at"]), zone))
                    drawn = int(Decimal(str(entry["drawn"])) * MILLION)
                    self.budget_draws[key] += 1
                    self.budget_spend[key] += drawn
                    self.budget_amounts[(*key, str(drawn))] += 1
        if tickets and any(visited.get(t) for t in tickets):
            for entry in record.get("log") or ():
                if entry.get("what") == "ticket_exit":
                    self.ticket_exits[(str(entry["node"]), str(entry.get("exit")))] += 1
                elif entry.get("what") == "handoff":  # hand-off: entered the target, or not
                    way = "handed_off" if entry.get("entered") else "not_entered"
                    self.ticket_exits[(str(entry["node"]), way)] += 1

                elif entry.get("what") == "offer":  # choose: the offer chosen
                    self.offers[(str(entry["node"]), str(entry.get("offer") or "none"))] += 1
        for node, visits in visited.items():
            if visits > 0:
                self.nodes[node] += 1
        ended = record["status"] == "ended"
        if ended:
            self.outcomes[record["outcome"]] += 1
            last = _last_step(record, visited, exits)
            if last is not None:
                self.ended_at[last] += 1
                if not visited.get(last):  # (the step it failed at: reached, and ended there)
                    self.nodes[last] += 1
        else:
            self.running += 1
            wait = record.get("wait")
            at = wait["node"] if wait else record.get("node")
            if at:
                self.waiting_at[at] += 1
        if splits and any(record["visits"].get(s, 0) > 0 for s in splits):
            if record.get("holdout"):
                self.control += 1
                if ended:
                    self.control_outcomes[record["outcome"]] += 1
            else:
                self.treated += 1
                if ended:
                    self.treated_outcomes[record["outcome"]] += 1

    def add_action(self, action: Mapping[str, Any]) -> None:
        """Count one action (the engine's action record)."""
        kind = action["kind"]
        if kind == "send":
            self.sent[action["channel"]] += 1
        elif kind == "suppressed":
            reason = str(action.get("reason"))
            channel = action.get("channel") or "-"
            if " failed: " in reason:  # a delivery failure made the message give up
                self.undelivered[channel] += 1
            else:
                self.suppressed[channel] += 1
            self.reasons[reason] += 1
        elif kind == "ticket":
            self.tickets[(action["queue"], str(action["priority"]))] += 1
        elif kind in ("reward", "action"):
            self.rewards[(kind, action["name"])] += 1

    @classmethod
    def of(
        cls,
        instances: Iterable[Mapping[str, Any]],
        actions: Iterable[Mapping[str, Any]],
        splits: frozenset[str] = frozenset(),
        exits: frozenset[str] = frozenset(),
        tickets: frozenset[str] = frozenset(),
        rewards: frozenset[str] = frozenset(),
        zone: tzinfo | None = None,
    ) -> Tally:
        """The tally of these instance records and actions (days in ``zone``, the journey's)."""
        tally = cls()
        for record in instances:
            tally.add_instance(record, splits, exits, tickets, rewards, zone)
        for action in actions:
            tally.add_action(action)
        return tally

    def merge(self, other: Tally) -> Tally:
        """Add ``other``'s counts (of other customers) to these; returns ``self``."""
        self.entered += other.entered
        self.running += other.running
        self.treated += other.treated
        self.control += other.control
        for mine, theirs in (
            (self.nodes, other.nodes),
            (self.outcomes, other.outcomes),
            (self.treated_outcomes, other.treated_outcomes),
            (self.control_outcomes, other.control_outcomes),
            (self.sent, other.sent),
            (self.suppressed, other.suppressed),
            (self.undelivered, other.undelivered),
            (self.reasons, other.reasons),
            (self.ended_at, other.ended_at),
            (self.waiting_at, other.waiting_at),
        ):
            mine.update(theirs)
        self.tickets.update(other.tickets)
        self.rewards.update(other.rewards)
        self.ticket_exits.update(other.ticket_exits)
        self.offers.update(other.offers)
        self.budget_draws.update(other.budget_draws)  # reward budgets
        self.budget_spend.update(other.budget_spend)
        self.budget_amounts.update(other.budget_amounts)
        return self

    def ordered_reasons(self) -> dict[str, int]:
        """Suppression reasons, most frequent first, ties by name (so that the order does not
        depend on the order the actions were counted in)."""
        return dict(sorted(self.reasons.items(), key=lambda kv: (-kv[1], kv[0])))


# ---------------------------------------------------------------- choose: the offers chosen


def offer_counts(node: ChooseOffer, offers: Counter[tuple[str, str]]) -> dict[str, int]:
    """How often the choose step ``node`` chose each offer: by id in the catalogue's order,
    then its fallback, then ``none`` (no offer eligible) when the step has that exit."""
    ids = [c.id for c in node.candidates]
    ids += [node.fallback.id] if node.fallback is not None else []
    ids += ["none"] if node.none_exit else []
    return {oid: offers.get((node.id, oid), 0) for oid in ids}


def _day(at: str, zone: tzinfo | None) -> str:
    """The calendar day of the time ``at`` (ISO text) in ``zone``; without one, in its own
    offset."""
    if zone is None:
        return at[:10]
    return datetime.fromisoformat(at).astimezone(zone).date().isoformat()
