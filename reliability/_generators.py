"""Hypothesis strategies for hostile input: mutated example files, random YAML documents,
expressions, behaviour files and event lines."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import yaml
from hypothesis import strategies as st

from reliability._common import EXAMPLES, ICT, Event

# --------------------------------------------------------------------------- text mutation

#: Fragments that tend to break parsers: YAML and DSL punctuation, anchors, aliases, tags
#: (including one that a careless yaml.load would run), odd whitespace and characters.
NASTY = (
    ":",
    ": ",
    "- ",
    "-",
    "{",
    "}",
    "[",
    "]",
    "{}",
    "[]",
    ",",
    "'",
    '"',
    "\\",
    "#",
    "&a ",
    "*a",
    "<<: *a\n",
    "&a [*a]",
    "!!python/object/apply:os.system ['true'] ",
    "!!python/name:os.system ",
    "!foo ",
    "!!binary aGk= ",
    "%YAML 1.1\n---\n",
    "---\n",
    "...\n",
    "\t",
    "\n",
    "\r\n",
    "  ",
    "\x00",
    "\x1b",
    "\ufeff",
    "\u202e",
    "\U0001f4b3",
    "~",
    "null",
    "true",
    "on",
    "09:00",
    "Asia",
    "1_000_000 VND",
    "99999999999999999999999999999999999999",
    "9" * 5000,
    "1e999",
    "-",
    "(",
    ")",
    "((((((((((",
    "if ",
    "then ",
    "else ",
    "not not not ",
    " and ",
    " or ",
    "->",
    "==",
    "%",
    "send ",
    "wait ",
    "wait for ",
    "repeat max 99999999999999999999 ",
    "split { 100% {} }",
    "switch ",
    "exit ",
    "set x = ",
    "sum(",
    "top(",
    "has(",
    " since ",
    " in last ",
    " within ",
    "profile.",
    "trigger.",
    "__class__",
    "__import__('os')",
    "journey ",
    "version ",
    "entry on ",
    "steps:\n",
)


def _seed_texts(suffixes: Sequence[str]) -> list[tuple[str, str]]:
    out = []
    for path in sorted(EXAMPLES.rglob("*")):
        if path.is_file() and path.name.endswith(tuple(suffixes)):
            out.append((path.name, path.read_text(encoding="utf-8")))
    return out


@st.composite
def mutated(draw: st.DrawFn, seeds: Sequence[str]) -> str:
    """One of ``seeds`` with a few random edits: a slice deleted, duplicated or moved, a nasty
    fragment or random text inserted, lines swapped, indentation changed, the end cut off."""
    text = draw(st.sampled_from(list(seeds)))
    for _ in range(draw(st.integers(1, 4))):
        n = len(text)
        i = draw(st.integers(0, n))
        j = min(n, i + draw(st.integers(0, 80)))
        kind = draw(st.integers(0, 7))
        if kind == 0:
            text = text[:i] + text[j:]
        elif kind == 1:
            text = text[:j] + text[i:j] + text[j:]
        elif kind == 2:
            text = text[:i] + draw(st.sampled_from(NASTY)) + text[i:]
        elif kind == 3:
            text = text[:i] + draw(st.text(max_size=12)) + text[i:]
        elif kind == 4:
            lines = text.split("\n")
            if len(lines) > 2:
                a = draw(st.integers(0, len(lines) - 1))
                b = draw(st.integers(0, len(lines) - 1))
                lines[a], lines[b] = lines[b], lines[a]
                text = "\n".join(lines)
        elif kind == 5:
            lines = text.split("\n")
            a = draw(st.integers(0, len(lines) - 1))
            lines[a] = " " * draw(st.integers(0, 9)) + lines[a].lstrip()
            text = "\n".join(lines)
        elif kind == 6:
            text = text[:i]
        else:
            text = text[:i] + text[i:j][::-1] + text[j:]
    return text


def journey_yaml() -> st.SearchStrategy[str]:
    """Mutated journey YAML files, random text, and random YAML documents."""
    seeds = [t for name, t in _seed_texts([".yaml"]) if t.lstrip().startswith(("#", "journey"))]
    seeds = [t for t in seeds if "\njourney:" in "\n" + t]
    return st.one_of(mutated(seeds), mutated(seeds), st.text(max_size=400), yaml_documents())


def journey_dsl() -> st.SearchStrategy[str]:
    """Mutated ``.journey`` files and random text."""
    seeds = [t for _, t in _seed_texts([".journey"])]
    return st.one_of(mutated(seeds), mutated(seeds), st.text(max_size=400))


def catalogs() -> st.SearchStrategy[tuple[str, str]]:
    """``(kind, text)``: a mutated events or templates catalog."""
    events = (EXAMPLES / "events.yaml").read_text(encoding="utf-8")
    templates = (EXAMPLES / "templates.yaml").read_text(encoding="utf-8")
    return st.one_of(
        st.tuples(st.just("events"), st.one_of(mutated([events]), yaml_documents())),
        st.tuples(st.just("templates"), st.one_of(mutated([templates]), yaml_documents())),
    )


_KEYS = (
    "journey",
    "version",
    "entry",
    "steps",
    "event",
    "send",
    "channel",
    "wait",
    "wait_for",
    "if",
    "then",
    "else",
    "repeat",
    "params",
    "exit",
    "start",
    "profiles",
    "spend",
    "responses",
    "daily",
    "channels",
    "arrivals",
    "x",
)
_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(["2d", "09:00", "1_000_000 VND", "email", "card_issued", "0.5", "-1"]),
)


def yaml_values() -> st.SearchStrategy[Any]:
    """Random plain data over the keys journeys and behaviour files use."""
    return st.recursive(
        _SCALARS,
        lambda inner: st.one_of(
            st.lists(inner, max_size=4),
            st.dictionaries(st.sampled_from(_KEYS), inner, max_size=5),
        ),
        max_leaves=25,
    )


def yaml_documents() -> st.SearchStrategy[str]:
    """Random plain data written as YAML."""
    return yaml_values().map(lambda v: yaml.safe_dump(v, allow_unicode=True))


# --------------------------------------------------------------------------- expressions

_NAMES = (
    "now",
    "entered_at",
    "customer_id",
    "journey_id",
    "journey_version",
    "x",
    "offer",
    "profile.has_digital_app",
    "profile.segment",
    "profile.__class__",
    "profile.__dict__",
    "trigger.card_id",
    "trigger.product",
    "trigger.at",
    "trigger.__class__",
    "customer_id.upper",
    "now.year",
    "transaction.amount",
    "transaction",
    "card_activated",
    "entry",
    "profile",
    "trigger",
    "__import__",
    "os.system",
)
_LITERALS = (
    "1",
    "0",
    "1_000_000",
    "1.5",
    "1_000_000 VND",
    "5 USD",
    "2d",
    "12h",
    "3w",
    "99999999999999d",
    "0d",
    "09:00",
    "25:99",
    '"Tiki"',
    "'x'",
    '""',
    "true",
    "false",
    "[]",
    "[1, 2]",
    '["a", 1]',
    "9" * 40,
    "9" * 5000,
    "1" * 60 + " VND",
)
_FUNCS = ("date", "hour", "weekday", "days", "len", "abs", "min", "max", "today", "lower", "eval")
_AGGS = ("count", "has", "sum", "min", "max", "last", "top")
_OPS = ("+", "-", "*", "/", "%", "==", "!=", "<", "<=", ">", ">=", "and", "or", "in")
_FIELDS = (
    "transaction",
    "transaction.amount",
    "transaction.merchant",
    "transaction.category",
    "transaction.at",
    "card_activated",
    "message_opened.journey",
)
_WINDOWS = (
    "",
    " since entry",
    " in last 30d",
    " in last 0d",
    " since entered_at",
    " since now within -1d",
    " in last 99999d",
)


def expressions() -> st.SearchStrategy[str]:
    """Random expressions of the language, type-correct or not."""
    leaf = st.sampled_from(_NAMES + _LITERALS)
    return st.recursive(
        leaf,
        lambda inner: st.one_of(
            st.tuples(inner, st.sampled_from(_OPS), inner).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
            inner.map(lambda e: f"not {e}"),
            inner.map(lambda e: f"-{e}"),
            st.tuples(inner, inner, inner).map(lambda t: f"(if {t[0]} then {t[1]} else {t[2]})"),
            st.tuples(st.sampled_from(_FUNCS), st.lists(inner, max_size=3)).map(
                lambda t: f"{t[0]}({', '.join(t[1])})"
            ),
            st.tuples(
                st.sampled_from(_AGGS),
                st.sampled_from(_FIELDS),
                st.sampled_from(["", " by count", " by sum(transaction.amount)"]),
                st.sampled_from(["", ' where transaction.merchant == "Tiki"']),
                st.sampled_from(_WINDOWS),
                st.sampled_from(["", " else 0", " else entered_at"]),
            ).map(lambda t: f"{t[0]}({''.join(t[1:])})"),
            st.lists(inner, max_size=3).map(lambda xs: "[" + ", ".join(xs) + "]"),
        ),
        max_leaves=12,
    )


_HEADER = (
    "journey fuzz version 1\n"
    'uses events "events.yaml"\n'
    'uses templates "templates.yaml"\n'
    "outcomes done\n"
)


def expression_journeys() -> st.SearchStrategy[str]:
    """A journey with random expressions in every place one can stand."""

    def build(t: tuple[str, str, str]) -> str:
        e, e2, where = t
        entry = (
            f"entry on card_issued where {e}\n" if where == "entry" else "entry on card_issued\n"
        )
        goal = f"goal done when {e}\n" if where == "goal" else ""
        body = {
            "if": f"if {e} {{ exit done }}\n",
            "set": f"set x = {e}\nset y = {e2}\n",
            "wait": f"wait {e}\n",
            "wait_until": f"wait until {e}\n",
            "wait_for": f"wait for {e} within {e2}\n",
            "send": f"send email offer_confirmation {{ offer: {e} }}\n",
            "ticket": f"ticket telesales priority {e} {{ a: {e2} }}\n",
            "switch": f"switch {e} {{ case {e2} {{ exit done }} }}\n",
            "repeat": f"repeat as r max 3 until {e} {{ wait 1d }}\n",
            "update": f"update segment = {e}\n",
        }.get(where, "")
        return _HEADER + entry + goal + body + "exit done\n"

    places = st.sampled_from(
        [
            "if",
            "set",
            "wait",
            "wait_until",
            "wait_for",
            "send",
            "ticket",
            "switch",
            "repeat",
            "update",
            "entry",
            "goal",
        ]
    )
    return st.tuples(expressions(), expressions(), places).map(build)


# --------------------------------------------------------------------------- behaviour files


def behaviour_files() -> st.SearchStrategy[str]:
    """Mutated behaviour files, random YAML documents and random text."""
    seeds = [(EXAMPLES / "behaviour" / n).read_text(encoding="utf-8") for n in ("onboarding.yaml",)]
    seeds.append((EXAMPLES / "behaviour" / "dormant.yaml").read_text(encoding="utf-8"))
    return st.one_of(mutated(seeds), mutated(seeds), yaml_documents(), st.text(max_size=300))


def policy_files() -> st.SearchStrategy[str]:
    """Mutated policy files (examples/policies.yaml), random YAML documents and random text."""
    seeds = [p.read_text(encoding="utf-8") for p in sorted(EXAMPLES.glob("policies*.yaml"))]
    if not seeds:
        return st.one_of(yaml_documents(), st.text(max_size=300))
    return st.one_of(mutated(seeds), mutated(seeds), yaml_documents(), st.text(max_size=300))


# --------------------------------------------------------------------------- event lines

_JSON = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(allow_nan=True, allow_infinity=True),
        st.text(max_size=12),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=12,
)
_TYPES = (
    "card_issued",
    "card_activated",
    "transaction",
    "app_installed",
    "offer_registered",
    "message_opened",
)


def _deep(n: int) -> Any:
    value: Any = 1
    for _ in range(n):
        value = [value]
    return value


#: Corruptions that make a valid event invalid, with the way each is applied.
BREAKERS: tuple[tuple[str, Any], ...] = (
    ("customer_id", None),
    ("customer_id", ""),
    ("customer_id", 5),
    ("customer_id", ["c"]),
    ("customer_id", "\ud800"),
    ("customer_id", "c" * 300),
    ("type", None),
    ("type", ""),
    ("type", {"t": 1}),
    ("type", "x\udfff"),
    ("at", None),
    ("at", "2026-01-05"),
    ("at", "2026-01-05T10:00:00"),
    ("at", "yesterday"),
    ("at", 1767582000),
    ("at", "9999-12-31T23:59:59+00:00"),
    ("at", "0001-01-01T00:00:00+14:00"),
    ("at", "1800-01-01T00:00:00+07:00"),
    ("data", "a string"),
    ("data", [1, 2]),
    ("data", 7),
    ("data.nested", _deep(40)),
    ("data.nan", float("nan")),
    ("data.inf", float("inf")),
    ("data.text", "\ud800"),
)
#: Field corruptions that only apply to the event types that have the field.
FIELD_BREAKERS: dict[str, tuple[tuple[str, Any], ...]] = {
    "transaction": (
        ("amount", "a lot"),
        ("amount", True),
        ("amount", float("nan")),
        ("amount", "Infinity"),
        ("amount", "1e999"),
        ("amount", "0." + "0" * 40 + "1"),
        ("amount", [100]),
        ("currency", "USD"),
        ("category", "gambling"),
        ("merchant", 42),
    ),
    "card_issued": (("card_id", 5), ("product", ["gold"]), ("card_id", {"id": 1})),
    "card_activated": (("card_id", False),),
}


def breaking(raw: Event, where: str, value: Any, uid: str) -> Event:
    """``raw`` with one corruption (one of :data:`BREAKERS` or :data:`FIELD_BREAKERS`: ``None``
    removes the field) and the id ``uid``, so two equal corruptions are two events."""
    bad: dict[str, Any] = json.loads(json.dumps(raw))
    if where.startswith("data."):
        bad["data"] = {**bad.get("data", {}), where[5:]: value}
    elif where in ("customer_id", "type", "at", "data"):
        bad[where] = value
        if value is None:
            del bad[where]
    else:
        bad["data"] = {**bad.get("data", {}), where: value}
    bad["id"] = uid
    return bad


def broken(raw: Event, rng: Any) -> Event:
    """``raw`` with a random corruption that the contract or the catalog must refuse."""
    choices = list(BREAKERS) + list(FIELD_BREAKERS.get(raw["type"], ()))
    where, value = choices[rng.randrange(len(choices))]
    return breaking(raw, where, value, f"hostile-{rng.randrange(10**12)}")


#: Lines that are not an event object at all.
GARBAGE = (
    "not json",
    "[1, 2]",
    "null",
    '"a string"',
    "{",
    "{}}",
    "[" * 100_000 + "]" * 100_000,
    '{"customer_id": "c", "at": 1e999999}',
    '{"customer_id": ' + "1" * 5000 + "}",
    '{"a": NaN',
)


def random_event_lines() -> st.SearchStrategy[str]:
    """Event-shaped or arbitrary JSON, as one line (with no oracle beyond "no crash")."""
    shaped = st.fixed_dictionaries(
        {
            "customer_id": st.one_of(st.text(max_size=8), _JSON),
            "type": st.one_of(st.sampled_from(_TYPES), _JSON),
            "at": st.one_of(
                st.datetimes(
                    min_value=datetime(2026, 1, 1),
                    max_value=datetime(2026, 3, 1),
                    timezones=st.just(ICT),
                ).map(lambda d: d.isoformat()),
                st.text(max_size=30),
                _JSON,
            ),
            "data": st.one_of(
                st.dictionaries(st.sampled_from(["amount", "currency"]), _JSON), _JSON
            ),
        }
    )
    return st.one_of(
        shaped.map(lambda v: json.dumps(v, ensure_ascii=False)),
        _JSON.map(json.dumps),
        st.text(max_size=60).map(lambda s: s.replace("\n", " ")),
        st.sampled_from(GARBAGE),
    )
