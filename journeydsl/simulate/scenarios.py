"""Scenario tests: ``journeydsl test PATH...`` runs ``*.test.yaml`` files
(:mod:`journeydsl.cli.scenarios` is the command).

A file names a journey (or several, run together on one engine under the file's contact
policies) and holds cases; each case gives profiles, events, a time range and what
must happen: the actions, in order (each matched on the fields it names, times to the minute),
and the outcome of each customer's instances. A failing case prints a diff of the expected and
the actual timelines. docs/simulate.md describes the format.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema, model_validator

from journeydsl.ast import CHANNELS
from journeydsl.diagnostics import did_you_mean
from journeydsl.jsonio import nfc
from journeydsl.runtime.events import EARLIEST, LATEST
from journeydsl.simulate.budgets import preset_ledger, preset_mistakes
from journeydsl.simulate.decisions import Stub, stub_functions
from journeydsl.simulate.formats import compact
from journeydsl.simulate.scenario_checks import ACTION_FIELDS, ACTION_KINDS, check_expectations
from journeydsl.yamlfile import (
    FileError,
    InputError,
    YamlDocument,
    load_document,
    named_file,
    validate,
)

__all__ = ["CaseResult", "Failure", "TestFile", "discover", "run_file"]

#: Fields shown, in this order, when an actual action has no expected partner to borrow from.
_SHOWN = ("customer_id", "kind", "channel", "template", "queue", "priority", "name", "reason")
#: The order of the fields a failing case shows.
_ORDER = ACTION_FIELDS[1:13]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Outcomes = str | list[str]


#: One expected action: the fields it checks, each matched against the actual action's. The
#: schema spells out the fields whose values are known in advance; the loader checks those and
#: the rest against the journeys (:mod:`journeydsl.simulate.scenario_checks`).
ExpectedAction = Annotated[
    dict[str, Any],
    WithJsonSchema(
        {
            "type": "object",
            "properties": {
                "at": {
                    "type": "string",
                    "description": "local time to the minute (2026-01-05 10:00), or an "
                    "instant with its offset (2026-01-05T10:00:00+07:00)",
                },
                "kind": {"enum": list(ACTION_KINDS)},
                "channel": {"enum": list(CHANNELS)},
                "customer_id": {"type": "string"},
                "journey": {"type": "string"},
                "template": {"type": "string"},
                "params": {"type": "object"},
                "payload": {"type": "object"},
            },
            "additionalProperties": True,
        }
    ),
]


class Expect(_Model):
    """What a case must produce. ``actions`` (when given) must match the actual actions one to
    one, in order; ``outcomes`` maps a customer to the outcome of their instance (a list for
    several instances; ``running`` for one that has not ended), or, in a file of several
    journeys, to a mapping of journey ids to those."""

    actions: list[ExpectedAction] | None = None
    outcomes: dict[str, Outcomes | dict[str, Outcomes]] = Field(default_factory=dict)


class Enrol(_Model):
    """A customer entered into the journey from code at ``at`` (``Engine.enroll``: a journey
    with ``entry manual``, or any journey a bank enrols customers into by API)."""

    customer_id: str = Field(min_length=1)
    at: str
    data: dict[str, Any] = Field(default_factory=dict)
    #: The journey's id; needed in a file of several journeys.
    journey: str | None = None


class Case(_Model):
    """One scenario."""

    name: str
    start: str | None = None
    until: str | None = None
    days: int | None = Field(default=None, ge=1)
    default_consent: bool = False
    profiles: list[dict[str, Any]] = Field(default_factory=list)
    events: list[dict[str, Any]] = Field(default_factory=list)
    enrol: list[Enrol] = Field(default_factory=list)
    #: decide steps: the answers of decision functions, by function (the case's win over the
    #: file's).
    decisions: dict[str, list[Stub]] = Field(default_factory=dict)
    #: reward budgets: what remains of some budgets when the case starts (the case's win).
    budgets: dict[str, dict[str, Any]] = Field(default_factory=dict)
    expect: Expect


class TestFile(_Model):
    """A ``*.test.yaml`` file: the journey, or several ``journeys`` run together (relative to
    the file), the contact ``policies`` file they run under (optional) and the cases;
    ``profiles`` here are shared by every case."""

    __test__ = False  # not a pytest class

    journey: str | None = None
    journeys: list[str] | None = Field(default=None, min_length=1)
    policies: str | None = None
    profiles: list[dict[str, Any]] = Field(default_factory=list)
    decisions: dict[str, list[Stub]] = Field(default_factory=dict)
    #: reward budgets: ``{NAME: {remaining: AMOUNT}}`` for every case (a case's win).
    budgets: dict[str, dict[str, Any]] = Field(default_factory=dict)
    cases: list[Case] = Field(min_length=1)

    @model_validator(mode="after")
    def _journeys(self) -> TestFile:
        if (self.journey is None) == (self.journeys is None):
            raise ValueError("name the journey ('journey: FILE') or 'journeys: [FILE, …]'")
        return self

    @property
    def files(self) -> list[tuple[tuple[str | int, ...], str]]:
        """The journey files with their places in the file."""
        if self.journey is not None:
            return [(("journey",), self.journey)]
        return [(("journeys", i), f) for i, f in enumerate(self.journeys or [])]


@dataclass(frozen=True, slots=True)
class Failure:
    """One expectation a case did not meet: where it is written in the test file, what happened
    instead, and (for ``actions:``) the diff of the expected and the actual timelines."""

    file: str
    line: int
    column: int
    message: str
    #: The unified diff of the timelines, a line each (empty for an outcome).
    diff: tuple[str, ...] = ()

    def __str__(self) -> str:
        """``FILE:LINE:COL: message`` (with a colon before the diff, when there is one)."""
        return f"{self.file}:{self.line}:{self.column}: {self.message}" + (":" * bool(self.diff))

    def lines(self) -> list[str]:
        """The failure as ``journeydsl test`` prints it: the first line, then the diff."""
        return [str(self), *("    " + d for d in self.diff)]


@dataclass
class CaseResult:
    """The verdict on one case, written at ``line`` and ``column`` of ``file``."""

    file: str
    line: int
    name: str
    failures: list[Failure] = field(default_factory=list)
    column: int = 1

    @property
    def problems(self) -> list[str]:
        """The failures as ``journeydsl test`` prints them, a line each."""
        return [line for f in self.failures for line in f.lines()]

    @property
    def ok(self) -> bool:
        """True when the case passed."""
        return not self.failures


def discover(paths: Iterable[str]) -> list[Path]:
    """Test files as given; folders expand to the ``*.test.yaml`` files inside them. A file
    named twice (``examples/`` and ``examples/a.test.yaml``) is run once, where first named."""
    out: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            out.extend(
                sorted(
                    f
                    for f in p.rglob("*")
                    if f.is_file() and f.name.endswith((".test.yaml", ".test.yml"))
                )
            )
        elif p.is_file():
            out.append(p)
        else:
            raise FileNotFoundError(raw)
    first: dict[Path, Path] = {}
    for f in out:
        first.setdefault(f.resolve(), f)
    return list(first.values())


# --------------------------------------------------------------------------- matching


def _minute_text(value: str) -> str:
    return value.replace("T", " ")[:16]


def _at_matches(expected: Any, actual: str) -> bool:
    text = str(expected).strip()
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return False
    if when.tzinfo is None:  # local wall time, to the minute
        return _minute_text(actual) == when.strftime("%Y-%m-%d %H:%M")
    got = datetime.fromisoformat(actual)
    return got.replace(second=0, microsecond=0) == when.replace(second=0, microsecond=0)


def _money(text: str) -> tuple[Decimal, str] | None:
    parts = text.replace("_", "").replace(",", "").split()
    if len(parts) != 2:
        return None
    try:
        return Decimal(parts[0]), parts[1]
    except InvalidOperation:
        return None


def _matches(expected: Any, actual: Any) -> bool:
    is_money = isinstance(actual, Mapping) and set(actual) == {"amount", "currency"}
    if is_money and isinstance(expected, str) and (m := _money(expected)) is not None:
        return m == (Decimal(str(actual["amount"])), actual["currency"])
    if isinstance(expected, Mapping):
        return isinstance(actual, Mapping) and all(
            k in actual and _matches(v, actual[k]) for k, v in expected.items()
        )
    if isinstance(expected, list):
        return (
            isinstance(actual, list)
            and len(expected) == len(actual)
            and all(_matches(e, a) for e, a in zip(expected, actual, strict=True))
        )
    if isinstance(expected, str) and isinstance(actual, str):
        return nfc(expected) == nfc(actual)  # (texts are composed as they are read)
    number = isinstance(expected, int | float | Decimal) and not isinstance(expected, bool)
    if number and isinstance(actual, str):
        try:
            return Decimal(actual) == Decimal(str(expected))
        except InvalidOperation:
            return False
    return bool(expected == actual)


def action_matches(expected: Mapping[str, Any], actual: Mapping[str, Any]) -> bool:
    """Whether ``actual`` has every field ``expected`` names, with that value (``at`` to the
    minute; money may be written ``1_000_000 VND``; objects match on the keys they name)."""
    for key, value in expected.items():
        if key not in actual:
            return False
        if key == "at":
            if not _at_matches(value, actual["at"]):
                return False
        elif not _matches(value, actual[key]):
            return False
    return True


def _differing(expected: Mapping[str, Any], actual: Mapping[str, Any]) -> list[str]:
    """The fields ``expected`` names that ``actual`` lacks or has with another value."""
    return [k for k in expected if not action_matches({k: expected[k]}, actual)]


def _render_value(value: Any) -> str:
    return compact(value)


def _line(action: Mapping[str, Any], fields: Sequence[str]) -> str:
    at = action.get("at")
    head = _minute_text(str(at)) if at is not None else "????-??-?? ??:??"
    cells = [f"{k}={_render_value(action[k])}" for k in _ORDER if k in fields and k in action]
    extra = [k for k in fields if k not in _ORDER and k != "at" and k in action]
    cells += [f"{k}={_render_value(action[k])}" for k in extra]
    return f"{head}  " + " ".join(cells)


def _as_partner(expected: Any, actual: Any) -> Any:
    """``expected`` with each value that matches ``actual``'s written as ``actual`` has it
    (``1_000_000 VND`` as ``1,000,000 VND``), so that only the real differences show."""
    if isinstance(expected, Mapping) and isinstance(actual, Mapping):  # (the keys it names)
        return {k: _as_partner(v, actual[k]) if k in actual else v for k, v in expected.items()}
    if _matches(expected, actual):
        return actual
    money = isinstance(actual, Mapping) and set(actual) == {"amount", "currency"}
    if money and isinstance(expected, str) and (m := _money(expected)) is not None:
        return {"amount": str(m[0]), "currency": m[1]}  # (another amount, written alike)
    return expected


def _expected_line(action: Mapping[str, Any], partner: Mapping[str, Any] | None = None) -> str:
    shown = dict(action)
    if partner is not None:
        for k in shown:
            if k != "at" and k in partner:
                shown[k] = _as_partner(shown[k], partner[k])
    if "at" in shown:
        text = str(shown["at"])
        try:
            when = datetime.fromisoformat(text)
            shown["at"] = when.strftime("%Y-%m-%d %H:%M")
        except ValueError:
            shown["at"] = text
    return _line(shown, list(action))


def _project(expected: Any, actual: Any) -> Any:
    """``actual`` cut down to the keys ``expected`` names (objects match on those alone)."""
    if isinstance(expected, Mapping) and isinstance(actual, Mapping):
        return {k: _project(expected[k], actual[k]) for k in expected if k in actual}
    return actual


def timeline_diff(
    expected: Sequence[Mapping[str, Any]], actual: Sequence[Mapping[str, Any]]
) -> list[str]:
    """A unified diff of the two timelines; each actual action is shown with the fields its
    expected partner (same position) names, so that only real differences stand out."""
    want = [
        _expected_line(e, actual[i] if i < len(actual) else None) for i, e in enumerate(expected)
    ]
    got = []
    for i, a in enumerate(actual):
        if i < len(expected):
            partner = expected[i]
            shown = {k: _project(partner[k], v) if k in partner else v for k, v in a.items()}
            got.append(_line(shown, list(partner)))
        else:
            got.append(_line(a, ["at", *_SHOWN]))
    return list(difflib.unified_diff(want, got, "expected", "actual", lineterm="", n=2))


# --------------------------------------------------------------------------- running


def _enrolments(
    doc: YamlDocument, case: Case, index: int, journeys: list[Any], errors: list[FileError]
) -> list[tuple[datetime, Any, str]]:
    """The case's enrolments as (time, Enrolment, origin); mistakes go to ``errors``."""
    from journeydsl.expr.types import record
    from journeydsl.runtime.handoff import enrolled_values
    from journeydsl.simulate.decisions import answer_value
    from journeydsl.simulate.driver import Enrolment
    from journeydsl.simulate.inputs import parse_time

    journey = journeys[0]
    ids = [j.id for j in journeys]
    out: list[tuple[datetime, Any, str]] = []
    for i, e in enumerate(case.enrol):
        path = ("cases", index, "enrol", i)
        target = e.journey if e.journey is not None else journey.id
        if e.journey is None and len(journeys) > 1:
            errors.append(
                doc.error(path, f"name the journey to enrol into: one of {', '.join(ids)}")
            )
            continue
        if target not in ids:
            hint = did_you_mean(target, ids)
            errors.append(
                doc.error(
                    (*path, "journey"),
                    f"no journey '{target}' in this file to enrol into"
                    f" (its journeys: {', '.join(ids)})" + (f" — {hint}" if hint else ""),
                )
            )
            continue
        into = next(j for j in journeys if j.id == target)
        try:  # (a local time is read in the zone of the journey enrolled into)
            at = parse_time(e.at, into.timezone)
        except ValueError as exc:
            errors.append(doc.error((*path, "at"), str(exc)))
            continue
        if outside := _out_of_range(at):
            errors.append(doc.error((*path, "at"), f"'at' {outside}"))
            continue
        # The data as the entry takes it (money as `1_000_000 VND`, as everywhere in the file),
        # checked now: the engine would refuse it in the middle of the run.
        data = answer_value(e.data, record(dict(into.entry.inputs)))
        try:
            enrolled_values(into, data)
        except ValueError as exc:
            where = (*path, "data") if "data" in e.model_fields_set else path
            errors.append(doc.error(where, str(exc)))
            continue
        line = doc.position(path)[0]
        out.append((at, Enrolment(e.customer_id, target, data), f"{doc.file}:{line}"))
    return out


