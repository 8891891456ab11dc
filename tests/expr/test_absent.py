"""Absent profile attributes: catalogs declare attributes optional or give them a default, the
checker asks for a fallback where an optional one's value is needed (JD309), ``default(value,
fallback)`` gives one, and at run time an absent value compares as false or stops the evaluation
with an error that says how to give a default, never an AttributeError."""

from __future__ import annotations

import re
import textwrap
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from journeydsl import ir
from journeydsl.catalog import load_events
from journeydsl.compiler import compile_file, compile_source
from journeydsl.diagnostics import Diagnostics, Span
from journeydsl.expr.absent import Absent, AbsentAttributeError, fallback_text, parse_default
from journeydsl.expr.catalog import Catalog
from journeydsl.expr.context import EventRecord
from journeydsl.expr.types import (
    BOOL,
    DATE,
    DECIMAL,
    DURATION,
    INT,
    STRING,
    TIME,
    TIMESTAMP,
    Type,
    money,
)
from journeydsl.money import Money
from journeydsl.syntax.parser import parse_journey
from journeydsl.syntax.printer import print_dsl, print_yaml
from journeydsl.syntax.yaml_loader import load_yaml_journey
from tests.expr.test_checker import ENTERED, compile_steps, condition_of, ctx, value_of
from tests.runtime.scenario import EXAMPLES, compile_journey, ev, local, profile, run
from tests.test_docs_language import PAIRS

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "checks"
START = local("2026-01-05 09:00")
AT = local("2026-01-05 10:00")
HEADER = """\
journey absent
uses events "events.yaml"
uses templates "templates.yaml"
outcomes done
entry on card_issued
"""


def docs_example(name: str) -> tuple[str, str]:
    """The DSL and YAML text of the docs/language.md example ``journey NAME``."""
    for dsl, yaml in PAIRS:
        if dsl.text.startswith(f"journey {name}\n"):
            return dsl.text, yaml.text
    raise AssertionError(f"no example journey {name} in docs/language.md")


# --------------------------------------------------------------------------- run time


@pytest.mark.parametrize("spelling", ["dsl", "yaml"])
def test_docs_activation_call_runs_for_a_profile_without_a_credit_limit(spelling: str) -> None:
    """The reference's activation_call example, for a customer whose profile has no
    credit_limit: the comparison is false, so the ticket is opened with normal priority and the
    instance ends handed over (it ended with an AttributeError before); a customer with a large
    limit still gets an urgent one."""
    dsl, yaml = docs_example("activation_call")
    text, file = (dsl, "call.journey") if spelling == "dsl" else (yaml, "call.yaml")
    result = compile_source(text, file, base_dir=EXAMPLES)
    assert result.journey is not None
    events = [ev(c, "card_issued", AT, card_id=f"k-{c}", product="gold") for c in ("none", "big")]
    big = profile("big", credit_limit=Money(Decimal(150_000_000), "VND"))
    r = run([result.journey], [profile("none"), big], events, start=START)
    for customer, priority in (("none", "normal"), ("big", "urgent")):
        assert r.outcomes(customer) == [("ended", "handed_over")]
        ((_, kind, queue, got, _),) = r.acts(customer, kinds=("ticket",))
        assert (kind, queue, got) == ("ticket", "telesales", priority)


def test_an_absent_value_where_a_value_is_needed_stops_with_a_clear_reason() -> None:
    """Arithmetic on a declared attribute the profile lacks ends the instance with an error
    that names the attribute and shows the fallback to write."""
    j = compile_journey(HEADER + "set half = profile.credit_limit / 2\n")
    r = run(
        [j],
        [profile("c1")],
        [ev("c1", "card_issued", AT, card_id="k", product="gold")],
        start=START,
    )
    assert r.outcomes("c1") == [("ended", "error")]
    (entry,) = [e for e in r.instances("c1")[0]["log"] if e["what"] == "error"]
    assert entry["error"] == "AbsentAttributeError"
    assert (
        "profile attribute 'credit_limit' is absent for this customer; give a default: "
        "default(profile.credit_limit, 0 VND)"
    ) in entry["reason"]


