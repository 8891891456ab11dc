"""Offer catalogues (`offers:` in the events catalog) and the `choose` step: both spellings give
the same graph and print back to themselves, and each mistake in a catalogue or a step is
reported with its code, at its place (file:line:col), and says what was expected."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from journeydsl.compiler import CompileResult, compile_file, compile_source
from journeydsl.syntax.parser import parse_journey
from journeydsl.syntax.printer import print_dsl, print_yaml
from journeydsl.syntax.yaml_loader import load_yaml_journey

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
REPO = FIXTURES.parent.parent

EVENTS = """\
events:
  card_activated: {card_id: string}
attributes:
  segment: string
offers:
  promo:
    payload: {code: string}
    fallback: base
    offers:
%s
      base:
        payload: {code: B}
"""
GOOD_OFFER = """\
      good:
        eligible: profile.segment == "gold"
        rank: 2
        payload: {code: G}"""
JOURNEY = """\
journey j version 1
uses events "events.yaml"
outcomes done
entry on card_activated
choose best from promo
exit done
"""


def _compile(tmp_path: Path, offer: str = GOOD_OFFER, journey: str = JOURNEY) -> CompileResult:
    (tmp_path / "events.yaml").write_text(EVENTS % offer, encoding="utf-8")
    (tmp_path / "j.journey").write_text(journey, encoding="utf-8")
    return compile_file(tmp_path / "j.journey")


def _errors(result: CompileResult) -> list[str]:
    return [
        f"{Path(d.span.file).name}:{d.span.line}:{d.span.column} {d.code} {d.message}"
        for d in result.diagnostics
        if d.severity.value == "error"
    ]


def test_both_spellings_compile_to_the_same_graph() -> None:
    """offers.journey and offers.yaml (tests/fixtures/checks) give equal graph JSON, with each
    offer's rule, rank, cap, window and payload."""
    graphs = []
    for suffix in (".journey", ".yaml"):
        result = compile_file(FIXTURES / "checks" / f"offers{suffix}", root=REPO)
        assert result.journey is not None, [str(d) for d in result.diagnostics]
        graphs.append(json.loads(json.dumps(result.journey.to_json())))
    assert graphs[0] == graphs[1]
    node = next(n for n in graphs[0]["nodes"] if n["id"] == "choose_card")
    assert node["kind"] == "choose"
    assert node["candidates"][0] == {
        "id": "fee_waiver",
        "label": "Annual fee waiver",
        "eligible": "profile.has_digital_app",
        "rank": "count(transaction in last 90d)",
        "cap": 1,
        "valid_from": "2026-01-01T00:00:00+07:00",
        "valid_until": "2027-01-01T00:00:00+07:00",
        "payload": {"voucher_code": "FEE-WAIVER", "value": {"amount": "500000", "currency": "VND"}},
    }
    assert node["fallback"]["id"] == "points_bonus"
    assert (node["none_exit"], node["on_none"]) == (True, "exit_no_offer")


def test_fmt_round_trips_both_ways() -> None:
    """DSL → YAML → DSL gives the same text, and the YAML printed from the DSL parses to the
    same AST (a `none` block, an empty one, and a step without it)."""
    text = (
        "journey j version 1\noutcomes done\n\nentry on card_activated\n  reentry once\n\n"
        "choose best from promo none {\n  exit done\n}\nchoose other from promo none {\n}\n"
        "choose last from promo\nexit done\n"
    )
    tree, diags = parse_journey(text, "j.journey")
    assert tree is not None, diags
    yaml_text = print_yaml(tree)
    again, diags = load_yaml_journey(yaml_text, "j.yaml")
    assert again == tree, diags
    assert print_dsl(again) == print_dsl(tree)
    assert "- choose: best\n    from: promo\n    none:\n      - exit: done" in yaml_text


