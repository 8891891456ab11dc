"""The source-level model of a journey: what both spellings (YAML and the textual DSL) produce.

Every node carries a :class:`~journeydsl.diagnostics.Span`. Spans take no part in equality, so the
YAML and DSL spellings of one journey give *equal* ASTs; that is the contract `fmt` relies on.
Nodes are frozen, slotted dataclasses: the AST is a value.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal, TypeAlias

from journeydsl.ast_decide import Decide  # decide: a decision call
from journeydsl.ast_offers import ChooseOffer  # choose: the offer catalogue
from journeydsl.ast_reuse import Enter, Include  # hand-off and fragments (reuse)
from journeydsl.diagnostics import Span

__all__ = [
    "CATEGORIES",
    "CHANNELS",
    "PRIORITIES",
    "Action",
    "Aggregate",
    "Arm",
    "Attr",
    "Binary",
    "BoolLit",
    "Break",
    "By",
    "Call",
    "Case",
    "ChooseOffer",
    "Cond",
    "DateLit",
    "Decide",
    "DurationLit",
    "During",
    "DuringHandler",
    "Enter",
    "Entry",
    "Exit",
    "ExitWith",
    "Expr",
    "FallbackChain",
    "FirstBranch",
    "Goal",
    "Ident",
    "If",
    "Include",
    "Journey",
    "ListExpr",
    "MoneyLit",
    "Name",
    "NumberLit",
    "Parallel",
    "ParallelBranch",
    "Param",
    "QuietHours",
    "Reentry",
    "Repeat",
    "Schedule",
    "Send",
    "SendWindow",
    "Set",
    "Split",
    "Step",
    "Steps",
    "StringLit",
    "Switch",
    "Tag",
    "Ticket",
    "TimeLit",
    "Timeout",
    "TimestampLit",
    "Unary",
    "Update",
    "Wait",
    "WaitFirst",
    "WaitFor",
    "WaitUntil",
    "Window",
]

#: Channels a journey can send on, in the order reports list them.
CHANNELS: tuple[str, ...] = ("email", "sms", "zns", "push", "inapp")
#: Message categories; consent and anti-spam rules differ between them.
CATEGORIES: tuple[str, ...] = ("marketing", "transactional")
#: Ticket priorities, lowest first.
PRIORITIES: tuple[str, ...] = ("low", "normal", "high", "urgent")

_NO_SPAN = Span("<generated>", 1, 1, 1, 1)


def _span() -> Span:
    return field(default=_NO_SPAN, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Ident:
    """A name written in the source (a template, channel, outcome, variable …) with its span."""

    name: str
    span: Span = _span()


# --------------------------------------------------------------------------- expressions


@dataclass(frozen=True, slots=True)
class BoolLit:
    """``true`` / ``false``."""

    value: bool
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class NumberLit:
    """An integer or decimal literal as written, e.g. ``1_000_000`` or ``0.5``."""

    text: str
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class StringLit:
    """A string literal (its value, without quotes)."""

    value: str
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class MoneyLit:
    """An amount with an ISO 4217 currency, e.g. ``1_000_000 VND``."""

    amount: str
    currency: str
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class DurationLit:
    """A duration such as ``30d``, ``12h``, ``90m``, ``2w`` or ``45s``."""

    text: str
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class TimeLit:
    """A local time of day, ``HH:MM``."""

    text: str
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class DateLit:
    """A calendar date, ``2026-01-15``."""

    text: str
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class TimestampLit:
    """A point in time, ``2026-01-15T09:00``: in the customer's zone, or at an explicit offset
    (``2026-01-15T09:00+07:00``, ``…Z``) or zone (``2026-01-15T09:00[Europe/Berlin]``)."""

    text: str
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Name:
    """A bare name: a variable, a loop counter, a built-in (``now``, ``entered_at``,
    ``customer_id``, ``entry``) or, where an event is expected, an event type."""

    name: str
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Attr:
    """``obj.name``: ``profile.segment``, ``trigger.card_id``, ``transaction.amount``."""

    obj: Expr
    name: str
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Unary:
    """``-x`` or ``not x``."""

    op: Literal["-", "not"]
    operand: Expr
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Binary:
    """An arithmetic, comparison, membership (``in``) or boolean (``and``/``or``) operation."""

    op: str
    left: Expr
    right: Expr
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Cond:
    """``if test then a else b``."""

    test: Expr
    then: Expr
    otherwise: Expr
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class ListExpr:
    """``[a, b, c]``; used with ``in``."""

    items: tuple[Expr, ...]
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Call:
    """A plain function call such as ``date(activated_at + 30d)``."""

    func: str
    args: tuple[Expr, ...]
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Window:
    """The time window of an aggregate.

    ``since ANCHOR [within DURATION]`` (``kind="since"``) where the anchor is ``entry``, an event
    type (its most recent occurrence) or a timestamp expression; or ``in last DURATION``
    (``kind="last"``). An aggregate without a window covers the customer's whole history.
    """

    kind: Literal["since", "last"]
    anchor: Expr | None
    duration: Expr | None
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class By:
    """The ranking of ``top(E.f by count | sum(E.g) …)``."""

    func: Literal["count", "sum"]
    field: Expr | None
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Aggregate:
    """An aggregate over a customer's events.

    ``func`` is one of count, has, sum, min, max, last, top. ``target`` is the event type
    (:class:`Name`) for count/has, else ``E.field`` (:class:`Attr`). ``default`` is the value
    when no event matches (min, max, last, top).
    """

    func: str
    target: Expr
    by: By | None = None
    where: Expr | None = None
    window: Window | None = None
    default: Expr | None = None
    span: Span = _span()


Expr: TypeAlias = (
    BoolLit
    | NumberLit
    | StringLit
    | MoneyLit
    | DurationLit
    | TimeLit
    | DateLit
    | TimestampLit
    | Name
    | Attr
    | Unary
    | Binary
    | Cond
    | ListExpr
    | Call
    | Aggregate
)


# --------------------------------------------------------------------------- steps


@dataclass(frozen=True, slots=True)
class Param:
    """``name: expr`` in a send's params, a ticket's payload or an action's params; a journey
    parameter (``param name = literal``)."""

    name: Ident
    value: Expr
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Send:
    """Send ``template`` on ``channel``.

    ``category`` defaults to the template's. ``fallback`` overrides the journey's fallback
    chain for this send: None keeps the journey's, an empty tuple means no fallback.
    """

    template: Ident
    channel: Ident
    category: Ident | None = None
    params: tuple[Param, ...] = ()
    fallback: tuple[Ident, ...] | None = None
    id: Ident | None = None
    #: Labels of the message (``tags [lapsed, promo]``): recorded with it and counted by the
    #: frequency caps scoped to them.
    tags: tuple[Ident, ...] = ()
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Wait:
    """Wait for a duration."""

    duration: Expr
    id: Ident | None = None
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class WaitUntil:
    """Wait until a timestamp, or until the next local time of day (``wait until 09:00``), or
    the next one on some days (``wait until next weekday 09:00``: ``next`` names the days)."""

    at: Expr
    id: Ident | None = None
    span: Span = _span()
    next: tuple[Ident, ...] = ()


@dataclass(frozen=True, slots=True)
class Timeout:
    """How long a ``wait for`` waits: ``within DURATION`` or ``until TIMESTAMP``."""

    kind: Literal["within", "until"]
    value: Expr
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class WaitFor:
    """Wait for an event (``target`` is an event type, with an optional ``where``) or for a
    condition to become true, with an optional timeout. ``then`` runs when it happens,
    ``on_timeout`` when the timeout passes; both continue after the step unless they exit."""

    target: Expr
    where: Expr | None = None
    timeout: Timeout | None = None
    then: Steps = ()
    on_timeout: Steps = ()
    id: Ident | None = None
    span: Span = _span()
    #: ``wait for EVENT as NAME``: the name the event that ended the wait is read by.
    bind: Ident | None = None


@dataclass(frozen=True, slots=True)
class FirstBranch:
    """One branch of a ``wait first``: an event (``on EVENT [where COND]``) or a condition
    (``when COND``), and the steps to run when it is the first to happen."""

    event: Ident | None = None
    where: Expr | None = None
    condition: Expr | None = None
    steps: Steps = ()
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class WaitFirst:
    """Wait for the first of several events or conditions (``wait first { on a {…} when c {…}
    timeout {…} }``): the branch that happens first runs; at the same instant the one written
    first wins. ``on_timeout`` runs when the timeout passes first. Every branch continues after
    the step unless it exits."""

    branches: tuple[FirstBranch, ...]
    timeout: Timeout | None = None
    on_timeout: Steps = ()
    id: Ident | None = None
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class If:
    """``if cond { then } else { otherwise }``."""

    cond: Expr
    then: Steps = ()
    otherwise: Steps = ()
    id: Ident | None = None
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Case:
    """One arm of a switch: runs when the subject equals any of ``values``."""

    values: tuple[Expr, ...]
    steps: Steps = ()
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Switch:
    """Multi-way branch on the value of ``subject``; ``otherwise`` when no case matches."""

    subject: Expr
    cases: tuple[Case, ...]
    otherwise: Steps = ()
    id: Ident | None = None
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Arm:
    """A weighted arm of a split; ``weight`` is a percentage with at most two decimals."""

    weight: Decimal
    steps: Steps = ()
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Split:
    """A deterministic random split by percentage, with an optional holdout (control) arm.

    A customer's arm is a stable hash of (journey, node, customer), so it never changes across
    runs or versions. With ``draw="entry"`` (``split per entry``) the hash takes the instance and
    the visit too: each entry (and each pass through a loop) draws anew. Customers in the
    holdout are marked as control and get its steps (usually none) so their outcomes can be
    compared.
    """

    arms: tuple[Arm, ...]
    holdout: Arm | None = None
    id: Ident | None = None
    draw: Literal["customer", "entry"] = "customer"
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Repeat:
    """Repeat ``steps`` at most ``max`` times while ``until`` is false.

    ``until`` is checked before every round. ``counter`` names the round number (1, 2, …).
    """

    max: int
    steps: Steps
    counter: Ident | None = None
    until: Expr | None = None
    id: Ident | None = None
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Ticket:
    """Open a ticket in ``queue`` (telesales, customer care …) with a payload.

    With ``accepted`` or ``not_accepted`` (either written, even empty: None when not), the
    step waits for the queue's decision and runs the matching block; both continue after the
    step unless they exit."""

    queue: Ident
    priority: Expr | None = None
    payload: tuple[Param, ...] = ()
    id: Ident | None = None
    span: Span = _span()
    # ticket exits (accepted / not accepted)
    accepted: Steps | None = None
    not_accepted: Steps | None = None

    @property
    def waits(self) -> bool:
        """Whether the step waits for the queue's decision (it has an exit block)."""
        return self.accepted is not None or self.not_accepted is not None