def test_catalog_default_and_fallback_are_used_at_run_time() -> None:
    """A profile without loyalty_points reads 0 (the catalog default), and default() gives its
    fallback for a missing spend_target, in the params handed to a template."""
    j = compile_journey(
        HEADER
        + textwrap.dedent(
            """\
            set points = profile.loyalty_points + 10
            send email fee_waiver_offer {
              threshold: default(profile.spend_target, 2_000_000 VND),
              deadline: date(entered_at + 30d),
            }
            action record { points: points }
            """
        )
    )
    with_target = profile("t", spend_target=Money(Decimal(7_000_000), "VND"), loyalty_points=5)
    events = [ev(c, "card_issued", AT, card_id="k", product="gold") for c in ("c1", "t")]
    r = run([j], [profile("c1"), with_target], events, start=START, handlers=("record",))
    calls = {c: p for _, c, p in r.handlers["record"].calls}
    assert calls == {"c1": {"points": 10}, "t": {"points": 15}}
    sends = {c: r.acts(c, kinds=("send",))[0][4]["threshold"] for c in ("c1", "t")}
    assert sends == {
        "c1": {"amount": "2000000", "currency": "VND"},
        "t": {"amount": "7000000", "currency": "VND"},
    }


def test_a_switch_on_an_absent_value_runs_its_else() -> None:
    """No case matches an absent subject; the decision log shows it as null."""
    j = compile_journey(
        HEADER + 'switch profile.segment {\n  case "mass" { tag mass }\n  else { tag unknown }\n}\n'
    )
    r = run(
        [j],
        [profile("c1")],
        [ev("c1", "card_issued", AT, card_id="k", product="gold")],
        start=START,
    )
    assert r.profiles.get("c1").tags == {"unknown"}
    (entry,) = [e for e in r.instances("c1")[0]["log"] if e["what"] == "switch"]
    assert entry["value"] is None
    assert entry["case"] == "else"


# --------------------------------------------------------------------------- comparisons


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ("profile.credit_limit >= 0 VND", False),
        ("profile.credit_limit < 0 VND", False),
        ("profile.credit_limit == 0 VND", False),
        ("profile.credit_limit != 0 VND", True),
        ("profile.spend_target == profile.credit_limit", False),
        ('profile.city in ["Hue", "Ha Noi"]', False),
        ("profile.has_digital_app", False),
        ("not profile.has_digital_app", True),
        ("profile.has_digital_app or true", True),
        ("default(profile.credit_limit, 5 VND) == 5 VND", True),
        ("default(profile.has_digital_app, true)", True),
        ("profile.loyalty_points == 0", True),
        ('(if profile.city == "Hue" then profile.credit_limit else 1 VND) == 1 VND', True),
        ("(if true then profile.credit_limit else 1 VND) > 0 VND", False),
        ("has(transaction where transaction.amount > profile.spend_target)", False),
    ],
)
def test_comparisons_and_conditions_of_absent_values_are_well_defined(
    condition: str, expected: bool
) -> None:
    """With an empty profile, an absent value equals nothing, orders with nothing, is in no
    list and counts as false in a condition."""
    journey = compile_steps(f"test: if {condition} {{\n  tag yes\n}}\n")
    txn = {"amount": Money.of(1), "merchant": "Tiki", "category": "shopping"}
    events = [EventRecord("c-1", "transaction", ENTERED - timedelta(days=1), txn)]
    assert condition_of(journey, "test").fn(ctx(ENTERED, *events), None) is expected


def test_a_present_value_is_read_as_it_is() -> None:
    """With the attribute in the profile, comparisons and default() use it."""
    journey = compile_steps(
        "test: if profile.credit_limit >= 5 VND and default(profile.spend_target, 0 VND) == "
        "3 VND {\n  tag yes\n}\n"
    )
    attrs = {"credit_limit": Money.of(9), "spend_target": Money.of(3)}
    assert condition_of(journey, "test").fn(ctx(ENTERED, profile=attrs), None) is True