@pytest.mark.parametrize(
    ("offer", "expected"),
    [
        (
            '      bad:\n        valid: {from: "2026-01-01T00:00:00"}\n        payload: {code: X}',
            "events.yaml:11:23 JD109 'from' of the validity of offer 'bad' of 'promo' is a date "
            "and time with its UTC offset",
        ),
        (
            "      bad:\n        valid: {from: 2026-02-01T00:00:00+07:00, until: "
            "2026-01-01T00:00:00+07:00}\n        payload: {code: X}",
            "events.yaml:11:16 JD109 the validity of offer 'bad' of 'promo' ends before it starts",
        ),
        (
            "      bad:\n        cap: 0\n        payload: {code: X}",
            "events.yaml:11:14 JD109 the cap of offer 'bad' of 'promo' is how many times one "
            "customer may get it",
        ),
        (
            "      bad:\n        cap: ²\n        payload: {code: X}",
            "events.yaml:11:14 JD109 the cap of offer 'bad' of 'promo' is how many times one "
            "customer may get it",
        ),
        (
            "      bad:\n        payload: {code: 1, extra: x}",
            "events.yaml:11:28 JD109 the payload of offer 'bad' of 'promo' has a field 'extra' "
            "the catalogue does not declare",
        ),
        (
            "      bad:\n        label: no payload",
            "events.yaml:10:7 JD109 offer 'bad' of 'promo' lacks the payload field 'code'",
        ),
        (
            "      bad:\n        rnak: 1\n        payload: {code: X}",
            "events.yaml:11:9 JD109 unknown key 'rnak' in offer 'bad' of 'promo'",
        ),
        (
            "      bad:\n        eligible: profile.segment = 1\n        payload: {code: X}",
            "events.yaml:11:35 JD111",
        ),
    ],
    ids=["naive", "backwards", "cap", "superscript", "undeclared", "missing", "key", "syntax"],
)
def test_catalogue_mistakes_are_reported_where_they_are(
    tmp_path: Path, offer: str, expected: str
) -> None:
    """Each mistake of an offer is reported in the catalog, at its line and column, with what
    was expected (the offer is dropped, the others are kept)."""
    errors = _errors(_compile(tmp_path, offer))
    assert any(e.startswith(expected) for e in errors), errors


def test_a_fallback_must_name_an_offer_without_rules(tmp_path: Path) -> None:
    """A fallback that names no offer of the catalogue (JD109 with did-you-mean), or one with
    rules, is refused, and a choose from it is then unknown (JD215)."""
    (tmp_path / "events.yaml").write_text(
        (EVENTS % GOOD_OFFER).replace("fallback: base", "fallback: bsae"), encoding="utf-8"
    )
    (tmp_path / "j.journey").write_text(JOURNEY, encoding="utf-8")
    result = compile_file(tmp_path / "j.journey")
    (bad,) = [d for d in result.diagnostics if d.code == "JD109"]
    assert (bad.span.line, bad.span.column) == (8, 15)
    assert bad.message == "the fallback 'bsae' of offer catalogue 'promo' names no offer of it"
    assert bad.hint == "did you mean 'base'?"
    (tmp_path / "events.yaml").write_text(
        (EVENTS % GOOD_OFFER).replace("fallback: base", "fallback: good"), encoding="utf-8"
    )
    errors = _errors(compile_file(tmp_path / "j.journey"))
    assert any(
        "the fallback 'good' of offer catalogue 'promo' has eligible, rank" in e for e in errors
    )


def test_rules_are_type_checked_at_the_step_that_chooses(tmp_path: Path) -> None:
    """An eligibility rule that is not a bool is JD304, a rank that is not a number JD301, both
    at their place in the catalog; an unknown attribute in a rule JD203."""
    offer = (
        "      bad:\n        eligible: profile.segment\n        rank: profile.segment\n"
        '        payload: {code: X}\n      worse:\n        eligible: profile.segmnt == "x"\n'
        "        payload: {code: Y}"
    )
    errors = _errors(_compile(tmp_path, offer))
    assert errors[0].startswith("events.yaml:11:19 JD304 a condition must be true or false")
    assert errors[1].startswith(
        "events.yaml:12:15 JD301 the rank of offer 'bad' must be a number, this is a string"
    )
    assert errors[2].startswith("events.yaml:15:19 JD203")