def _out_of_range(t: datetime) -> str | None:
    """Why a case's time ``t`` is outside the range of events (1900 to 2999, as for
    `simulate`), or None."""
    try:
        inside = EARLIEST <= t < LATEST
    except OverflowError:  # (year 1 or 9999 with an offset)
        inside = False
    if inside:
        return None
    return f"is out of range: {t.isoformat(sep=' ')} (a case runs within the years 1900 to 2999)"


def _after_the_end(
    doc: YamlDocument,
    case: Case,
    index: int,
    events: list[Any],
    enrolments: list[tuple[datetime, Any, str]],
    until: datetime,
) -> list[FileError]:
    """An error at each event and enrolment of the case dated after its end: the run would
    never reach it, and the case would pass or fail as though it were not written."""
    end = until.isoformat(sep=" ")
    why = "its 'until'" if case.until else "its start + 'days'" if case.days else "start + 90 days"
    dated = [
        *((("events", i), e.record.at) for i, e in enumerate(events)),
        *((("enrol", i), at) for i, (at, _, _) in enumerate(enrolments)),
    ]
    return [
        doc.error(
            ("cases", index, *where),
            f"dated {at.isoformat(sep=' ')}, after the case's end ({end}, {why}): the run never "
            "reaches it; give the case a later 'until' or more 'days'",
        )
        for where, at in dated
        if at > until
    ]


