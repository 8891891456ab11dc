"""The IR: a journey as a checked graph of frozen nodes with typed edges.

Expressions are compiled (:class:`CExpr` holds the closure and the canonical source text). Node ids
are stable names (``email_welcome_activation_guide``, ``reminders.check``); the runtime keys
instance state, idempotency keys and funnels on them. :meth:`Journey.to_json` is the
``journeydsl graph --format json`` output: no spans, no file names, so both spellings of a
journey give identical JSON.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, fields
from datetime import time, timedelta
from decimal import Decimal
from typing import Any

from journeydsl.calendars import Schedule
from journeydsl.diagnostics import Span
from journeydsl.expr.context import Fn
from journeydsl.expr.types import Type

__all__ = [
    "Action",
    "Branch",
    "CExpr",
    "Decide",
    "Enter",
    "Entry",
    "Exit",
    "FirstBranch",
    "Goal",
    "Join",
    "Journey",
    "Node",
    "Parallel",
    "QuietHours",
    "RepeatCheck",
    "RepeatNext",
    "RepeatStart",
    "Send",
    "SendWindow",
    "Set",
    "Split",
    "Switch",
    "Tag",
    "Ticket",
    "Update",
    "Wait",
    "WaitFirst",
    "WaitFor",
    "describe",
    "edges",
]

_NO_SPAN = Span("<generated>", 1, 1, 1, 1)


@dataclass(frozen=True, slots=True)
class CExpr:
    """A compiled expression: canonical source, type and closure."""

    source: str
    type: Type
    fn: Fn = field(compare=False, repr=False)
    const: bool = field(default=False, compare=False)
    span: Span = field(default=_NO_SPAN, compare=False, repr=False)

    def to_json(self) -> str:
        """The canonical source text."""
        return self.source


@dataclass(frozen=True, slots=True)
class Node:
    """Base of every graph node."""

    id: str
    span: Span = field(compare=False, repr=False)

    kind = "node"

    def successors(self) -> Iterator[str]:
        """The ids this node can continue to."""
        for f in fields(self):
            if f.name in _EDGE_FIELDS:
                value = getattr(self, f.name)
                if isinstance(value, str):
                    yield value
        for _, target in self.labelled_edges():
            if target is not None:
                yield target

    def labelled_edges(self) -> list[tuple[str, str | None]]:
        """Edges that carry a label (case values, split arms)."""
        return []

    def to_json(self) -> dict[str, Any]:
        """The node without its span."""
        out: dict[str, Any] = {"id": self.id, "kind": self.kind}
        for f in fields(self):
            if f.name in ("id", "span"):
                continue
            out[f.name] = _json(getattr(self, f.name))
        return out


_EDGE_FIELDS = frozenset(("next", "then", "otherwise", "on_timeout", "body", "exit"))


def _json(value: Any) -> Any:
    if isinstance(value, CExpr):
        return value.source
    if isinstance(value, tuple):
        if value and all(
            isinstance(v, tuple)
            and len(v) == 2
            and isinstance(v[0], str)
            and isinstance(v[1], CExpr)
            for v in value
        ):
            return {name: expr.source for name, expr in value}  # params and payloads
        return [_json(v) for v in value]
    if isinstance(value, timedelta):
        return int(value.total_seconds())
    if isinstance(value, time):
        return value.strftime("%H:%M")
    if isinstance(value, Type):
        return str(value)
    return value


@dataclass(frozen=True, slots=True)
class Send(Node):
    """Send ``template`` on ``channel``; ``fallback`` is the resolved chain after it."""

    template: str
    channel: str
    category: str
    params: tuple[tuple[str, CExpr], ...]
    fallback: tuple[str, ...]
    next: str | None
    #: The message's tags (``tags [lapsed]``), recorded with it and counted by tag-scoped caps.
    tags: tuple[str, ...] = ()

    kind = "send"

    def to_json(self) -> dict[str, Any]:
        """The send; ``tags`` only when it has some (so untagged graphs keep their bytes)."""
        out = super(Send, self).to_json()
        if not self.tags:
            del out["tags"]
        return out


@dataclass(frozen=True, slots=True)
class Ticket(Node):
    """Open a ticket. With ``waits`` (it has ``accepted`` / ``not accepted`` exits), the
    instance waits for the queue's decision and goes on to ``accepted`` or ``not_accepted``;
    ``next`` is then None."""

    queue: str
    priority: CExpr
    payload: tuple[tuple[str, CExpr], ...]
    next: str | None
    # ticket exits (accepted / not accepted)
    waits: bool = False
    accepted: str | None = None
    not_accepted: str | None = None

    kind = "ticket"

    def to_json(self) -> dict[str, Any]:
        """The ticket; its exits only when it waits (so other graphs keep their bytes)."""
        out = super(Ticket, self).to_json()
        if not self.waits:
            for name in ("waits", "accepted", "not_accepted"):
                del out[name]
        return out

    def labelled_edges(self) -> list[tuple[str, str | None]]:
        """``accepted`` and ``not accepted``, when the ticket waits for the queue's decision."""
        if not self.waits:
            return []
        return [("accepted", self.accepted), ("not accepted", self.not_accepted)]


