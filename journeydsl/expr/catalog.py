"""The catalog as the type checker sees it: the event types with their typed fields, the
profile attributes and the message templates. :mod:`journeydsl.catalog` reads it from the
events and templates YAML files."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from journeydsl import ast as A
from journeydsl.diagnostics import Span
from journeydsl.expr.types import STRING, TIMESTAMP, Type, record

__all__ = [
    "BudgetSpec",
    "Catalog",
    "DecisionSpec",
    "EventSpec",
    "OfferCatalogue",
    "OfferSpec",
    "TemplateSpec",
]


@dataclass(frozen=True, slots=True)
class EventSpec:
    """An event type and its typed fields. Every event also has ``at`` (a timestamp)."""

    name: str
    fields: Mapping[str, Type]

    def field_type(self, name: str) -> Type | None:
        """The type of ``name`` (``at`` included), or None if the event has no such field."""
        if name == "at":
            return TIMESTAMP
        return self.fields.get(name)


@dataclass(frozen=True, slots=True)
class TemplateSpec:
    """A message template: its category, the channels it exists on and its typed params, and
    optionally its registered text (``texts``: channel → text, ``"*"`` for every channel), which
    contact policies check for labels such as ``[QC]``."""

    name: str
    category: str
    channels: tuple[str, ...]
    params: Mapping[str, Type]
    texts: Mapping[str, str] = field(default_factory=dict)
    #: The message as the customer reads it, with ``{param}`` placeholders (channel → body,
    #: ``"*"`` for every channel): what ``journeydsl preview`` renders.
    bodies: Mapping[str, str] = field(default_factory=dict)

    def text(self, channel: str) -> str | None:
        """The registered text on ``channel``, if the catalog gives one."""
        return self.texts.get(channel, self.texts.get("*"))

    def body(self, channel: str) -> str | None:
        """The body on ``channel``, else the registered text, if the catalog gives either."""
        return self.bodies.get(channel, self.bodies.get("*")) or self.text(channel)


# ---------------------------------------------------------------- decision functions


@dataclass(frozen=True, slots=True)
class DecisionSpec:
    """A decision function the host registers (``credit.preapproved_limit``): its typed params
    and the type of its answer (a single value, or a record of fields)."""

    name: str
    params: Mapping[str, Type]
    answer: Type


# ---------------------------------------------------------------- offers: the offer catalogue


@dataclass(frozen=True, slots=True)
class OfferSpec:
    """One offer of an offer catalogue: who may get it (``eligible``, a bool expression), how
    good it is (``rank``, a number expression), how often one customer may get it (``cap``),
    when it may be given (``valid_from`` <= now < ``valid_until``, aware), and its ``payload``
    (the catalogue's declared fields, typed)."""

    id: str
    label: str
    eligible: A.Expr | None = None  # (None: everyone)
    rank: A.Expr | None = None  # (None: 0)
    cap: int | None = None
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    payload: Mapping[str, Any] = field(default_factory=dict)
    span: Span | None = None  # (where the offer is declared)


@dataclass(frozen=True, slots=True)
class OfferCatalogue:
    """An offer catalogue (``offers:`` in the events catalog): its offers in declaration order
    (ties of rank go to the one declared first), the payload fields each offer gives, with their
    types, and the ``fallback`` offer given when none is eligible (it is not ranked)."""

    name: str
    offers: tuple[OfferSpec, ...]
    payload: Mapping[str, Type] = field(default_factory=dict)
    fallback: OfferSpec | None = None
    label: str = ""

    def chosen_type(self) -> Type:
        """The type of a chosen offer: a record of ``id``, ``label`` and the payload fields."""
        # (``values`` marks the record as a chosen offer, for the messages that name it)
        return replace(record({"id": STRING, "label": STRING, **self.payload}), values=("offer",))


# ---------------------------------------------------------------- reward budgets


@dataclass(frozen=True, slots=True)
class BudgetSpec:
    """A campaign's reward budget (``budgets:`` in the events catalog): an amount of money
    (``currency`` set) or a quota of ``total`` rewards (``currency`` None), usable from
    ``starts`` to ``ends`` (dates in the journey's time zone, both included) when given."""

    name: str
    total: Decimal
    currency: str | None
    starts: date | None = None
    ends: date | None = None
    label: str = ""


@dataclass(slots=True)
class Catalog:
    """Everything a journey's expressions and sends are checked against.

    ``optional`` holds the attributes declared ``optional: true`` (some profiles lack them: a
    value read from one needs a fallback), ``defaults`` the value each attribute with a
    ``default:`` reads as for a profile that lacks it."""

    events: dict[str, EventSpec] = field(default_factory=dict)
    attributes: dict[str, Type] = field(default_factory=dict)
    optional: set[str] = field(default_factory=set)
    defaults: dict[str, Any] = field(default_factory=dict)
    templates: dict[str, TemplateSpec] = field(default_factory=dict)
    #: The decision functions (``decisions:`` in the events catalog), by dotted name.
    decisions: dict[str, DecisionSpec] = field(default_factory=dict)
    #: The offer catalogues (``offers:`` in the events catalog), by name.
    offers: dict[str, OfferCatalogue] = field(default_factory=dict)

    #: Reward budgets (``budgets:`` in the events catalog), by name.
    budgets: dict[str, BudgetSpec] = field(default_factory=dict)
    #: Whether an events (a templates) catalog was loaded: named by the journey, read, and a
    #: mapping with its section. A catalog that could not be loaded leaves it False.
    has_events: bool = False
    has_templates: bool = False