@dataclass(frozen=True, slots=True)
class Update:
    """Set a profile attribute."""

    attribute: Ident
    value: Expr
    id: Ident | None = None
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Tag:
    """Add (or, with ``remove``, take away) a profile tag."""

    tag: Ident
    remove: bool = False
    id: Ident | None = None
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Action:
    """A reward or a custom action, carried out by a handler the host registers by name."""

    kind: Literal["reward", "action"]
    name: Ident
    params: tuple[Param, ...] = ()
    id: Ident | None = None
    span: Span = _span()
    # reward budgets: ``reward NAME from BUDGET [amount EXPR] [granted {…}] [exhausted {…}]``
    budget: Ident | None = None
    amount: Expr | None = None
    granted: Steps | None = None
    exhausted: Steps | None = None


@dataclass(frozen=True, slots=True)
class Set:
    """Set a journey variable; the first ``set`` of a name declares it and fixes its type."""

    var: Ident
    value: Expr
    id: Ident | None = None
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Exit:
    """End the instance with a declared outcome."""

    outcome: Ident
    id: Ident | None = None
    span: Span = _span()


# ---------------------------------------------------------------- parallel (concurrent paths)


@dataclass(frozen=True, slots=True)
class ParallelBranch:
    """One branch of a ``parallel`` block: steps that run alongside the other branches."""

    steps: Steps = ()
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Parallel:
    """Run ``branches`` at the same time (``parallel all { branch {…} branch {…} }``).

    With ``join="all"`` the step ends when every branch has ended; with ``join="first"`` it ends
    when the first branch ends (at one instant the branch written first), and the others are
    cancelled. An ``exit`` in a branch ends the whole instance."""

    join: Literal["all", "first"]
    branches: tuple[ParallelBranch, ...]
    id: Ident | None = None
    span: Span = _span()