def _case_run(
    doc: YamlDocument, tf: TestFile, index: int, journeys: list[Any], policies: Any = None
) -> CaseResult:
    from journeydsl.runtime.events import BadEvent, coerce_event
    from journeydsl.runtime.profiles import parse_profile
    from journeydsl.simulate.driver import Simulation
    from journeydsl.simulate.inputs import LoadedEvent, parse_time, schemas_of, typed_profile

    journey = journeys[0]
    ids = [j.id for j in journeys]
    case = tf.cases[index]
    line, column = doc.position(("cases", index))
    verdict = CaseResult(doc.file, line, case.name, column=column)
    errors: list[FileError] = []
    profiles = []
    attribute_types: dict[str, Any] = {}
    for j in reversed(journeys):
        attribute_types.update(j.attribute_types)
    for where, raw in [
        *((("profiles", i), p) for i, p in enumerate(tf.profiles)),
        *((("cases", index, "profiles", i), p) for i, p in enumerate(case.profiles)),
    ]:
        try:
            profiles.append(typed_profile(parse_profile(raw, attribute_types), attribute_types))
        except ValueError as exc:
            errors.append(doc.error(where, f"bad profile: {exc}"))
    schemas = schemas_of(journeys)
    events: list[LoadedEvent] = []
    positions: dict[str, tuple[int, int]] = {}  # (an event's origin: its line and column)
    for i, raw in enumerate(case.events):
        try:
            record = coerce_event(raw, schemas)
        except BadEvent as exc:
            errors.append(doc.error(("cases", index, "events", i), f"bad event: {exc}"))
            continue
        place = doc.position(("cases", index, "events", i))
        origin = f"{doc.file}:{place[0]}"
        positions[origin] = place
        events.append(LoadedEvent(raw, record, origin))
    enrolments = _enrolments(doc, case, index, journeys, errors)
    try:
        start = parse_time(case.start, journey.timezone) if case.start else None
        until = parse_time(case.until, journey.timezone) if case.until else None
    except ValueError as exc:
        errors.append(doc.error(("cases", index), str(exc)))
        start = until = None
    for name, t in (("start", start), ("until", until)):
        if t is not None and (outside := _out_of_range(t)):
            errors.append(doc.error(("cases", index, name), f"'{name}' {outside}"))
    try:  # reward budgets: an exact ledger, with what the file and the case leave of them
        ledger = preset_ledger(journeys, {**tf.budgets, **case.budgets})
    except ValueError as exc:
        where = ("cases", index, "budgets") if case.budgets else ("budgets",)
        errors.append(doc.error(where, str(exc)))
    if errors:
        raise InputError(errors)
    if start is None:
        times = [e.record.at for e in events] + [at for at, _, _ in enrolments]
        if not times:
            raise InputError(
                [doc.error(("cases", index), "a case without events or enrolments needs 'start'")]
            )
        start = min(times)
        if until is not None and until <= start:
            first = start.isoformat(sep=" ")
            raise InputError(
                [
                    doc.error(
                        ("cases", index, "until"),
                        f"'until' ({case.until}) is not after the case's start, its first "
                        f"event or enrolment ({first}): a case runs from its start to its until",
                    )
                ]
            )
    if until is None and case.days is not None:
        most = (LATEST - start) // timedelta(days=1)  # (whole days to the end of the range)
        if case.days > most:
            raise InputError(
                [
                    doc.error(
                        ("cases", index, "days"),
                        f"'days' must be at most {most:,} from the case's start "
                        f"({start.isoformat(sep=' ')}), not {case.days:,}: a case ends before "
                        "3000-01-01 UTC, the end of the range of events",
                    )
                ]
            )
        until = start + timedelta(days=case.days)
    sim = Simulation(
        journeys,
        profiles,
        start=start,
        until=until,
        default_consent=case.default_consent,
        policies=policies,
        decisions=stub_functions({**tf.decisions, **case.decisions}, journeys),
        budgets=ledger,
    )
    if late := _after_the_end(doc, case, index, events, enrolments, sim.until):
        raise InputError(late)
    sim.add_events(sorted(events, key=lambda e: e.record.at))
    for at, enrolment, origin in sorted(enrolments, key=lambda x: x[0]):
        sim.enrol(at, enrolment, origin)
    result = sim.run()
    for problem in result.quarantined:
        place = positions.get(problem.where, (line, column))
        verdict.failures.append(
            Failure(doc.file, *place, f"event quarantined: {problem.reason} ({problem.where})")
        )
    # One journey: its actions as the single-journey JSON has them; several: every action,
    # each with its journey, as the several-journey JSON has them.
    if len(journeys) == 1:
        actual = result.actions_json(journey.id)
    else:
        from journeydsl.simulate.multi import actions_in_order

        actual = actions_in_order(result)
    expect = case.expect
    if expect.actions is not None:
        verdict.failures.extend(_action_problems(doc, index, expect.actions, actual))
    verdict.failures.extend(_outcome_problems(doc, index, expect, result, ids))
    return verdict


