"""The ``decisions:`` section of a behaviour file, checked against the journeys of the run
before a customer is simulated (docs/simulate.md, "Decision functions in simulations").

A mistake here would not stop a run: the ``decide`` step would get no answer, or one the
engine refuses, and take its error exit, so the funnel would show a share of ``no_answer``
that no real decision engine gives. So each is reported at its line and column:

* **errors** (the run does not start): a function no journey of the run calls, while they call
  others (a misspelt name: the journeys' functions would get no answer); ``by:`` naming a
  profile attribute the file does not draw (no row would ever match); a table row for a value
  no customer has; an answer that does not fit the function's declared answer type (a field the
  record lacks or does not have, an enum value outside its list, ``"yes"`` for a bool, an
  amount that is not one, in the currency's decimal places); a function that answers nothing
  although not every call fails.
* **warnings** (the run goes on, as docs/simulate.md says it does): a function a journey calls
  that the file does not answer (every call fails as an error), customers that match no row
  of a table without ``answer:`` for the rest (their calls fail), a ``decisions:`` section for
  journeys that call no decision function.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from journeydsl import ir
from journeydsl.diagnostics import did_you_mean
from journeydsl.expr.types import Type
from journeydsl.money import Money, places_beyond
from journeydsl.runtime.decide import typed_answer
from journeydsl.simulate.behaviour import Behaviour, Choice, DecisionModel, LoadedBehaviour
from journeydsl.simulate.behaviour_general import FieldSpec, GeneralBehaviour
from journeydsl.simulate.decisions import answer_value
from journeydsl.yamlfile import FileError, YamlDocument

__all__ = ["check_decisions"]

Loc = tuple[str | int, ...]
#: The values a profile attribute takes, as a table row's key spells them (None: any value,
#: e.g. an amount, which no row can list).
Values = frozenset[str] | None
#: How many combinations of values a message lists before "... and N more".
_SHOWN = 3


def _hint(name: str, candidates: Iterable[str]) -> str:
    found = did_you_mean(name, candidates)
    return f" — {found}" if found else ""


def _text(value: Any) -> str:
    """A value as a row key spells it (the simulated decision joins them the same way)."""
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def _listed(items: Sequence[str]) -> str:
    shown = ", ".join(f"'{i}'" for i in items[:_SHOWN])
    return shown + (f" ... and {len(items) - _SHOWN} more" if len(items) > _SHOWN else "")


class _Check:
    """One behaviour file's ``decisions:`` against the journeys' ``decide`` steps."""

    def __init__(self, loaded: LoadedBehaviour, journeys: Sequence[ir.Journey]) -> None:
        self.doc: YamlDocument = loaded.doc
        self.model = loaded.model
        self.errors: list[FileError] = []
        self.warnings: list[FileError] = []
        self.types: dict[str, Type] = {}
        self.callers: dict[str, list[str]] = {}
        for j in journeys:
            for node in j.nodes.values():
                if isinstance(node, ir.Decide):
                    self.types.setdefault(node.function, node.answer)
                    self.callers.setdefault(node.function, []).append(f"{j.id}.{node.id}")
        self.populations = _populations(self.model)

    def error(self, loc: Loc, message: str, *, key: bool = False) -> None:
        self.errors.append(self.doc.error(loc, message, key=key))

    def warning(self, loc: Loc, message: str, *, key: bool = False) -> None:
        self.warnings.append(replace(self.doc.error(loc, message, key=key), severity="warning"))

    # ------------------------------------------------------------------ the section

    def run(self) -> list[FileError]:
        models = self.model.decisions
        if models and not self.types:
            self.warning(
                ("decisions",),
                "no journey of this run calls a decision function (a `decide` step): "
                "'decisions:' is not used",
                key=True,
            )
            return self.warnings
        for name, model in models.items():
            loc: Loc = ("decisions", name)
            t = self.types.get(name)
            if t is None:
                called = ", ".join(sorted(self.types))
                self.error(
                    loc,
                    f"no journey of this run calls decision function '{name}' (they call "
                    f"{called}): its answers would never be used" + _hint(name, self.types),
                    key=True,
                )
                continue
            self.function(name, model, t, loc)
        for name, callers in sorted(self.callers.items()):
            if name not in models:
                self.warning(
                    ("decisions",) if "decisions" in _keys(self.doc) else (),
                    f"{', '.join(callers)} calls decision function '{name}', which this file "
                    "does not answer: every call fails as an error (describe it under "
                    f"'decisions: {name}:')",
                    key=True,
                )
        return sorted(self.errors + self.warnings, key=lambda e: (e.line, e.column))

    def function(self, name: str, model: DecisionModel, t: Type, loc: Loc) -> None:
        what = f"the answer of {name}"
        if model.answer is not None:
            self.answer(model.answer, t, (*loc, "answer"), what)
        if model.answer is None and not model.table and model.errors + model.timeouts < 1:
            self.error(
                loc,
                f"'{name}' gives no answer (neither 'answer:' nor 'by:' with a 'table:'), yet "
                "not every call fails: give the answer, or 'errors: 1' for a function that "
                "always fails",
                key=True,
            )
        known = self.by(model, loc)
        for row, spec in model.table.items():
            self.answer(spec, t, (*loc, "table", row), what)
        if known is not None and model.table:
            self.rows(name, model, known, loc)

    # ------------------------------------------------------------------ tables

    def by(self, model: DecisionModel, loc: Loc) -> list[Values] | None:
        """The values each ``by:`` attribute takes (None when one of them is not drawn)."""
        drawn = sorted({a for p in self.populations for a in p})
        out: list[Values] = []
        ok = True
        for i, attribute in enumerate(model.by):
            if not any(attribute in p for p in self.populations):
                ok = False
                has = ", ".join(drawn) if drawn else "none"
                self.error(
                    (*loc, "by", i),
                    f"no customer of this file has an attribute '{attribute}' (its profiles "
                    f"draw {has}): no row of the table would ever match" + _hint(attribute, drawn),
                )
                continue
            values: set[str] | None = set()
            for p in self.populations:
                found = p.get(attribute, frozenset({"None"}))  # (a group without it: "None")
                values = None if values is None or found is None else values | found
            out.append(None if values is None else frozenset(values))
        return out if ok else None

    def rows(self, name: str, model: DecisionModel, known: list[Values], loc: Loc) -> None:
        """Rows for values no customer has (errors); customers no row answers (a warning)."""
        for row in model.table:
            parts = row.split(", ") if len(model.by) > 1 else [row]
            where = (*loc, "table", row)
            if len(parts) != len(model.by):
                self.error(
                    where,
                    f"a row of a table keyed by {', '.join(model.by)} names one value of each, "
                    "joined by ', ' (e.g. '"
                    + ", ".join(f"<{a}>" for a in model.by)
                    + f"'); '{row}' has {len(parts)}",
                    key=True,
                )
                continue
            for attribute, part, values in zip(model.by, parts, known, strict=True):
                if values is not None and part not in values:
                    self.error(
                        where,
                        f"no customer has {attribute} '{part}' (this file draws "
                        f"{_listed(sorted(values))}): the row would never answer"
                        + _hint(part, values),
                        key=True,
                    )
        if model.answer is not None or model.errors + model.timeouts >= 1:
            return
        missed = sorted(
            {
                ", ".join(combo)
                for p in self.populations
                if all(p.get(a, frozenset({"None"})) is not None for a in model.by)
                for combo in itertools.product(
                    *(sorted(p.get(a) or frozenset({"None"})) for a in model.by)
                )
            }
            - set(model.table)
        )
        if missed:
            self.warning(
                (*loc, "table"),
                f"customers with {', '.join(model.by)} {_listed(missed)} match no row, and "
                f"'{name}' has no 'answer:' for the rest: their calls fail as errors",
                key=True,
            )

    # ------------------------------------------------------------------ answers

    def answer(self, spec: Any, t: Type, loc: Loc, what: str) -> None:
        """Whether ``spec`` (an answer, or a record's fields, each a constant or a weighted
        choice) can only draw values of type ``t``."""
        if t.kind == "record":
            fields = dict(t.fields or ())
            if not isinstance(spec, Mapping):
                self.error(
                    loc,
                    f"{what} is a record: give its fields {', '.join(fields)}, each a value or "
                    "a weighted 'choice'",
                )
                return
            for field, value in spec.items():
                if field in fields:
                    self.answer(value, fields[field], (*loc, field), f"field '{field}' of {what}")
                else:
                    self.error(
                        (*loc, field),
                        f"{what} has no field '{field}' (it has {', '.join(fields)})"
                        + _hint(str(field), fields),
                        key=True,
                    )
            missing = [f for f in fields if f not in spec]
            if missing:
                self.error(
                    loc,
                    f"{what} lacks the field{'s' * (len(missing) > 1)} "
                    f"{', '.join(repr(m) for m in missing)}: the engine refuses an answer "
                    "without every field of the record",
                    key=True,
                )
            return
        try:
            choice = Choice.model_validate(spec)
        except ValidationError as exc:
            detail = exc.errors()[0]["msg"].removeprefix("Value error, ")
            self.error(loc, f"{what}: {detail}")
            return
        drawn: list[tuple[Any, Loc, bool]] = (
            [(k, (*loc, "choice", k), True) for k in choice.choice]
            if choice.choice is not None
            else [(choice.value, loc, False)]
        )
        for raw, where, key in drawn:
            problem = _refused(raw, t)
            if problem is not None:
                self.error(where, f"{what} is {problem}", key=key)


def _refused(raw: Any, t: Type) -> str | None:
    """Why the engine would refuse ``raw`` as a value of ``t`` (what the value should be), or
    None when it takes it."""
    shown = _text(raw)
    written = answer_value(raw, t)
    amount = written.amount if isinstance(written, Money) else written
    if t.kind == "money" and isinstance(amount, Decimal) and amount.is_finite():
        beyond = places_beyond(amount, t.currency or "")
        if beyond is not None:
            places = beyond[1]
            return (
                f"an amount in {t.currency}, which has "
                f"{places or 'no'} decimal place{'s' * (places != 1)}; '{shown}' has more"
            )
    try:
        value = typed_answer(written, t)
    except ValueError:
        if t.kind == "enum" and t.values:
            return f"one of {', '.join(t.values)}; '{shown}' is not" + _hint(shown, t.values)
        if t.kind == "bool":
            return f'true or false (as a choice key "true" or "false"); \'{shown}\' is not'
        if t.kind == "money":
            return f"an amount in {t.currency} (e.g. \"20_000_000\"); '{shown}' is not"
        return f"{t}; '{shown}' is not"
    if t.kind == "int" and isinstance(value, Decimal):
        return f"a whole number; '{shown}' is not"
    return None


def _keys(doc: YamlDocument) -> set[str]:
    return set(doc.data) if isinstance(doc.data, Mapping) else set()


def _values(spec: FieldSpec | Choice) -> Values:
    """The values an attribute drawn by ``spec`` takes, as a row key spells them."""
    if isinstance(spec, FieldSpec) and spec.probability is not None:
        return frozenset({"true", "false"})
    if spec.choice is not None:
        return frozenset(spec.choice)
    value = spec.value
    if value is None or (isinstance(value, str) and "{" in value):
        return None  # an amount, a number, another event's field, a text made per customer
    return frozenset({_text(value)})


def _populations(model: Behaviour | GeneralBehaviour) -> list[dict[str, Values]]:
    """Per group of customers (a segment, or everyone), the attributes their profiles have and
    the values each takes."""
    if isinstance(model, Behaviour):
        share = model.profiles.app_share
        app = frozenset((["true"] if share > 0 else []) + (["false"] if share < 1 else []))
        drawn: dict[str, Values] = {n: _values(c) for n, c in model.profiles.attributes.items()}
        return [{**drawn, "has_digital_app": app}]
    base: dict[str, Values] = {n: _values(s) for n, s in model.profiles.attributes.items()}
    if not model.segments:
        return [base]
    out = []
    for segment in model.segments:
        group = {**base, **{n: _values(s) for n, s in segment.attributes.items()}}
        group.setdefault("behaviour_segment", frozenset({segment.name}))
        out.append(group)
    return out


def check_decisions(loaded: LoadedBehaviour, journeys: Sequence[ir.Journey]) -> list[FileError]:
    """The errors and warnings of the module docstring, in file order (each with its
    severity): ``loaded``'s ``decisions:`` against the ``decide`` steps of ``journeys`` (every
    journey of the run: a ``--compare`` variant's functions count too)."""
    return _Check(loaded, journeys).run()
