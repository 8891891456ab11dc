"""What a scenario test file expects, checked against its journeys before any case runs
(docs/simulate.md, "Scenario tests").

An expectation that no run can meet does not fail loudly on its own: the case fails with a
diff, and the reader has to spot that ``kind: sendd``, ``at: "10:00 tomorrow"`` or an amount
in the wrong currency was never going to match. So these make the file invalid, each at the
value's line and column: a case's ``start``/``until`` that is not a time, an ``until`` not after
its ``start``, ``until`` with ``days``, an enrolment's ``at`` that is not a time, an ``expect``
with neither ``actions`` nor ``outcomes`` (any run would pass it); in an expected
action a field no action has, an ``at`` that is not a time, a ``kind``, ``channel``,
``template`` or ``journey`` that does not exist, and a param a send of that template does not
have or whose value cannot match its type (an amount in another currency, an enum value outside
its list, text for a yes/no); and in the ``decisions:`` stubs a function no journey calls, or an
answer that does not fit the function's declared answer type.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, Final

from journeydsl import ir
from journeydsl.ast import CHANNELS
from journeydsl.diagnostics import did_you_mean
from journeydsl.expr.types import Type
from journeydsl.yamlfile import FileError, YamlDocument

if TYPE_CHECKING:
    from journeydsl.simulate.decisions import Stub
    from journeydsl.simulate.scenarios import TestFile

__all__ = ["ACTION_KINDS", "check_expectations", "expected_time"]

#: The kinds of action a run records (docs/simulate.md, "The JSON contract").
ACTION_KINDS: Final = ("send", "suppressed", "ticket", "reward", "action", "update")
#: The fields an action can have (docs/simulate.md, "The JSON contract"; ``label``, ``tags`` and
#: ``late`` when a send has a label or tags, or a ticket or action went late): an expected action
#: that names any other can match none.
ACTION_FIELDS: Final = (
    "at",
    # (the fields a failing case shows, in this order: see scenarios.py)
    "customer_id",
    "journey",
    "node",
    "kind",
    "channel",
    "template",
    "queue",
    "priority",
    "name",
    "params",
    "payload",
    "reason",
    # (the others)
    "label",
    "tags",
    "late",
    "attribute",
    "value",
    "tag",
    "remove",
)
#: The kinds whose ``params`` are a send's (a suppressed message carries its send's params).
_SEND_KINDS: Final = frozenset({"send", "suppressed"})

Loc = tuple[str | int, ...]


def _hint(name: str, candidates: Iterable[str]) -> str:
    found = did_you_mean(name, candidates)
    return f" — {found}" if found else ""


def expected_time(raw: Any) -> str | None:
    """Why ``raw`` is not an expected action's ``at`` (a local time to the minute, or an
    instant with its offset), or None when it is one."""
    try:
        datetime.fromisoformat(str(raw).strip())
    except ValueError:
        return (
            f"'{raw}' is not a time: write the local time to the minute (2026-01-05 10:00) or "
            "an instant with its offset (2026-01-05T10:00:00+07:00)"
        )
    return None


class _Journeys:
    """What the file's journeys can produce: their ids, templates, channels and the type of
    each param of a send (by template) and of an action or reward."""

    def __init__(self, journeys: Sequence[ir.Journey]) -> None:
        self.ids = [j.id for j in journeys]
        self.send_params: dict[str, dict[str, set[str]]] = {}  # template → param → types
        self.action_params: dict[str, set[str]] = {}  # param → types
        self.types: dict[str, Type] = {}
        self.decisions: dict[str, Type] = {}  # decision function → its answer type
        for j in journeys:
            for node in j.nodes.values():
                if isinstance(node, ir.Decide):
                    self.decisions.setdefault(node.function, node.answer)
                if isinstance(node, ir.Send):
                    params = self.send_params.setdefault(node.template, {})
                    for name, e in node.params:
                        params.setdefault(name, set()).add(self._key(e.type))
                elif isinstance(node, ir.Action):
                    for name, e in node.params:
                        self.action_params.setdefault(name, set()).add(self._key(e.type))

    def _key(self, t: Type) -> str:
        self.types[str(t)] = t
        return str(t)

    def param_types(self, kind: Any, template: Any) -> tuple[bool, dict[str, set[str]]]:
        """The types each param may have in an expected action of ``kind`` (for a send: of
        ``template``), and whether its names are all it may have: a send's params are its
        step's; an action's or reward's may carry more, and an action of no given kind may be
        either."""
        out: dict[str, set[str]] = {}
        sends = (
            [self.send_params.get(template, {})]
            if isinstance(template, str)
            else self.send_params.values()
        )
        pools = [*sends] if kind in _SEND_KINDS else []
        if kind is None:
            pools = [*sends, self.action_params]
        elif kind in ("reward", "action"):
            pools = [self.action_params]
        for params in pools:
            for name, types in params.items():
                out.setdefault(name, set()).update(types)
        return kind in _SEND_KINDS or (kind is None and isinstance(template, str)), out


def check_expectations(
    doc: YamlDocument, tf: TestFile, journeys: Sequence[ir.Journey]
) -> list[FileError]:
    """The mistakes of the module docstring in the validated test file ``tf`` (its cases'
    ``start``, ``until``, ``days`` and ``expect.actions``), in file order."""
    from journeydsl.simulate.inputs import parse_time

    known = _Journeys(journeys)
    tz = journeys[0].timezone
    errors = _stubs(doc, ("decisions",), tf.decisions, known)
    for i, case in enumerate(tf.cases):
        loc: Loc = ("cases", i)
        errors += _stubs(doc, (*loc, "decisions"), case.decisions, known)
        times: dict[str, datetime] = {}
        for name in ("start", "until"):
            text = getattr(case, name)
            if text is None:
                continue
            try:
                times[name] = parse_time(text, tz)
            except ValueError as exc:
                errors.append(doc.error((*loc, name), f"'{name}': {exc}"))
        if "start" in times and "until" in times and times["until"] <= times["start"]:
            errors.append(
                doc.error(
                    (*loc, "until"),
                    f"'until' ({case.until}) is not after 'start' ({case.start}): a case runs "
                    "from its start to its until",
                )
            )
        for k, enrolment in enumerate(case.enrol):
            try:
                parse_time(enrolment.at, tz)
            except ValueError as exc:
                errors.append(doc.error((*loc, "enrol", k, "at"), str(exc)))
        if case.until is not None and case.days is not None:
            errors.append(doc.error((*loc, "days"), "give 'until' or 'days', not both", key=True))
        if case.expect.actions is None and not case.expect.outcomes:
            errors.append(
                doc.error(
                    (*loc, "expect"),
                    "the case expects nothing, so it passes whatever the journey does: give "
                    "'actions' (`actions: []` for none) or 'outcomes'",
                    key=True,
                )
            )
        for j, action in enumerate(case.expect.actions or ()):
            errors.extend(_action(doc, (*loc, "expect", "actions", j), action, known))
    return sorted(errors, key=lambda e: (e.line, e.column))


def _stubs(
    doc: YamlDocument, loc: Loc, stubs: Mapping[str, Sequence[Stub]], known: _Journeys
) -> list[FileError]:
    """Stubs of a function no journey calls (they would never answer), and stubbed answers
    that do not fit the function's declared answer type (the engine would refuse them)."""
    from journeydsl.runtime.decide import typed_answer
    from journeydsl.simulate.decisions import answer_value

    out: list[FileError] = []
    for name, listed in stubs.items():
        t = known.decisions.get(name)
        if t is None:
            called = ", ".join(sorted(known.decisions)) or "none"
            out.append(
                doc.error(
                    (*loc, name),
                    f"no journey of this file calls decision function '{name}' (they call "
                    f"{called}): its stubs would never answer" + _hint(name, known.decisions),
                    key=True,
                )
            )
            continue
        for j, stub in enumerate(listed):
            if stub.answer is None:
                continue
            try:
                typed_answer(answer_value(stub.answer, t), t)
            except ValueError as exc:
                out.append(
                    doc.error(
                        (*loc, name, j, "answer"),
                        f"the engine would refuse this answer of {name} ({t}): {exc}",
                    )
                )
    return out


