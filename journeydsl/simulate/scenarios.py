"""Scenario tests: ``journeydsl test PATH...`` runs ``*.test.yaml`` files
(:mod:`journeydsl.cli.scenarios` is the command).

A file names a journey and holds cases; each case gives profiles, events, a time range and what
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
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from journeydsl.simulate.formats import compact
from journeydsl.yamlfile import (
    FileError,
    InputError,
    YamlDocument,
    load_document,
    named_file,
    validate,
)

__all__ = ["CaseResult", "TestFile", "discover", "run_file"]

#: Fields shown, in this order, when an actual action has no expected partner to borrow from.
_SHOWN = ("customer_id", "kind", "channel", "template", "queue", "priority", "name", "reason")
_ORDER = (
    "customer_id",
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
)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Expect(_Model):
    """What a case must produce. ``actions`` (when given) must match the actual actions one to
    one, in order; ``outcomes`` maps a customer to the outcome of their instance (a list for
    several instances; ``running`` for one that has not ended)."""

    actions: list[dict[str, Any]] | None = None
    outcomes: dict[str, str | list[str]] = Field(default_factory=dict)


class Enrol(_Model):
    """A customer entered into the journey from code at ``at`` (``Engine.enroll``: a journey
    with ``entry manual``, or any journey a bank enrols customers into by API)."""

    customer_id: str = Field(min_length=1)
    at: str
    data: dict[str, Any] = Field(default_factory=dict)


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
    expect: Expect


class TestFile(_Model):
    """A ``*.test.yaml`` file: the journey (relative to the file) and its cases; ``profiles``
    here are shared by every case."""

    __test__ = False  # not a pytest class

    journey: str
    profiles: list[dict[str, Any]] = Field(default_factory=list)
    cases: list[Case] = Field(min_length=1)


@dataclass
class CaseResult:
    """The verdict on one case."""

    file: str
    line: int
    name: str
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the case passed."""
        return not self.problems


def discover(paths: Iterable[str]) -> list[Path]:
    """Test files as given; folders expand to the ``*.test.yaml`` files inside them."""
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
    return out


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


def _render_value(value: Any) -> str:
    return compact(value)


def _line(action: Mapping[str, Any], fields: Sequence[str]) -> str:
    at = action.get("at")
    head = _minute_text(str(at)) if at is not None else "????-??-?? ??:??"
    cells = [f"{k}={_render_value(action[k])}" for k in _ORDER if k in fields and k in action]
    extra = [k for k in fields if k not in _ORDER and k != "at" and k in action]
    cells += [f"{k}={_render_value(action[k])}" for k in extra]
    return f"{head}  " + " ".join(cells)


def _expected_line(action: Mapping[str, Any]) -> str:
    shown = dict(action)
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
    want = [_expected_line(e) for e in expected]
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