def test_a_rank_may_read_a_journey_variable_set_before(tmp_path: Path) -> None:
    """A rank reads journey variables (a `set`, a decision's answer) where the step chooses: one
    set before it is fine, one never set is JD204 at its place in the catalog."""
    offer = "      good:\n        rank: score * 2\n        payload: {code: G}"
    journey = JOURNEY.replace("choose best", "set score = 3\nchoose best")
    assert _errors(_compile(tmp_path, offer, journey)) == []
    errors = _errors(_compile(tmp_path, offer))
    assert errors[0].startswith("events.yaml:11:15 JD204")


def test_a_catalogue_without_fallback_needs_a_none_exit(tmp_path: Path) -> None:
    """Without a fallback, a choose step must say what happens when nothing is eligible: JD104
    at the step; with `none { … }` it compiles."""
    (tmp_path / "events.yaml").write_text(
        (EVENTS % GOOD_OFFER).replace("    fallback: base\n", ""), encoding="utf-8"
    )
    (tmp_path / "j.journey").write_text(JOURNEY, encoding="utf-8")
    errors = _errors(compile_file(tmp_path / "j.journey"))
    assert errors == [
        "j.journey:5:1 JD104 offer catalogue 'promo' has no fallback: say what happens when no "
        "offer is eligible"
    ]
    fixed = JOURNEY.replace("choose best from promo", "choose best from promo none { exit done }")
    (tmp_path / "j.journey").write_text(fixed, encoding="utf-8")
    assert _errors(compile_file(tmp_path / "j.journey")) == []


def test_an_unknown_catalogue_without_events_catalog_says_to_add_one() -> None:
    """JD215 in a journey without `uses events` hints at adding it."""
    result = compile_source(
        "journey j version 1\noutcomes done\nentry manual\nchoose best from promo "
        "none { exit done }\nexit done\n",
        "j.journey",
    )
    (d,) = [d for d in result.diagnostics if d.code == "JD215"]
    assert d.hint == 'add `uses events "events.yaml"`'


def test_a_migration_sees_the_chosen_offer_as_set_after_the_step() -> None:
    """`check --migrate` (runtime.migrate.set_before) counts a chosen offer as set at the steps
    after its choose step, as JD208 does, so a mapping to a wait after it is not JD704."""
    from journeydsl.runtime.migrate import set_before

    result = compile_file(FIXTURES / "checks" / "offers.journey", root=REPO)
    assert result.journey is not None
    before = set_before(result.journey)
    assert "best" not in before["choose_best"]
    assert "best" in before["email_reactivation_offer"]
    assert {"best", "card"} <= before["if"]


def test_a_money_payload_finer_than_its_currency_is_refused(tmp_path: Path) -> None:
    """A payload amount with more decimal places than its currency has (`5.5 VND`) is JD109 at
    the value, as a budget's total is: it would be sent to customers as written."""
    events = EVENTS.replace(
        "payload: {code: string}", "payload: {value: {type: money, currency: VND}}"
    )
    events = events.replace("payload: {code: B}", "payload: {value: 0 VND}")
    (tmp_path / "events.yaml").write_text(
        events % "      bad:\n        payload: {value: 5.5 VND}", encoding="utf-8"
    )
    (tmp_path / "j.journey").write_text(JOURNEY, encoding="utf-8")
    assert _errors(compile_file(tmp_path / "j.journey")) == [
        "events.yaml:11:26 JD109 payload field 'value' of offer 'bad' of 'promo' is 5.5 VND: "
        "it has 1 decimal place and VND has none"
    ]
    (tmp_path / "events.yaml").write_text(
        events % "      good:\n        payload: {value: 500_000 VND}", encoding="utf-8"
    )
    assert _errors(compile_file(tmp_path / "j.journey")) == []