# ---------------------------------------------------------------- during (interrupting handlers)


@dataclass(frozen=True, slots=True)
class DuringHandler:
    """One handler of a ``during`` block: ``on EVENT [as NAME] [where COND] { … }`` or
    ``when COND { … }``. ``wait`` holds it as the wait it is (``target`` the event's name or the
    condition, ``then`` the handler's steps); ``condition`` says it was written with ``when``."""

    wait: WaitFor
    condition: bool = False
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class During:
    """Run ``body``; while it runs, each handler waits for its event (or condition). When one
    happens, its steps run at that instant, the body is cancelled where it waits, and the
    journey goes on after the block. When the body ends first, the handlers are dropped."""

    body: Steps
    handlers: tuple[DuringHandler, ...]
    id: Ident | None = None
    span: Span = _span()


# ---------------------------------------------------------------- exit with a computed outcome


@dataclass(frozen=True, slots=True)
class ExitWith:
    """End the instance with the outcome ``value`` computes: a string that is always one of the
    declared outcomes (``exit with if tier2 then "tier2" else "none"``)."""

    value: Expr
    id: Ident | None = None
    span: Span = _span()


# ---------------------------------------------------------------- break and continue in a repeat


@dataclass(frozen=True, slots=True)
class Break:
    """Leave the innermost ``repeat`` (``break``) or start its next round (``continue``).

    It is not a step of its own in the graph: the path jumps to where the repeat goes on.
    """

    kind: Literal["break", "continue"]
    id: Ident | None = None
    span: Span = _span()


