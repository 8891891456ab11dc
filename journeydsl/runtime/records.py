"""The shapes of the runtime's durable records, as the stores keep them and the engine, the
reports and a host's own store read them: an instance, its wait, a decision-log entry, and the
payload of each kind of outbox entry.

They are ``TypedDict``s: the stored JSON is these very mappings (the state-file formats do not
change), and mypy checks every key read in the engine, the stores and the reports. Values
inside ``vars``, ``trigger`` and ``params`` are in the codec's JSON form
(:mod:`journeydsl.runtime.codec`)."""

from __future__ import annotations

from typing import Any, Literal, NotRequired, TypeAlias, TypedDict

__all__ = [
    "ActionPayload",
    "BranchRecord",
    "DecisionEntry",
    "InstanceRecord",
    "ParallelRecord",
    "Payload",
    "SendPayload",
    "TicketPayload",
    "WaitRecord",
    "wait_of",
]


class WaitRecord(TypedDict):
    """Where a waiting instance is parked, and what ends the wait."""

    node: str
    kind: Literal["timer", "event", "condition"] | str
    #: The timer is a condition wait's re-check; ``timeout`` is the wait's own time limit.
    recheck: NotRequired[bool]
    timeout: NotRequired[str | None]
    #: A ticket step with exits (kind ``ticket``): the ticket's outbox key, and once its queue
    #: decided, ``accepted`` or ``not_accepted`` (with the reason) until the timer runs the exit.
    ticket: NotRequired[str]
    decision: NotRequired[str]
    reason: NotRequired[str]


#: One entry of an instance's decision log: when (ISO 8601), at which node, what (``enter``,
#: ``send``, ``wait_for``, ``timer``, ``deliver``, ``error`` …), and the details of that kind of
#: decision. Every key but ``at``, ``node`` and ``what`` is there only when it applies.
DecisionEntry = TypedDict(
    "DecisionEntry",
    {
        "at": str,
        "node": str,
        "what": str,
        # steps
        "trigger": str,
        "channel": str,
        "template": str,
        "queue": str,
        "priority": str,
        "name": str,
        "event": str | None,
        "due": str | None,
        "passed": bool,
        "source": str,
        "value": Any,
        "case": str,
        "bucket": int,
        "holdout": bool,
        "rounds": int,
        "outcome": str,
        "attribute": str,
        # late, withheld and failed
        "stale": Any,
        "late": str,
        "invalid": str,
        "reason": str,
        "error": str,
        # deliveries under the contact policies
        "decision": str,
        "message": str,
        "from": str,
        "policy": str,
        "label": str,
        "until": str,
        "also": list[str],
        # parallel blocks: the branch (1, 2, …) a step of a branch was taken in
        "in_branch": int,
    },
    total=False,
)


class InstanceRecord(TypedDict):
    """One customer's run through one journey version (state format 1)."""

    format: int
    id: str
    journey: str
    version: int
    customer_id: str
    key: str
    status: Literal["active", "waiting", "ended"] | str
    node: str | None
    wait: WaitRecord | None
    #: The timer (ISO 8601), or None.
    due: str | None
    entered_at: str
    ended_at: str | None
    outcome: str | None
    holdout: bool
    vars: dict[str, Any]
    trigger: dict[str, Any]
    #: Visits per node: part of every effect's idempotency key.
    visits: dict[str, int]
    log: list[DecisionEntry]
    #: Events and timers that moved the instance on (a held message checks it is still due).
    wakes: NotRequired[int]
    #: A *live* record (:class:`~journeydsl.runtime.protocols.LiveRecords`) holds only the end
    #: of its decision log: ``log`` starts at entry number ``log_from`` of the whole log, and
    #: the store holds the first ``log_stored`` entries (those after are new, to append). A
    #: record without them holds its whole log. Stores write neither key.
    log_from: NotRequired[int]
    log_stored: NotRequired[int]
    #: Inside a ``parallel`` block: each branch's own wait (see runtime/parallel.py).
    par: NotRequired[ParallelRecord]


class BranchRecord(TypedDict):
    """One branch of the parallel block an instance is inside: ``state`` is ``waiting``,
    ``done`` or ``cancelled``, and a waiting branch's node, wait and timer."""

    state: str
    node: str | None
    wait: WaitRecord | None
    due: str | None


class ParallelRecord(TypedDict):
    """The parallel block (its fork node) an instance is inside, and its branches in written
    order; ``current`` is the branch being run (None between steps)."""

    fork: str
    current: int | None
    branches: list[BranchRecord]


class _Effect(TypedDict):
    instance: str
    journey: str
    version: int
    node: str
    created: str


class SendPayload(_Effect):
    """A message: its template and params, the fallback chain and how far along it is, and
    what the contact policies noted while it was held."""

    template: str
    category: str
    chain: list[str]
    index: int
    params: dict[str, Any]
    holdout: bool
    entered_at: str
    wakes: int
    reasons: NotRequired[list[str]]
    deferred: NotRequired[str]
    held_by: NotRequired[str]
    #: The end of the arbitration slot the message was held to (see FrequencyCap.arbitration).
    arbitrated: NotRequired[str]
    #: ``[policy, reason]``: withheld when it was made (a stale timer's, invalid params).
    withhold: NotRequired[list[str]]
    #: The send's tags (``tags [lapsed]``), which tag-scoped frequency caps count.
    tags: NotRequired[list[str]]


class TicketPayload(_Effect):
    """A ticket for a human team."""

    queue: str
    priority: str
    payload: dict[str, Any]
    #: Seconds the timer that opened it was late (beyond ``stale after``).
    late: NotRequired[int]


class ActionPayload(_Effect):
    """A reward or another action for the bank's systems."""

    action: str
    name: str
    params: dict[str, Any]
    late: NotRequired[int]


def wait_of(inst: InstanceRecord) -> WaitRecord:
    """The wait of an instance that is waiting (a store that gives a waiting instance without
    one is broken)."""
    wait = inst["wait"]
    if wait is None:
        raise ValueError(f"instance {inst['id']} is {inst['status']} at no wait")
    return wait


#: The payload of an outbox entry, by its kind (``send``, ``ticket``, ``action``).
Payload: TypeAlias = SendPayload | TicketPayload | ActionPayload