def test_the_absent_marker_never_leaves_an_expression() -> None:
    """A set value raises, a send param is null; neither is the marker."""
    journey = compile_steps("v: set v = profile.city\n")
    with pytest.raises(AbsentAttributeError, match=re.escape('default(profile.city, "")')):
        value_of(journey, "v").fn(ctx(ENTERED), None)
    send = compile_steps("send email offer_confirmation { offer: profile.city }\n")
    node = next(n for n in send.nodes.values() if isinstance(n, ir.Send))
    assert node.params[0][1].fn(ctx(ENTERED), None) is None


# --------------------------------------------------------------------------- check


def diagnostics(steps: str) -> list[tuple[str, str, str | None]]:
    """(code, message, hint) of each error of HEADER + ``steps``."""
    result = compile_source(HEADER + textwrap.dedent(steps), "t.journey", base_dir=EXAMPLES)
    return [(d.code, d.message, d.hint) for d in result.diagnostics if d.severity == "error"]


def test_an_optional_attribute_without_a_fallback_is_jd309_with_the_fix_as_hint() -> None:
    """Reading spend_target (optional) in arithmetic is JD309, whose hint is the default() to
    write."""
    assert diagnostics("set half = profile.spend_target / 2\n") == [
        (
            "JD309",
            "profile attribute 'spend_target' is optional (a customer's profile may lack it), "
            "so this value needs a fallback",
            "write default(profile.spend_target, 0 VND), or give the attribute a `default:` in "
            "the events catalog",
        )
    ]


@pytest.mark.parametrize(
    "steps",
    [
        "if profile.spend_target > 0 VND { tag t }\n",
        'if profile.spend_target != 0 VND and profile.segment == "mass" { tag t }\n',
        "switch profile.spend_target { case 0 VND { tag t } }\n",
        "set t = default(profile.spend_target, 0 VND) * 2\n",
        "set t = default(profile.spend_target, profile.credit_limit)\n",
        "set p = profile.loyalty_points * 2\n",
        "set limit = profile.credit_limit * 2\n",
        "wait for sum(transaction.amount since entry) >= default(profile.spend_target, 1 VND)"
        " within 3d\n",
    ],
)
def test_optional_attributes_need_no_fallback_where_absence_has_a_meaning(steps: str) -> None:
    """Comparisons, conditions, switch subjects, default() and attributes with a catalog
    default (or plain ones) are no JD309."""
    assert diagnostics(steps) == []


def test_default_needs_two_arguments_of_one_type() -> None:
    """default()'s fallback must have the value's type; money wants its currency."""
    assert [code for code, _, _ in diagnostics("set a = default(profile.spend_target, 0)\n")] == [
        "JD303"
    ]
    assert [c for c, _, _ in diagnostics('set a = default(profile.credit_limit, "x")\n')] == [
        "JD301"
    ]
    ((code, message, _),) = diagnostics("set a = default(profile.credit_limit)\n")
    assert (code, message) == (
        "JD301",
        "default() takes 2 arguments, a value and its fallback, got 1",
    )
    assert diagnostics('set a = default(profile.segment, "mass")\n') == []


def test_an_unknown_function_close_to_default_suggests_it() -> None:
    """defualt() is JD209 with a did-you-mean."""
    ((code, _, hint),) = diagnostics('set a = defualt(profile.city, "x")\n')
    assert (code, hint) == ("JD209", "did you mean 'default'?")


# --------------------------------------------------------------------------- the syntax


def test_default_round_trips_through_the_printer_in_both_spellings() -> None:
    """The fixture using default() prints to DSL and YAML and reads back to the same AST, and
    both spellings compile to the same graph."""
    dsl_text = (FIXTURES / "absent.journey").read_text(encoding="utf-8")
    tree, diags = parse_journey(dsl_text, "absent.journey")
    assert tree is not None
    assert not diags
    printed = print_dsl(tree)
    assert "default(profile.spend_target, 1_000_000 VND)" in printed
    again, _ = parse_journey(printed, "again.journey")
    assert again == tree
    as_yaml, _ = load_yaml_journey(print_yaml(tree), "again.yaml")
    assert as_yaml == tree
    dsl = compile_file(FIXTURES / "absent.journey", root=FIXTURES.parents[2]).journey
    yml = compile_file(FIXTURES / "absent.yaml", root=FIXTURES.parents[2]).journey
    assert dsl is not None
    assert yml is not None
    assert dsl.to_json() == yml.to_json()


