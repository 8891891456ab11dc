"""The decision log: what an instance did and why, one entry per decision, kept with the instance
record (a live record holds only its end: see ``log_from`` in
:class:`~journeydsl.runtime.records.InstanceRecord`) and shown by ``explain``."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import datetime
from typing import Any, cast

from journeydsl.runtime.codec import plain
from journeydsl.runtime.hostcalls import iso
from journeydsl.runtime.records import DecisionEntry, InstanceRecord

__all__ = [
    "DELIVERY_ENTRIES",
    "LOG_LIMIT",
    "MIGRATED",
    "explain",
    "extend",
    "last_step",
    "note",
    "withheld",
]

#: Entries one instance's decision log keeps (later decisions are not recorded).
LOG_LIMIT = 1000
_JSON_SCALARS = frozenset({str, int, float, bool, type(None)})
#: The ``what`` of the entries a delivery adds, at the instant it ran: they are no step of the
#: instance (they come after the step that waited).
DELIVERY_ENTRIES = frozenset({"deliver", "suppressed"})
#: The ``what`` of the entry a migration to another version adds (runtime/migrate.py), at the
#: instant the operator migrated; its ``step_at`` is the instant of the instance's last step.
MIGRATED = "migrated"


def note(inst: InstanceRecord, at: datetime, node: str, what: str, **detail: Any) -> None:
    """Add one decision to ``inst``'s log (until it holds :data:`LOG_LIMIT`)."""
    entries = inst["log"]
    if len(entries) + inst.get("log_from", 0) < LOG_LIMIT:
        entry: dict[str, Any] = {"at": iso(at), "node": node, "what": what}
        par = inst.get("par")
        if par is not None and par["current"] is not None:  # a step of a parallel branch
            entry["in_branch"] = par["current"] + 1
        for k, v in detail.items():
            entry[k] = v if type(v) in _JSON_SCALARS else plain(v)
        entries.append(cast(DecisionEntry, entry))  # (the keys are the callers' to choose)


def withheld(at: datetime, node: str, key: str, reason: str, **detail: str) -> DecisionEntry:
    """The entry of an effect given up for good (``"what": "suppressed"``): a message withheld
    (``template``, ``channel``), a ticket or action its sink refused, a ticket its queue dropped.
    A delivery notes it whether or not contact policies run, so that what a run stored lists a
    suppression where a simulation lists its ``suppressed`` action (``explain --db``)."""
    return cast(
        DecisionEntry,
        {
            "at": iso(at),
            "node": node,
            "what": "suppressed",
            **detail,
            "reason": reason,
            "message": key,
        },
    )


def extend(inst: InstanceRecord, decisions: Sequence[DecisionEntry]) -> None:
    """Add decisions made elsewhere (a delivery's) to ``inst``'s log, as many as it has room for."""
    room = max(LOG_LIMIT - len(inst["log"]) - inst.get("log_from", 0), 0)
    inst["log"].extend(decisions[:room])


def last_step(inst: InstanceRecord) -> datetime:
    """The instant of ``inst``'s last step: its last log entry that is not a delivery's (those
    are at delivery time), else its entry. A live record's log starts at that entry. A
    migration's entry (:data:`MIGRATED`) is no step either: it carries the instant of the step
    before it (``step_at``), so an event dated before the migration is still taken as of its
    own time by the instance that waited since before it."""
    log = inst["log"]
    for i in range(len(log) - 1, -1, -1):  # (newest first)
        entry = log[i]
        if entry["what"] in DELIVERY_ENTRIES:
            continue
        if entry["what"] == MIGRATED and isinstance(step_at := entry.get("step_at"), str):
            return datetime.fromisoformat(step_at)
        return datetime.fromisoformat(entry["at"])
    return datetime.fromisoformat(inst["entered_at"])


def explain(
    instances: Iterable[InstanceRecord], unhandled: Collection[str]
) -> list[dict[str, Any]]:
    """The decision log of each of ``instances`` (what ``Engine.explain`` answers), with the
    engine's action kinds no handler took (``unhandled``), if any."""
    return [
        {
            "instance": i["id"],
            "journey": i["journey"],
            "version": i["version"],
            "status": i["status"],
            "outcome": i["outcome"],
            "log": i["log"],
            **({"unhandled": list(unhandled)} if unhandled else {}),
        }
        for i in instances
    ]