@dataclass(frozen=True, slots=True)
class Update(Node):
    """Set a profile attribute."""

    attribute: str
    value: CExpr
    next: str | None

    kind = "update"


@dataclass(frozen=True, slots=True)
class Tag(Node):
    """Add or remove a profile tag."""

    tag: str
    remove: bool
    next: str | None

    kind = "tag"


@dataclass(frozen=True, slots=True)
class Action(Node):
    """A reward or custom action carried out by a host-registered handler."""

    action: str
    name: str
    params: tuple[tuple[str, CExpr], ...]
    next: str | None

    kind = "action"


@dataclass(frozen=True, slots=True)
class Set(Node):
    """Set a journey variable."""

    var: str
    value: CExpr
    next: str | None

    kind = "set"


@dataclass(frozen=True, slots=True)
class Wait(Node):
    """Wait: ``mode`` is ``duration`` (value is a duration), ``until`` (a timestamp) or
    ``time_of_day`` (the next local HH:MM)."""

    mode: str
    value: CExpr
    next: str | None
    #: ``wait until next DAYS HH:MM``: the ISO weekdays (Monday = 1) it may end on.
    days: tuple[int, ...] = ()

    kind = "wait"

    def to_json(self) -> dict[str, Any]:
        """The node without its span (``days`` only when given)."""
        out = super(Wait, self).to_json()
        if not self.days:
            del out["days"]
        return out


@dataclass(frozen=True, slots=True)
class WaitFor(Node):
    """Wait for ``event`` (filtered by ``where``) or for ``condition``; ``timeout_mode`` is
    ``within`` (a duration from now), ``until`` (a timestamp) or None (no timeout)."""

    event: str | None
    where: CExpr | None
    condition: CExpr | None
    timeout_mode: str | None
    timeout: CExpr | None
    then: str | None
    on_timeout: str | None
    #: ``as NAME``: the event that ends the wait is kept as the variables ``NAME.FIELD``.
    bind: str | None = None

    kind = "wait_for"

    def to_json(self) -> dict[str, Any]:
        """``bind`` only when the wait names its event."""
        out = super(WaitFor, self).to_json()
        if self.bind is None:
            del out["bind"]
        return out


@dataclass(frozen=True, slots=True)
class FirstBranch:
    """One branch of a :class:`WaitFirst`: ``event`` (filtered by ``where``) or ``condition``,
    and the node it continues to when it wins."""

    event: str | None
    where: CExpr | None
    condition: CExpr | None
    next: str | None

    @property
    def label(self) -> str:
        """``on card_activated``, ``on txn where …`` or ``when …``: the branch as written."""
        if self.event is not None:
            where = f" where {self.where.source}" if self.where is not None else ""
            return f"on {self.event}{where}"
        return f"when {self.condition.source if self.condition else '?'}"


