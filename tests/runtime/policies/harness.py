"""A small harness for contact-policy tests: journeys compiled against the example catalogs, an
engine with policies over the in-memory (or SQLite) stores, recording channels, and helpers that
read what reached whom, in the customer's local time."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import fields
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from journeydsl import ir
from journeydsl.runtime.policies import Policies, load_policies
from journeydsl.runtime.protocols import EventStore, Message, Profile, ProfileStore, StateStore
from tests.runtime.scenario import (
    CHANNELS,
    Event,
    Run,
    build,
    compile_journey,
    ev,
    local,
    profile,
)

__all__ = [
    "CHANNELS",
    "Event",
    "Harness",
    "compile_journey",
    "ev",
    "harness",
    "local",
    "policies",
    "profile",
]


def policies(text: str, tmp: Path | None = None, name: str = "policies.yaml") -> Policies:
    """A policy file from YAML text (written to ``tmp`` when given, so relative paths work)."""
    if tmp is None:
        return load_policies(name, text)
    path = tmp / name
    path.write_text(text, encoding="utf-8")
    return load_policies(path)


class Harness(Run):
    """A scenario run under contact policies, with readers of what reached whom."""

    def delivered(self, customer_id: str, channel: str | None = None) -> list[Message]:
        """Messages that reached the customer (on ``channel``), by time."""
        out = [
            m
            for name, c in self.channels.items()
            if channel in (None, name)
            for m in c.delivered
            if m.customer_id == customer_id
        ]
        return sorted(out, key=lambda m: m.at)

    def times(self, customer_id: str, channel: str | None = None) -> list[str]:
        """Local delivery times to the minute (``"2026-01-05 22:00"``), by time."""
        tz = ZoneInfo(self.profiles.get(customer_id).timezone or "Asia/Ho_Chi_Minh")
        return [
            m.at.astimezone(tz).strftime("%Y-%m-%d %H:%M")
            for m in self.delivered(customer_id, channel)
        ]

    def decisions(self, customer_id: str) -> list[dict[str, Any]]:
        """The delivery decisions in the customer's decision logs, by time."""
        out = [
            e
            for inst in self.engine.explain(customer_id)
            for e in inst["log"]
            if e["what"] == "deliver"
        ]
        return sorted(out, key=lambda e: datetime.fromisoformat(e["at"]))

    def suppressed(self, customer_id: str) -> list[str]:
        """The reasons of the customer's suppressed messages, by time."""
        return [
            str(a["reason"])
            for a in sorted(self.actions, key=lambda a: a["at"])
            if a["customer_id"] == customer_id and a["kind"] == "suppressed"
        ]


def harness(
    journeys: Sequence[ir.Journey],
    profiles: Iterable[Profile],
    *,
    start: datetime,
    policy: Policies | None,
    state: StateStore | None = None,
    events: EventStore | None = None,
    profile_store: ProfileStore | None = None,
    scripts: Mapping[str, Any] | None = None,
) -> Harness:
    """An engine at ``start`` with ``policy``, over fresh (or given) stores."""
    if profile_store is not None:
        for p in profiles:
            profile_store.add(p)  # type: ignore[attr-defined]
        profiles = ()
    built = build(
        journeys,
        profiles,
        start=start,
        scripts=scripts,
        state=state,
        events=events,
        profile_store=profile_store,
        policies=policy,
    )
    return Harness(**{f.name: getattr(built, f.name) for f in fields(built)})


#: One marketing SMS on card activation, nothing else.
ONE_SMS = """
journey one_sms
uses events "events.yaml"
uses templates "templates.yaml"
entry on card_activated
  reentry always
send sms install_digital_app marketing
"""

#: A transactional SMS on card activation.
ONE_TRANSACTIONAL = """
journey one_transactional
uses events "events.yaml"
uses templates "templates.yaml"
entry on card_activated
  reentry always
send sms activation_reminder transactional { round: 1 } fallback none
"""

DAY = timedelta(days=1)
