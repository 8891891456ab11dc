"""What contact policies did in a simulation (``journeydsl simulate --policies FILE``): how many
messages each policy deferred, dropped or rerouted, and the uplift of each outcome against the
global holdout, with a 95 % confidence interval.

The figures are read from the instances' decision logs (the engine logs every delivery decision
with the policy behind it) and from the holdout membership the policy engine computes: the same
sources ``journeydsl explain`` and production use. A :class:`PolicyTally` counts one journey;
tallies of disjoint customers add up (:meth:`PolicyTally.merge`), so runs split over processes
merge exactly.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from journeydsl.simulate.formats import percent as percent_text
from journeydsl.simulate.formats import points
from journeydsl.simulate.proportions import METHOD, outcome_rows

if TYPE_CHECKING:
    from rich.console import Console

    from journeydsl import ir
    from journeydsl.runtime.policies import PolicyEngine

__all__ = ["PolicyTally"]


@dataclass
class PolicyTally:
    """One journey's policy figures: messages per policy and decision, and instances (with
    their outcomes) inside and outside the global holdout."""

    percent: float = 0.0
    deferred: Counter[str] = field(default_factory=Counter)
    dropped: Counter[str] = field(default_factory=Counter)
    rerouted: Counter[str] = field(default_factory=Counter)
    allowed: int = 0
    treated: int = 0
    control: int = 0
    treated_outcomes: Counter[str] = field(default_factory=Counter)
    control_outcomes: Counter[str] = field(default_factory=Counter)

    def add_instance(self, record: Mapping[str, Any], in_holdout: bool) -> None:
        """Count one instance record: its delivery decisions and its outcome."""
        per_message: dict[str, list[Mapping[str, Any]]] = {}
        for entry in record.get("log") or ():
            if entry.get("what") == "deliver":
                per_message.setdefault(str(entry.get("message")), []).append(entry)
        for decisions in per_message.values():
            self._add_message(decisions)
        ended = record["status"] == "ended"
        if in_holdout:
            self.control += 1
            if ended:
                self.control_outcomes[record["outcome"]] += 1
        else:
            self.treated += 1
            if ended:
                self.treated_outcomes[record["outcome"]] += 1

    def _add_message(self, decisions: Iterable[Mapping[str, Any]]) -> None:
        deferred: set[str] = set()
        rerouted: set[str] = set()
        for d in decisions:
            policy = str(d.get("policy") or "-")
            match d.get("decision"):
                case "deferred":
                    deferred.add(policy)
                    deferred.update(str(p) for p in d.get("also") or ())
                case "fallback":
                    rerouted.add(policy)
                case "suppressed":
                    self.dropped[policy] += 1
                case "allowed":
                    self.allowed += 1
        self.deferred.update(deferred)
        self.rerouted.update(rerouted)

    @classmethod
    def of(
        cls, records: Iterable[Mapping[str, Any]], engine: PolicyEngine, journey_id: str
    ) -> PolicyTally:
        """The figures of these instance records (with their decision logs) of one journey."""
        tally = cls(engine.rules(journey_id).policies.holdout.percent)
        for record in records:
            tally.add_instance(record, engine.in_holdout(record["customer_id"], journey_id))
        return tally

    def merge(self, other: PolicyTally) -> PolicyTally:
        """Add ``other``'s counts (of other customers) to these; returns ``self``."""
        self.percent = max(self.percent, other.percent)
        for mine, theirs in (
            (self.deferred, other.deferred),
            (self.dropped, other.dropped),
            (self.rerouted, other.rerouted),
            (self.treated_outcomes, other.treated_outcomes),
            (self.control_outcomes, other.control_outcomes),
        ):
            mine.update(theirs)
        self.allowed += other.allowed
        self.treated += other.treated
        self.control += other.control
        return self

    # ------------------------------------------------------------------ reports

    def messages(self) -> dict[str, dict[str, int]]:
        """Per policy (by name): messages it deferred, dropped and rerouted."""
        names = sorted(set(self.deferred) | set(self.dropped) | set(self.rerouted))
        return {
            n: {
                "deferred": self.deferred.get(n, 0),
                "dropped": self.dropped.get(n, 0),
                "rerouted": self.rerouted.get(n, 0),
            }
            for n in names
        }

    def uplift(self, outcomes: Iterable[str]) -> dict[str, Any]:
        """Each outcome's rate among treated and holdout instances, the uplift and its 95 %
        interval (None when a group is empty)."""
        return outcome_rows(
            outcomes,
            self.treated,
            self.treated_outcomes,
            self.control,
            self.control_outcomes,
            difference="uplift",
        )

    def outcome_names(self, journey: ir.Journey) -> list[str]:
        """The journey's declared outcomes, then any other that occurred, by name."""
        seen = set(self.treated_outcomes) | set(self.control_outcomes)
        return [*journey.outcomes, *sorted(seen - set(journey.outcomes))]

    def to_json(self, journey: ir.Journey) -> dict[str, Any]:
        """The ``policies`` part of the ``--format json`` document."""
        return {
            "delivered": self.allowed,
            "messages": self.messages(),
            "holdout": {
                "percent": self.percent,
                "treated": self.treated,
                "holdout": self.control,
                "method": METHOD,
                "outcomes": self.uplift(self.outcome_names(journey)),
            },
        }

    def render(self, console: Console, journey: ir.Journey) -> None:
        """The report's two tables: messages per policy, uplift against the holdout."""
        from rich import box
        from rich.table import Table

        table = Table(title="Contact policies: messages", box=box.SIMPLE, title_justify="left")
        table.add_column("policy")
        for name in ("deferred", "dropped", "rerouted"):
            table.add_column(name, justify="right")
        rows = self.messages()
        for name, row in rows.items():
            table.add_row(name, str(row["deferred"]), str(row["dropped"]), str(row["rerouted"]))
        if not rows:
            table.add_row("(none: every message went out as sent)", "0", "0", "0")
        console.print(table)
        if self.percent <= 0:
            return
        uplift = Table(
            title=f"Uplift against the global holdout ({self.percent:g}%)",
            box=box.SIMPLE,
            title_justify="left",
        )
        uplift.add_column("outcome")
        uplift.add_column("treated", justify="right")
        uplift.add_column("holdout", justify="right")
        uplift.add_column("uplift", justify="right")
        uplift.add_column("95% CI", justify="right")
        for name, row in self.uplift(self.outcome_names(journey)).items():
            ci = row["ci95"]
            uplift.add_row(
                name,
                percent_text(row["treated"]["rate"]),
                percent_text(row["holdout"]["rate"]),
                points(row["uplift"]),
                f"{points(ci[0])} .. {points(ci[1])}" if ci else "-",
            )
        console.print(uplift)
        console.print(
            f"{self.treated} treated and {self.control} holdout instances; uplift in percentage "
            "points, 95% CI by Newcombe's method (Wilson intervals of each rate)\n",
            soft_wrap=True,
        )