def _action(
    doc: YamlDocument, loc: Loc, action: Mapping[str, Any], known: _Journeys
) -> list[FileError]:
    """The mistakes in one expected action."""
    out: list[FileError] = []
    for field in action:
        if field not in ACTION_FIELDS:
            out.append(
                doc.error(
                    (*loc, field),
                    f"an action has no field '{field}' (they are {', '.join(ACTION_FIELDS)})"
                    + _hint(str(field), ACTION_FIELDS),
                    key=True,
                )
            )
    if "at" in action and (problem := expected_time(action["at"])) is not None:
        out.append(doc.error((*loc, "at"), problem))
    kind = action.get("kind")
    for field, what, known_values in (
        ("kind", "a kind of action", ACTION_KINDS),
        ("channel", "a channel", CHANNELS),
    ):
        value = action.get(field)
        if field in action and value not in known_values:
            out.append(
                doc.error(
                    (*loc, field),
                    f"'{value}' is not {what} (they are {', '.join(known_values)})"
                    + _hint(str(value), known_values),
                )
            )
            if field == "kind":
                kind = None
    template = action.get("template")
    if "template" in action and template not in known.send_params:
        sent = sorted(known.send_params)
        out.append(
            doc.error(
                (*loc, "template"),
                f"no journey of this file sends template '{template}' (they send "
                f"{', '.join(sent) or 'none'})" + _hint(str(template), sent),
            )
        )
        template = None
    journey = action.get("journey")
    if "journey" in action and journey not in known.ids:
        out.append(
            doc.error(
                (*loc, "journey"),
                f"no journey '{journey}' in this file (it has {', '.join(known.ids)})"
                + _hint(str(journey), known.ids),
            )
        )
    params = action.get("params")
    if isinstance(params, Mapping):
        closed, types = known.param_types(kind, template)
        for name, value in params.items():
            where = (*loc, "params", name)
            if closed and name not in types:
                whose = f"template '{template}'" if template else "a send of this file"
                listed = ", ".join(sorted(types)) or "none"
                out.append(
                    doc.error(
                        where,
                        f"{whose} has no param '{name}' (params: {listed})"
                        + _hint(str(name), types),
                        key=True,
                    )
                )
                continue
            found = types.get(name, set())
            if len(found) == 1:  # (several sends of different types: any may be meant)
                problem = _value(value, known.types[next(iter(found))])
                if problem is not None:
                    out.append(doc.error(where, f"param '{name}' {problem}"))
    return out


def _value(value: Any, t: Type) -> str | None:
    """Why an expected param ``value`` cannot match a param of type ``t``, or None."""
    if t.kind == "money":
        if isinstance(value, Mapping):
            return None
        parts = str(value).replace("_", "").replace(",", "").split()
        example = f'"1_000_000 {t.currency}"'
        try:
            amount_ok = len(parts) == 2 and Decimal(parts[0]).is_finite()
        except InvalidOperation:
            amount_ok = False
        if not amount_ok or not isinstance(value, str):
            return f"is an amount in {t.currency}: write it with its currency, e.g. {example}"
        if parts[1] != t.currency:
            return f"is an amount in {t.currency}, not {parts[1]}: e.g. {example}"
        return None
    if t.kind == "enum" and t.values and value not in t.values:
        return f"is one of {', '.join(t.values)}; '{value}' is not" + _hint(str(value), t.values)
    if t.kind == "bool" and not isinstance(value, bool):
        return f"is true or false; '{value}' is not"
    return None