@dataclass(frozen=True, slots=True)
class WaitFirst(Node):
    """Wait for the first of several events or conditions (``branches``, in written order: at
    the same instant the first wins); ``timeout_mode`` as for :class:`WaitFor`."""

    branches: tuple[FirstBranch, ...]
    timeout_mode: str | None
    timeout: CExpr | None
    on_timeout: str | None

    kind = "wait_first"

    def to_json(self) -> dict[str, Any]:
        """Branches as ``{"event": …, "where": …, "condition": …, "next": id}``."""
        out = super(WaitFirst, self).to_json()
        out["branches"] = [
            {
                "event": b.event,
                "where": _json(b.where),
                "condition": _json(b.condition),
                "next": b.next,
            }
            for b in self.branches
        ]
        return out

    def labelled_edges(self) -> list[tuple[str, str | None]]:
        """One edge per branch, labelled as written."""
        return [(b.label, b.next) for b in self.branches]


@dataclass(frozen=True, slots=True)
class Branch(Node):
    """if / else."""

    cond: CExpr
    then: str | None
    otherwise: str | None
    #: For a comparison (``sum(…) >= 1_000_000 VND``), its left side: the decision log records
    #: its value, so that ``explain`` shows what was compared. Not part of the graph.
    probe: CExpr | None = field(default=None, compare=False, repr=False)

    kind = "if"


@dataclass(frozen=True, slots=True)
class Switch(Node):
    """Multi-way branch on ``subject``."""

    subject: CExpr
    cases: tuple[tuple[tuple[CExpr, ...], str | None], ...]
    otherwise: str | None

    kind = "switch"

    def to_json(self) -> dict[str, Any]:
        """Cases as ``{"values": [...], "next": id}``."""
        out = super(Switch, self).to_json()
        out["cases"] = [{"values": [v.source for v in vs], "next": t} for vs, t in self.cases]
        return out

    def labelled_edges(self) -> list[tuple[str, str | None]]:
        """One edge per case."""
        return [(", ".join(v.source for v in values), t) for values, t in self.cases]


def _weight(w: Decimal) -> int | float:
    """A split weight in JSON: a whole number as an int (as it always was), else its value."""
    return int(w) if w == w.to_integral_value() else float(w)


@dataclass(frozen=True, slots=True)
class Split(Node):
    """Deterministic random split; ``holdout`` is the control arm."""

    #: (percentage, next node); a percentage has at most two decimals.
    arms: tuple[tuple[Decimal, str | None], ...]
    holdout: tuple[Decimal, str | None] | None
    #: ``customer``: a stable draw per customer; ``entry``: a draw per entry and visit.
    draw: str = "customer"

    kind = "split"

    def to_json(self) -> dict[str, Any]:
        """Arms as ``{"weight": 45, "next": id}``; ``draw`` only when per entry."""
        out = super(Split, self).to_json()
        if self.draw == "customer":
            del out["draw"]
        out["arms"] = [{"weight": _weight(w), "next": t} for w, t in self.arms]
        if self.holdout is not None:
            out["holdout"] = {"weight": _weight(self.holdout[0]), "next": self.holdout[1]}
        return out

    def labelled_edges(self) -> list[tuple[str, str | None]]:
        """One edge per arm, then the holdout."""
        out: list[tuple[str, str | None]] = [(f"{w}%", t) for w, t in self.arms]
        if self.holdout is not None:
            out.append((f"holdout {self.holdout[0]}%", self.holdout[1]))
        return out


@dataclass(frozen=True, slots=True)
class RepeatStart(Node):
    """Enter a repeat: the round ``counter`` becomes 1."""

    counter: str
    next: str

    kind = "repeat"


@dataclass(frozen=True, slots=True)
class RepeatCheck(Node):
    """Before each round: leave to ``exit`` when ``counter > max`` or ``until`` holds."""

    counter: str
    max: int
    until: CExpr | None
    body: str | None
    exit: str | None

    kind = "repeat_check"


@dataclass(frozen=True, slots=True)
class RepeatNext(Node):
    """After each round: ``counter`` += 1, back to the check."""

    counter: str
    next: str

    kind = "repeat_next"


@dataclass(frozen=True, slots=True)
class Exit(Node):
    """End the instance with ``outcome``; with ``chosen`` (``exit with EXPR``), with the value of
    ``chosen``, one of ``choices`` (``outcome`` is then the expression's text)."""

    outcome: str
    chosen: CExpr | None = None
    choices: tuple[str, ...] = ()

    kind = "exit"

    def to_json(self) -> dict[str, Any]:
        """``choices`` only when the outcome is computed (``outcome`` is its expression)."""
        out = super(Exit, self).to_json()
        del out["chosen"]
        if self.chosen is None:
            del out["choices"]
        return out


