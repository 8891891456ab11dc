"""Entry throttling of segment journeys (``entry_rates:`` in the policy file).

A rate lets at most ``max`` customers enter a segment journey in each slot of ``per``. A slot
opens at the first entry after the previous slot ended; the customers a segment evaluation
selects beyond the slot's room wait in the journey's backlog, in the order of their selection
(by customer id within an evaluation, earlier evaluations first), and enter at the start of the
following slots, ``max`` at a time. The backlog is engine meta (``entry_rate:JOURNEY``),
committed with the entries it lets in, so a restart resumes it where it was.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

from journeydsl.runtime.policies.model import EntryRate

__all__ = ["Backlog", "meta_key"]


def meta_key(journey_id: str) -> str:
    """The engine meta key of a journey's backlog."""
    return f"entry_rate:{journey_id}"


@dataclass(slots=True)
class Backlog:
    """A rated journey's current slot (start, entries in it) and its waiting customers."""

    slot: datetime | None = None
    used: int = 0
    waiting: list[str] = field(default_factory=list)

    @classmethod
    def load(cls, raw: str | None) -> Backlog:
        """The backlog as stored in engine meta (empty when there is none)."""
        if raw is None:
            return cls()
        data = json.loads(raw)
        slot = datetime.fromisoformat(data["slot"]) if data.get("slot") else None
        return cls(slot, int(data.get("used", 0)), list(data.get("waiting", [])))

    def dump(self) -> str:
        """The backlog as engine meta."""
        slot = self.slot.isoformat() if self.slot is not None else None
        return json.dumps({"slot": slot, "used": self.used, "waiting": self.waiting})

    def add(self, customers: list[str]) -> None:
        """Queue newly selected customers behind those waiting (a waiting one keeps its place)."""
        known = set(self.waiting)
        self.waiting.extend(c for c in customers if c not in known)

    def open(self, rate: EntryRate, at: datetime) -> None:
        """Start a new slot at ``at`` when the current one has ended (or there is none)."""
        if self.slot is None or at >= self.slot + rate.per:
            self.slot, self.used = at, 0

    def next_slot(self, rate: EntryRate) -> datetime | None:
        """When the waiting customers' next slot opens; None when nobody waits."""
        if not self.waiting or self.slot is None:
            return None
        return self.slot + rate.per