def _action_problems(
    doc: YamlDocument,
    index: int,
    expected: Sequence[Mapping[str, Any]],
    actual: Sequence[Mapping[str, Any]],
) -> list[Failure]:
    """Nothing when the actions match the expected ones one to one; otherwise a line at the
    file, line and column of the first expected action that the actions do not meet (or of
    ``actions:`` when they meet every one and more happened), then the timeline diff."""
    first = next(
        (i for i, e in enumerate(expected) if i >= len(actual) or not action_matches(e, actual[i])),
        None,
    )
    if first is None and len(expected) == len(actual):
        return []
    where: tuple[str | int, ...] = ("cases", index, "expect", "actions")
    if first is None:
        extra = len(actual) - len(expected)
        line, column = doc.position(where, key=True)
        what = f"{extra} action{'s' * (extra != 1)} more than expected"
    else:
        line, column = doc.position((*where, first))
        what = (
            f"expected action {first + 1} did not happen"
            if first >= len(actual)
            else f"action {first + 1} differs from the one expected in "
            + ", ".join(_differing(expected[first], actual[first]))
        )
    what += f" (expected {len(expected)}, got {len(actual)})"
    return [Failure(doc.file, line, column, what, tuple(timeline_diff(expected, actual)))]


def _outcome_problems(
    doc: YamlDocument, index: int, expect: Expect, result: Any, ids: list[str]
) -> list[Failure]:
    """The expected outcomes that differ from the instances' (per journey when the expectation
    names journeys; otherwise over every journey, in entry order), each at the file, line and
    column of its expectation."""
    problems: list[Failure] = []
    for customer, wanted in expect.outcomes.items():
        per_journey = wanted if isinstance(wanted, dict) else {None: wanted}
        for jid, want_one in per_journey.items():
            loc = ("cases", index, "expect", "outcomes", customer)
            line, column = doc.position(loc if jid is None else (*loc, jid))
            want = [want_one] if isinstance(want_one, str) else list(want_one)
            mine = [  # (the state records: an instance that failed says why in its log)
                r
                for j in ([jid] if jid is not None else ids)
                for r in result.instances
                if r["journey"] == j and r["customer_id"] == customer
            ]
            got = [r["outcome"] if r["status"] == "ended" else "running" for r in mine]
            if jid is not None and jid not in ids:
                problems.append(
                    Failure(
                        doc.file,
                        line,
                        column,
                        f"outcome of {customer}: no journey '{jid}' in this file",
                    )
                )
            elif want != got:
                shown = ", ".join(map(_outcome_shown, mine)) if got else "no instance"
                where = f" in {jid}" if jid is not None else ""
                problems.append(
                    Failure(
                        doc.file,
                        line,
                        column,
                        f"outcome of {customer}{where}: expected {', '.join(want)}, got {shown}",
                    )
                )
    return problems