# ---------------------------------------------------------------- parallel (concurrent paths)


@dataclass(frozen=True, slots=True)
class Parallel(Node):
    """Fork: start every branch (each the id of its first node) at the same instant, in written
    order. The branches end at ``done``, the :class:`Join`; ``join`` is ``all`` or ``first``.
    An instance waiting inside the block waits here, with each branch's own wait in its record."""

    join: str
    branches: tuple[str, ...]
    done: str
    #: during (interrupting handlers): a ``during`` block is a ``first`` fork whose leading
    #: branches are its handlers, each named here (``on cancel_request``, ``when …``), and whose
    #: last branch is the body. Empty for a ``parallel`` block.
    handlers: tuple[str, ...] = ()

    kind = "parallel"

    def labelled_edges(self) -> list[tuple[str, str | None]]:
        """One edge per branch, ``branch 1``, ``branch 2``…, in written order (for a ``during``
        block: one per handler, by its head, then ``body``)."""
        if self.handlers:
            return [*zip(self.handlers, self.branches, strict=False), ("body", self.branches[-1])]
        return [(f"branch {n}", target) for n, target in enumerate(self.branches, 1)]

    def to_json(self) -> dict[str, Any]:
        """The fork; ``handlers`` only for a ``during`` block (parallel graphs keep their bytes)."""
        out = super(Parallel, self).to_json()
        if not self.handlers:
            del out["handlers"]
        return out


@dataclass(frozen=True, slots=True)
class Join(Node):
    """Where the branches of the fork ``fork`` meet: a branch that reaches it has ended; the
    instance goes on to ``next`` when the join is complete (every branch, or the first)."""

    fork: str
    join: str
    next: str | None

    kind = "join"


# -------------------------------------------------------------- enter: hand-off to another journey


@dataclass(frozen=True, slots=True)
class Enter(Node):
    """Enter the customer into the journey ``journey`` with ``args`` (the values its entry
    expects), in the same commit as this step; then go on to ``next``. When the target's entry
    rules refuse the customer, go on to ``refused`` (the ``not entered`` block's first node, or
    ``next`` when the step has none: ``refusal_exit`` False)."""

    journey: str
    args: tuple[tuple[str, CExpr], ...]
    next: str | None
    refused: str | None
    refusal_exit: bool

    kind = "enter"

    def labelled_edges(self) -> list[tuple[str, str | None]]:
        """The ``not entered`` exit, when the step has one."""
        return [("not entered", self.refused)] if self.refusal_exit else []


# ---------------------------------------------------------------- decide: a decision call


@dataclass(frozen=True, slots=True)
class Decide(Node):
    """Call the host's decision function ``function`` with ``args``; its answer (of type
    ``answer``) becomes the variable ``var`` and the instance goes on to ``next``.

    Each attempt may take ``timeout``; a failed one is tried again ``retries`` times, through
    ``retry`` (the timer wait ``ID.retry``, ``every`` long, which leads back here). When the last
    attempt fails, the instance goes on to ``on_error`` or ``on_timeout`` if the step has that
    exit (``error_exit``, ``timeout_exit``; a timeout without its own exit takes the error
    exit), else it ends with the outcome ``error``."""

    var: str
    function: str
    args: tuple[tuple[str, CExpr], ...]
    answer: Type
    timeout: timedelta
    retries: int
    every: timedelta
    next: str | None
    retry: str | None
    on_error: str | None
    on_timeout: str | None
    error_exit: bool
    timeout_exit: bool

    kind = "decide"

    def labelled_edges(self) -> list[tuple[str, str | None]]:
        """The retry wait, then the failure exits the step has."""
        out: list[tuple[str, str | None]] = [("retry", self.retry)] if self.retry else []
        if self.error_exit:
            out.append(("error", self.on_error))
        if self.timeout_exit:
            out.append(("timeout", self.on_timeout))
        return out

    def failure_targets(self) -> frozenset[str | None]:
        """Where a failed call may go on (where the answer is not set)."""
        return frozenset(t for _, t in self.labelled_edges())