# --------------------------------------------------------------------------- the catalog


def load(attributes: str, tmp_path: Path) -> tuple[Catalog, list[str]]:
    """An events catalog with these ``attributes:`` lines, and its diagnostics' messages."""
    path = tmp_path / "events.yaml"
    lines = textwrap.indent(textwrap.dedent(attributes), "  ")
    path.write_text("events: {}\nattributes:\n" + lines, encoding="utf-8")
    catalog, diags = Catalog(), Diagnostics()
    load_events(path, catalog, diags, Span.point("j", 1, 1), {})
    return catalog, [d.message for d in diags.items]


def test_catalog_attributes_may_be_optional_or_have_a_default(tmp_path: Path) -> None:
    """`optional: true` and `default:` are read; plain attributes are neither."""
    catalog, problems = load(
        """\
          plain: string
          target: {type: money, currency: VND, optional: true}
          points: {type: int, default: 0}
          limit: {type: money, currency: VND, default: 5_000_000 VND}
          tier: {type: enum, values: [silver, gold], default: silver, optional: false}
        """,
        tmp_path,
    )
    assert problems == []
    assert catalog.optional == {"target"}
    assert catalog.defaults == {
        "points": 0,
        "limit": Money(Decimal(5_000_000), "VND"),
        "tier": "silver",
    }
    assert set(catalog.attributes) == {"plain", "target", "points", "limit", "tier"}


def test_bad_defaults_and_optional_flags_are_jd109(tmp_path: Path) -> None:
    """A default that is not a value of the attribute's type, or an optional that is not a
    bool, is a catalog error at its own line."""
    _, problems = load(
        """\
          a: {type: int, default: lots}
          b: {type: money, currency: VND, default: 5 USD}
          c: {type: enum, values: [x, y], default: z}
          d: {type: string, optional: maybe}
          e: {type: timestamp, default: "2026-01-01T09:00:00"}
        """,
        tmp_path,
    )
    assert problems == [
        "bad default for attribute 'a': 'lots' is not a whole number",
        "bad default for attribute 'b': '5 USD' is not in VND",
        "bad default for attribute 'c': 'z' is not one of the values: x, y",
        "'optional' is true or false",
        "bad default for attribute 'e': '2026-01-01T09:00:00' is not a timestamp such as "
        "2026-01-31T09:00:00+07:00",
    ]


@pytest.mark.parametrize(
    ("text", "t", "value"),
    [
        ("true", BOOL, True),
        ("-1_000", INT, -1000),
        ("0.25", DECIMAL, Decimal("0.25")),
        ("1_000 VND", money("VND"), Money(Decimal(1000), "VND")),
        ("1000", money("VND"), Money(Decimal(1000), "VND")),
        ("mass", STRING, "mass"),
        ("30d", DURATION, timedelta(days=30)),
        ("09:30", TIME, time(9, 30)),
        ("2026-01-31", DATE, date(2026, 1, 31)),
        ("2026-01-31T09:00:00+00:00", TIMESTAMP, datetime(2026, 1, 31, 9, tzinfo=UTC)),
    ],
)
def test_defaults_are_written_as_data(text: str, t: Type, value: Any) -> None:
    """Each type's default is read from its plain text."""
    assert parse_default(text, t) == value


def test_fallback_hints_are_dsl_values() -> None:
    """The fallback a hint proposes is a literal (or name) of the right type."""
    hints = [fallback_text(t) for t in (money("USD"), INT, DECIMAL, STRING, BOOL, DURATION)]
    assert hints == ["0 USD", "0", "0.0", '""', "false", "0d"]
    assert fallback_text(Type("enum", values=("gold", "silver"))) == '"gold"'
    assert fallback_text(TIMESTAMP) == "entered_at"
    assert not Absent("x")
    assert Absent("x") != Absent("x")