def _outcome_shown(record: Mapping[str, Any]) -> str:
    """An instance's outcome as a failing case shows it: ``running`` when it has not ended, and
    the reason with the outcome ``error`` of an instance that failed."""
    if record["status"] != "ended":
        return "running"
    reasons = [e.get("reason") for e in record.get("log") or () if e.get("what") == "error"]
    if record["outcome"] == "error" and reasons and reasons[-1]:
        return f"error ({reasons[-1]})"
    return str(record["outcome"])


def _journeys(doc: YamlDocument, tf: TestFile, root: str | Path | None) -> list[Any]:
    """The compiled journeys that ``tf`` names, relative to the test file's folder and inside
    ``root`` (by default that folder); the journeys' catalogs are read from inside ``root`` too
    (by default each journey's own folder)."""
    from journeydsl.compiler import MAX_SOURCE_BYTES, compile_file

    out: list[Any] = []
    for loc, name in tf.files:
        found = named_file(
            doc,
            loc,
            name,
            root=Path(root) if root is not None else None,
            limit=MAX_SOURCE_BYTES,
            what="journey file",
        )
        if isinstance(found, FileError):
            raise InputError([found])
        compiled = compile_file(Path(doc.file).parent / name, root=root)
        if compiled.journey is None:
            first = next((d for d in compiled.diagnostics if d.severity == "error"), None)
            detail = f": {first}" if first else ""
            raise InputError([doc.error(loc, f"the journey does not compile{detail}")])
        if compiled.journey.id in {j.id for j in out}:
            raise InputError([doc.error(loc, f"journey '{compiled.journey.id}' is named twice")])
        out.append(compiled.journey)
    from journeydsl.runtime.handoff import missing_targets  # hand-off: targets run alongside

    if missing := missing_targets(out, [j.id for j in out]):
        where = tf.files[0][0]
        raise InputError([doc.error(where, f"{'; '.join(missing)}: name the target journey too")])
    from journeydsl.ir_rewards import budget_conflicts  # reward budgets: one declaration a name

    if conflicts := budget_conflicts(out):
        raise InputError([doc.error(tf.files[0][0], problem) for problem in conflicts])
    return out