WAITING_KINDS = (Wait, WaitFor, WaitFirst)


@dataclass(frozen=True, slots=True)
class Entry:
    """How customers enter (see :class:`journeydsl.ast.Entry`)."""

    kind: str
    event: str | None
    where: CExpr | None
    condition: CExpr | None
    at: time | None
    reentry: str
    reentry_after: timedelta | None
    key: CExpr | None
    #: A segment's calendar (None: daily); for an anniversary, the customer's date.
    schedule: Schedule | None = None
    anniversary: CExpr | None = None
    #: hand-off: what ``entry manual with { … }`` expects, each name with its type.
    inputs: tuple[tuple[str, Type], ...] = ()

    def to_json(self) -> dict[str, Any]:
        """A plain-JSON view (the schedule only when there is one, so the graphs of journeys
        without one keep their bytes)."""
        extra: dict[str, Any] = {}
        if self.schedule is not None:
            extra["schedule"] = self.schedule.to_json()
        if self.anniversary is not None:
            extra["anniversary_of"] = _json(self.anniversary)
        if self.inputs:  # hand-off: what the entry expects
            extra["inputs"] = {name: str(t) for name, t in self.inputs}
        return {
            "kind": self.kind,
            "event": self.event,
            "where": _json(self.where),
            "condition": _json(self.condition),
            "at": _json(self.at),
            "reentry": self.reentry,
            "reentry_after": _json(self.reentry_after),
            "key": _json(self.key),
            **extra,
        }


@dataclass(frozen=True, slots=True)
class QuietHours:
    """Local quiet hours for some channels."""

    channels: tuple[str, ...]
    start: time
    end: time


@dataclass(frozen=True, slots=True)
class SendWindow:
    """Days (ISO weekdays, Monday = 1) and local times when some channels may send."""

    channels: tuple[str, ...]
    days: tuple[int, ...]
    start: time
    end: time


@dataclass(frozen=True, slots=True)
class Goal:
    """An exit criterion."""

    outcome: str
    event: str | None
    where: CExpr | None
    condition: CExpr | None
    #: ``goal … then { … }``: the first of the steps run when it is reached (they end at an
    #: exit with ``outcome``), or None.
    start: str | None = None


@dataclass(frozen=True, slots=True)
class Journey:
    """A compiled journey."""

    id: str
    version: int
    title: str | None
    timezone: str
    entry: Entry
    outcomes: tuple[str, ...]
    quiet_hours: tuple[QuietHours, ...]
    fallback: Mapping[str, str]
    goals: tuple[Goal, ...]
    start: str | None
    nodes: Mapping[str, Node]
    variables: Mapping[str, Type] = field(default_factory=dict)
    #: The event schemas (type → field → type) the journey was checked against; the runtime
    #: types and validates incoming events with them. Not part of the graph's identity.
    event_types: Mapping[str, Mapping[str, Type]] = field(
        default_factory=dict, compare=False, repr=False
    )
    #: The profile attribute types of the catalog: the runtime types JSON profile values with them
    #: (an amount becomes Money). Not part of the graph's identity.
    attribute_types: Mapping[str, Type] = field(default_factory=dict, compare=False, repr=False)
    #: How late a timer may fire and still send to the customer; None: the engine's default.
    stale_after: timedelta | None = None
    send_windows: tuple[SendWindow, ...] = ()
    #: The journey's parameters, name → the value's source text (``{"reminder_interval": "3d"}``).
    params: Mapping[str, str] = field(default_factory=dict)
    #: The steps whose id the author gave (a label such as ``welcome:``); the others have ids
    #: the compiler made up (``if_2``), which reports do not show. Not part of the identity.
    labels: frozenset[str] = field(default=frozenset(), compare=False, repr=False)
    #: The longest window of the journey's ``sent(…)`` (None without one): the engine keeps
    #: the contact history at least that long. Not part of the graph's identity.
    history_window: timedelta | None = field(default=None, compare=False, repr=False)
    #: The template names of the catalog the journey was checked against: ``sent(NAME …)``
    #: counts the template NAME when there is one, before a channel or a category of that name
    #: (the message budget's history checks resolve names with them). Not part of the identity.
    template_names: frozenset[str] = field(default=frozenset(), compare=False, repr=False)

    def step_name(self, node_id: str) -> str:
        """A step as a report names it: its label when the author gave one, otherwise what it
        does (``send push activation_reminder``, ``wait until activated_at + 7d``)."""
        if node_id in self.labels:
            return node_id
        node = self.nodes.get(node_id)
        return describe(node) if node is not None else node_id

    def node(self, node_id: str) -> Node:
        """The node called ``node_id``."""
        return self.nodes[node_id]

    def to_json(self) -> dict[str, Any]:
        """The graph as plain JSON, without spans or file names."""
        return {
            "journey": self.id,
            "version": self.version,
            "title": self.title,
            "timezone": self.timezone,
            "entry": self.entry.to_json(),
            "outcomes": list(self.outcomes),
            "quiet_hours": [
                {"channels": list(q.channels), "from": _json(q.start), "to": _json(q.end)}
                for q in self.quiet_hours
            ],
            "fallback": dict(self.fallback),
            "goals": [
                {
                    "outcome": g.outcome,
                    "event": g.event,
                    "where": _json(g.where),
                    "condition": _json(g.condition),
                    **({"start": g.start} if g.start is not None else {}),
                }
                for g in self.goals
            ],
            **({"params": dict(self.params)} if self.params else {}),
            "variables": {k: str(v) for k, v in self.variables.items()},
            "start": self.start,
            "nodes": [n.to_json() for n in self.nodes.values()],
            # (only when given, so the graphs of journeys without it keep their bytes)
            **({"stale_after": _json(self.stale_after)} if self.stale_after is not None else {}),
            **(
                {
                    "send_windows": [
                        {
                            "channels": list(w.channels),
                            "days": list(w.days),
                            "from": _json(w.start),
                            "to": _json(w.end),
                        }
                        for w in self.send_windows
                    ]
                }
                if self.send_windows
                else {}
            ),
        }


