"""The base of the YAML form's tables (:mod:`journeydsl.syntax.shapes`): the kinds of value a
key takes, a key, a shape, and how a step's shape is made."""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = ["ID_KEY", "K", "Key", "Shape", "ValueKind"]


class ValueKind(enum.StrEnum):
    """What a key's value must look like. Scalars are always read as their raw text."""

    NAME = "name"  #: an identifier scalar
    EXPR = "expr"  #: an expression (a YAML int or bool is an expression too)
    EXPRS = "exprs"  #: comma-separated expressions (``case: 1, 4``) or a list of them
    INT = "int"  #: a whole number
    STRING = "string"  #: any scalar, taken as text
    TIME = "time"  #: a local time of day, ``"HH:MM"``
    CATEGORY = "category"  #: ``marketing`` or ``transactional``
    TRUE = "true"  #: the scalar ``true`` (``manual: true``)
    STEPS = "steps"  #: a list of step mappings
    PARAMS = "params"  #: a mapping name -> expression
    NAMES = "names"  #: a list of names (a single name is a list of one)
    FALLBACK = "fallback"  #: a list of channel names, or ``none`` for no fallback
    CHAINS = "chains"  #: one fallback chain ``[push, zns, sms]`` or a list of chains
    WEIGHT = "weight"  #: a percentage, ``45%`` or ``45``
    CASES = "cases"  #: a list of :data:`CASE` mappings
    ARMS = "arms"  #: a list of :data:`ARM` mappings
    HOLDOUT = "holdout"  #: a weight, or a :data:`HOLDOUT` mapping
    REENTRY = "reentry"  #: ``once``, ``always`` or ``after DURATION``
    USES = "uses"  #: a :data:`USES` mapping
    ENTRY = "entry"  #: one of :data:`ENTRY_SHAPES`, or the scalar ``manual``
    QUIET_HOURS = "quiet_hours"  #: a list of :data:`QUIET_HOURS` mappings
    GOALS = "goals"  #: a list of :data:`GOAL` mappings
    SCHEDULE = "schedule"  #: a segment's schedule in DSL words, ``weekly on mon at 09:00``
    SEND_WINDOWS = "send_windows"  #: a list of :data:`SEND_WINDOW` mappings
    DRAW = "draw"  #: ``per_customer`` or ``per_entry``
    BRANCHES = "branches"  #: a list of :data:`FIRST_BRANCH_SHAPES` mappings
    JOIN = "join"  #: ``all`` or ``first`` (how a parallel block joins)
    PARALLEL_BRANCHES = "parallel_branches"  #: a list of :data:`PARALLEL_BRANCH` mappings
    HANDLERS = "handlers"  #: a list of :data:`DURING_HANDLER` mappings (``during`` step)


@dataclass(frozen=True, slots=True)
class Key:
    """One key of a shape: its value kind, whether it must be given, what it means, an example."""

    name: str
    kind: ValueKind
    doc: str
    required: bool = False
    example: str = ""
    min_items: int = 0  #: for list kinds: the fewest items allowed


@dataclass(frozen=True, slots=True)
class Shape:
    """A mapping the YAML form allows.

    ``head`` is the key that names a step (or entry) kind, None for plain records. ``exclusive``
    lists groups of keys of which at most one may be given.
    """

    name: str
    doc: str
    keys: tuple[Key, ...]
    head: Key | None = None
    exclusive: tuple[tuple[str, ...], ...] = ()
    #: Keys of which one must be given (when none of them is marked required).
    one_of: tuple[str, ...] = ()

    @property
    def all_keys(self) -> tuple[Key, ...]:
        """The head (if any) followed by the other keys."""
        return ((self.head,) if self.head else ()) + self.keys

    def key(self, name: str) -> Key | None:
        """The key called ``name``, or None."""
        for k in self.all_keys:
            if k.name == name:
                return k
        return None

    @property
    def key_names(self) -> tuple[str, ...]:
        """The names of all keys, head first."""
        return tuple(k.name for k in self.all_keys)


K = ValueKind

#: Every step may carry an id, which names it in reports, traces and ``journey.node``.
ID_KEY = Key("id", K.NAME, "The step's id, used in reports and traces.", example="id: welcome")

_STEPS = "steps"


def _step(head: Key, doc: str, *keys: Key, exclusive: tuple[tuple[str, ...], ...] = ()) -> Shape:
    return Shape(f"{head.name} step", doc, (ID_KEY, *keys), head=head, exclusive=exclusive)


def _params(doc: str) -> Key:
    return Key("params", K.PARAMS, doc, example="params: {card_id: trigger.card_id}")