def _policies(doc: YamlDocument, tf: TestFile, root: str | Path | None) -> Any:
    """The contact policies the file names (None without), read like the journeys."""
    if tf.policies is None:
        return None
    from journeydsl.runtime.policies import load_policies
    from journeydsl.yamlfile import MAX_INPUT_BYTES

    found = named_file(
        doc,
        ("policies",),
        tf.policies,
        root=Path(root) if root is not None else None,
        limit=MAX_INPUT_BYTES,
        what="policy file",
    )
    if isinstance(found, FileError):
        raise InputError([found])
    base = Path(root) if root is not None else Path(doc.file).parent
    return load_policies(Path(doc.file).parent / tf.policies, root=base)


def _budget_mistakes(doc: YamlDocument, tf: TestFile, journeys: list[Any]) -> list[FileError]:
    """Every mistake in the file's ``budgets:`` and its cases', each at its line and column."""
    places: list[tuple[tuple[str | int, ...], dict[str, dict[str, Any]]]] = [
        (("budgets",), tf.budgets),
        *((("cases", i, "budgets"), case.budgets) for i, case in enumerate(tf.cases)),
    ]
    return [
        doc.error((*where, *loc), message, key=len(loc) == 1)
        for where, presets in places
        for loc, message in preset_mistakes(journeys, presets)
    ]


def run_file(path: str | Path, *, root: str | Path | None = None) -> list[CaseResult]:
    """Run every case of one test file; raises :class:`InputError` when the file is invalid.

    The journeys it names (and its policy file) are read only from inside ``root``, by default
    the test file's folder (a path that leads outside it, a file that is not a regular one, or
    one larger than :data:`~journeydsl.compiler.MAX_SOURCE_BYTES` is an error at its line); the
    journeys' catalogs are read from inside ``root`` too, by default each journey's folder.
    Several journeys run together on one engine, under the policies, as ``run`` runs them."""
    doc = load_document(path, exact_numbers=True)
    tf = validate(TestFile, doc)
    journeys = _journeys(doc, tf, root)
    mistakes = [*check_expectations(doc, tf, journeys), *_budget_mistakes(doc, tf, journeys)]
    if mistakes:  # (before any case runs)
        raise InputError(mistakes)
    policies = _policies(doc, tf, root)
    return [_case_run(doc, tf, i, journeys, policies) for i in range(len(tf.cases))]