def reachable_from(journey: Journey, starts: Iterable[str | None]) -> set[str]:
    """The ids of ``journey`` reachable from ``starts`` (themselves included; None names none)."""
    seen: set[str] = set()
    stack = [s for s in starts if s]
    while stack:
        nid = stack.pop()
        if nid not in seen and nid in journey.nodes:
            seen.add(nid)
            stack.extend(journey.nodes[nid].successors())
    return seen


def edges(node: Node) -> list[tuple[str, str | None]]:
    """The edges leaving ``node``, each with its label ("" for plain sequence), as every graph of
    a journey draws them (``journeydsl graph`` in Mermaid and DOT, the SVG of the HTML report): a
    target of None is the end of the journey. A wait without a timeout has no timeout edge."""
    match node:
        case Branch():
            return [("yes", node.then), ("no", node.otherwise)]
        case WaitFor():
            out: list[tuple[str, str | None]] = [("happened", node.then)]
            if node.timeout is not None:
                out.append(("timeout", node.on_timeout))
            return out
        case WaitFirst():
            first = node.labelled_edges()
            return first + ([("timeout", node.on_timeout)] if node.timeout is not None else [])
        case RepeatCheck():
            return [("round", node.body), ("done", node.exit)]
        case Switch():
            return [*node.labelled_edges(), ("else", node.otherwise)]
        case Split() | Parallel():
            return node.labelled_edges()
        case Ticket(waits=True):
            return node.labelled_edges()
        case Exit():
            return []
        case Decide():
            return [("answer", node.next), *node.labelled_edges()]
        case Enter(refusal_exit=True):  # enter: hand-off to another journey
            return [("entered", node.next), ("not entered", node.refused)]
    if (own := getattr(node, "graph_edges", None)) is not None:  # choose (ir_offers.py)
        return list(own())
    exits = getattr(node, "exits", None)  # nodes with exits of their own (ir_rewards.Reward)
    return list(exits()) if exits is not None else [("", getattr(node, "next", None))]


def describe(node: Node, *, full: bool = False) -> str:
    """What a step does, in a few words (reports, graphs). ``full`` adds a wait's timeout, a set's
    value and the internal steps of a repeat (see :mod:`journeydsl.ir_describe`)."""
    from journeydsl.ir_describe import describe as words

    return words(node, full=full)