Step: TypeAlias = (
    Send
    | Parallel
    | Wait
    | WaitUntil
    | WaitFor
    | WaitFirst
    | If
    | Switch
    | Split
    | Repeat
    | Ticket
    | Update
    | Tag
    | Action
    | Set
    | Exit
    | ExitWith
    | Break
    | Decide
    | During
    | Enter
    | Include
    | ChooseOffer
)
Steps: TypeAlias = tuple[Step, ...]


# --------------------------------------------------------------------------- journey


@dataclass(frozen=True, slots=True)
class Reentry:
    """When a customer may enter again: ``once`` (ever), ``always``, or ``after DURATION``
    since their previous entry."""

    kind: Literal["once", "always", "after"]
    after: Expr | None = None
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Schedule:
    """The days a segment is evaluated on (at the entry's time of day): ``daily``, ``weekly`` on
    ``days``, ``monthly`` on ``day`` (``"1"`` to ``"31"`` or ``"last"``), ``every`` N days from
    ``start``, or ``anniversary`` (``period`` monthly or yearly) of the date ``of``; between
    ``start`` and ``end``."""

    kind: Literal["daily", "weekly", "monthly", "every", "anniversary"]
    days: tuple[Ident, ...] = ()
    day: str | None = None
    #: N of ``every N days``; None for another kind, or a number too long to read (JD105).
    every: int | None = None
    period: Literal["monthly", "yearly"] | None = None
    of: Expr | None = None
    start: DateLit | None = None
    end: DateLit | None = None
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class SendWindow:
    """Sends on ``channels`` only on ``days`` between local ``start`` and ``end`` (past midnight
    when ``end`` is not after ``start``); a send due outside waits for the next opening."""

    channels: tuple[Ident, ...]
    days: tuple[Ident, ...]
    start: TimeLit
    end: TimeLit
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Entry:
    """How customers enter.

    ``kind="event"``: on each ``event`` (optionally filtered by ``where``).
    ``kind="segment"``: customers matching ``condition``, evaluated daily at local time ``at``.
    ``kind="manual"``: only through ``Engine.enroll`` from host code.
    ``kind="when"``: the moment ``condition`` becomes true (an entry on change).
    """

    kind: Literal["event", "segment", "manual", "when"]
    event: Ident | None = None
    where: Expr | None = None
    condition: Expr | None = None
    at: TimeLit | None = None
    reentry: Reentry = Reentry("once")
    key: Expr | None = None
    #: A segment's calendar besides ``daily`` (None is daily, from and until any date).
    schedule: Schedule | None = None
    span: Span = _span()
    inputs: tuple[Param, ...] = ()  #: hand-off: ``entry manual with { NAME: TYPE, … }``


@dataclass(frozen=True, slots=True)
class QuietHours:
    """No sends on ``channels`` between local ``start`` and ``end``; due sends are deferred."""

    channels: tuple[Ident, ...]
    start: TimeLit
    end: TimeLit
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class FallbackChain:
    """``push -> zns -> sms``: each channel falls back to the next one."""

    channels: tuple[Ident, ...]
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Goal:
    """An exit criterion checked on every event: when ``target`` (an event type, with optional
    ``where``, or a condition) happens, the instance ends with ``outcome``."""

    outcome: Ident
    target: Expr
    where: Expr | None = None
    span: Span = _span()
    #: ``goal … then { … }``: steps run when the goal is reached, before the instance ends.
    steps: Steps = ()


@dataclass(frozen=True, slots=True)
class Journey:
    """A whole journey."""

    name: Ident
    version: int
    entry: Entry
    steps: Steps
    title: str | None = None
    events_catalog: StringLit | None = None
    templates_catalog: StringLit | None = None
    timezone: StringLit | None = None
    outcomes: tuple[Ident, ...] = ()
    quiet_hours: tuple[QuietHours, ...] = ()
    fallback: tuple[FallbackChain, ...] = ()
    goals: tuple[Goal, ...] = ()
    #: How late a timer may fire and still send to the customer (``stale after 12h``).
    stale_after: Expr | None = None
    send_windows: tuple[SendWindow, ...] = ()
    #: Journey parameters (``param reminder_interval = 3d``): named literals that expressions
    #: use where a literal of their type is allowed, and that ``simulate --param/--sweep``
    #: override.
    params: tuple[Param, ...] = ()
    span: Span = _span()