def _case_run(doc: YamlDocument, tf: TestFile, index: int, journey: Any) -> CaseResult:
    from journeydsl.runtime.events import BadEvent, coerce_event
    from journeydsl.runtime.profiles import parse_profile
    from journeydsl.simulate.driver import Enrolment, Simulation
    from journeydsl.simulate.inputs import LoadedEvent, parse_time, schemas_of, typed_profile

    case = tf.cases[index]
    line, _ = doc.position(("cases", index))
    verdict = CaseResult(doc.file, line, case.name)
    errors: list[FileError] = []
    profiles = []
    for where, raw in [
        *((("profiles", i), p) for i, p in enumerate(tf.profiles)),
        *((("cases", index, "profiles", i), p) for i, p in enumerate(case.profiles)),
    ]:
        try:
            profiles.append(typed_profile(parse_profile(raw), journey.attribute_types))
        except ValueError as exc:
            errors.append(doc.error(where, f"bad profile: {exc}"))
    schemas = schemas_of([journey])
    events: list[LoadedEvent] = []
    for i, raw in enumerate(case.events):
        try:
            record = coerce_event(raw, schemas)
        except BadEvent as exc:
            errors.append(doc.error(("cases", index, "events", i), f"bad event: {exc}"))
            continue
        events.append(
            LoadedEvent(raw, record, f"{doc.file}:{doc.position(('cases', index, 'events', i))[0]}")
        )
    enrolments: list[tuple[datetime, Enrolment, str]] = []
    for i, e in enumerate(case.enrol):
        path = ("cases", index, "enrol", i)
        try:
            at = parse_time(e.at, journey.timezone)
        except ValueError as exc:
            errors.append(doc.error((*path, "at"), str(exc)))
            continue
        line = doc.position(path)[0]
        enrolments.append((at, Enrolment(e.customer_id, journey.id, e.data), f"{doc.file}:{line}"))
    try:
        start = parse_time(case.start, journey.timezone) if case.start else None
        until = parse_time(case.until, journey.timezone) if case.until else None
    except ValueError as exc:
        errors.append(doc.error(("cases", index), str(exc)))
        start = until = None
    if errors:
        raise InputError(errors)
    if start is None:
        times = [e.record.at for e in events] + [at for at, _, _ in enrolments]
        if not times:
            raise InputError(
                [doc.error(("cases", index), "a case without events or enrolments needs 'start'")]
            )
        start = min(times)
    if until is None and case.days is not None:
        until = start + timedelta(days=case.days)
    sim = Simulation(
        [journey], profiles, start=start, until=until, default_consent=case.default_consent
    )
    sim.add_events(sorted(events, key=lambda e: e.record.at))
    for at, enrolment, origin in sorted(enrolments, key=lambda x: x[0]):
        sim.enrol(at, enrolment, origin)
    result = sim.run()
    for problem in result.quarantined:
        verdict.problems.append(f"event quarantined: {problem.reason} ({problem.where})")
    actual = result.actions_json(journey.id)
    expect = case.expect
    if expect.actions is not None:
        paired = len(expect.actions) == len(actual) and all(
            action_matches(e, a) for e, a in zip(expect.actions, actual, strict=True)
        )
        if not paired:
            verdict.problems.append(
                f"actions differ (expected {len(expect.actions)}, got {len(actual)}):"
            )
            verdict.problems.extend("    " + d for d in timeline_diff(expect.actions, actual))
    for customer, wanted in expect.outcomes.items():
        want = [wanted] if isinstance(wanted, str) else list(wanted)
        got = [
            i["outcome"] if i["status"] == "ended" else "running"
            for i in result.instances_json(journey.id)
            if i["customer_id"] == customer
        ]
        if want != got:
            shown = ", ".join(got) if got else "no instance"
            verdict.problems.append(
                f"outcome of {customer}: expected {', '.join(want)}, got {shown}"
            )
    return verdict


def _journey(doc: YamlDocument, tf: TestFile, root: str | Path | None) -> Any:
    """The compiled journey that ``tf`` names, relative to the test file's folder and inside
    ``root`` (by default that folder); the journey's catalogs are read from inside ``root`` too
    (by default the journey's own folder)."""
    from journeydsl.compiler import MAX_SOURCE_BYTES, compile_file

    found = named_file(
        doc,
        ("journey",),
        tf.journey,
        root=Path(root) if root is not None else None,
        limit=MAX_SOURCE_BYTES,
        what="journey file",
    )
    if isinstance(found, FileError):
        raise InputError([found])
    compiled = compile_file(Path(doc.file).parent / tf.journey, root=root)
    if compiled.journey is None:
        first = next((d for d in compiled.diagnostics if d.severity == "error"), None)
        detail = f": {first}" if first else ""
        raise InputError([doc.error(("journey",), f"the journey does not compile{detail}")])
    return compiled.journey


def run_file(path: str | Path, *, root: str | Path | None = None) -> list[CaseResult]:
    """Run every case of one test file; raises :class:`InputError` when the file is invalid.

    The journey it names is read only from inside ``root``, by default the test file's folder
    (a path that leads outside it, a file that is not a regular one, or one larger than
    :data:`~journeydsl.compiler.MAX_SOURCE_BYTES` is an error at the ``journey:`` line); the
    journey's catalogs are read from inside ``root`` too, by default the journey's folder."""
    doc = load_document(path, exact_numbers=True)
    tf = validate(TestFile, doc)
    journey = _journey(doc, tf, root)
    return [_case_run(doc, tf, i, journey) for i in range(len(tf.cases))]
