"""Exact numbers: events and profiles are read as decimals, never through a float, and an amount
with more decimal places than its currency has is quarantined (docs/embedding.md, "Numbers and
money")."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from journeydsl.cli import main
from journeydsl.expr.types import Type
from journeydsl.jsonio import MAX_NUMBER_DIGITS, loads_exact, valid_unicode
from journeydsl.money import MINOR_UNITS, Money, decimal_places, minor_units, places_beyond
from journeydsl.runtime.events import (
    BadEvent,
    UnreadableEvent,
    coerce_event,
    event_id,
    parse_event_json,
)
from journeydsl.runtime.stores.sqlite import SQLiteStore, read_profiles_jsonl
from tests.runtime.scenario import build, example, local, profile

ROOT = Path(__file__).resolve().parents[2]
ONBOARDING = str(ROOT / "examples" / "onboarding_new_cardholder.journey")
SCHEMAS = {
    "transaction": {"amount": Type("money", currency="VND")},
    "payment": {"amount": Type("money", currency="USD")},
    "gold": {"weight": Type("money", currency="XAU")},
}
HEAD = '{"customer_id": "c-1", "type": "transaction", "at": "2026-01-18T12:00:00+07:00", "data": '


def tx_line(amount: str) -> str:
    """A VND transaction as one JSON line, with ``amount`` written exactly as given."""
    return HEAD + '{"amount": ' + amount + ', "currency": "VND", "merchant": "Tiki"}}'


def onboarding_lines(amount: str) -> list[str]:
    """c-1 is issued a card, activates it, and 12 days later spends ``amount`` VND: after the
    fee-waiver offer, so a goal met shows as the ``annual_fee_waiver`` reward."""
    return [
        json.dumps(
            {
                "customer_id": "c-1",
                "type": "card_issued",
                "at": "2026-01-05T10:00:00+07:00",
                "data": {"card_id": "k1", "product": "gold"},
            }
        ),
        json.dumps(
            {
                "customer_id": "c-1",
                "type": "card_activated",
                "at": "2026-01-06T09:30:00+07:00",
                "data": {"card_id": "k1"},
            }
        ),
        tx_line(amount),
    ]


def run_onboarding(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], amount: str
) -> tuple[list[dict[str, Any]], list[tuple[str, Any]], str]:
    """``journeydsl run`` of the onboarding example over :func:`onboarding_lines`: the actions,
    c-1's ``(status, outcome)`` and the run's report."""
    events = tmp_path / "events.jsonl"
    events.write_text("\n".join(onboarding_lines(amount)) + "\n", encoding="utf-8")
    profiles = tmp_path / "profiles.jsonl"
    consent = {"email": True, "sms": True, "zns": True, "push": True}
    line = {"customer_id": "c-1", "attributes": {"has_digital_app": True}, "consent": consent}
    profiles.write_text(json.dumps(line) + "\n", encoding="utf-8")
    db, actions = tmp_path / "state.sqlite", tmp_path / "actions.jsonl"
    argv = ["run", ONBOARDING, "--db", str(db), "--events", str(events)]
    argv += ["--actions", str(actions), "--profiles", str(profiles)]
    code = main([*argv, "--now", "2026-03-01T00:00:00+07:00"])
    err = capsys.readouterr().err
    assert code == 0, err
    written = [json.loads(x) for x in actions.read_text(encoding="utf-8").splitlines()]
    with SQLiteStore(db) as store:
        outcomes = [(i["status"], i["outcome"]) for i in store.instances_of("c-1")]
    return written, outcomes, err


def record(amount: Any, etype: str = "transaction", currency: str = "VND") -> Any:
    """The typed event for ``amount`` in a one-field event."""
    field = "weight" if etype == "gold" else "amount"
    raw = {"customer_id": "c-1", "type": etype, "at": "2026-01-05T10:00:00+07:00"}
    return coerce_event({**raw, "data": {field: amount, "currency": currency}}, SCHEMAS)


# --------------------------------------------------------------------------- journeydsl run


def test_run_quarantines_an_amount_a_float_would_round_up_to_the_goal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """999999.99999999999999 VND as a JSON number is quarantined with the reason, not read as
    1000000.0: no spend_goal_met, no fee waiver."""
    actions, outcomes, err = run_onboarding(tmp_path, capsys, "999999.99999999999999")
    assert (
        "events.jsonl:3: quarantined: transaction.amount: 999999.99999999999999 has 14 decimal "
        "places; VND allows 0"
    ) in err
    assert "3 events read, 2 processed, 0 skipped as already done, 1 quarantined" in err
    assert not [a for a in actions if a["kind"] == "reward"]
    assert outcomes == [("ended", "spend_goal_missed")]


def test_run_quarantines_half_a_dong(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """1000000.5 VND is quarantined (VND has no minor unit): never rounded either way."""
    actions, outcomes, err = run_onboarding(tmp_path, capsys, "1000000.5")
    assert "transaction.amount: 1000000.5 has 1 decimal place; VND allows 0" in err
    assert outcomes == [("ended", "spend_goal_missed")]
    assert not [a for a in actions if a["kind"] == "reward"]


def test_run_takes_trailing_zeros_as_a_whole_amount(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """1000000.00 VND is one million (trailing zeros are not precision): the goal is met, and
    the amount keeps the digits it was written with."""
    actions, outcomes, err = run_onboarding(tmp_path, capsys, "1000000.00")
    assert "quarantined" not in err.replace("0 quarantined", "")
    assert outcomes == [("ended", "spend_goal_met")]
    assert [a["name"] for a in actions if a["kind"] == "reward"] == ["annual_fee_waiver"]
    amount = record(loads_exact("1000000.00")).data["amount"]
    assert amount.amount.as_tuple() == Decimal("1000000.00").as_tuple()


# --------------------------------------------------------------------------- the reader


def test_loads_exact_reads_fractions_as_the_decimals_written() -> None:
    """Fractions and exponents become Decimals with their digits; integers stay exact ints."""
    got = loads_exact('{"a": 999999.99999999999999, "b": 0.10, "c": 1E+3, "d": 2, "e": -0.0}')
    assert got["a"].as_tuple() == Decimal("999999.99999999999999").as_tuple()
    assert got["b"].as_tuple() == Decimal("0.10").as_tuple()
    assert got["c"] == Decimal(1000)
    assert type(got["c"]) is Decimal
    assert got["d"] == 2
    assert type(got["d"]) is int
    assert loads_exact(b"[123456789012345678901234567890]") == [123456789012345678901234567890]
    assert not any(isinstance(v, float) for v in got.values())


@pytest.mark.parametrize("text", ["NaN", "Infinity", "-Infinity", "[1, NaN]"])
def test_loads_exact_refuses_what_json_calls_no_number(text: str) -> None:
    """NaN and the infinities, which json.loads lets through, are refused as not JSON."""
    with pytest.raises(ValueError, match="is not a JSON number"):
        loads_exact(text)


def test_loads_exact_refuses_a_number_too_long_to_write_out() -> None:
    """An exponent that would write out to millions of digits is refused (a float read it as
    infinity), while the longest allowed one is read."""
    with pytest.raises(ValueError, match=f"more than {MAX_NUMBER_DIGITS} digits"):
        loads_exact('{"x": 1e999999999}')
    with pytest.raises(ValueError, match="out of range"):
        loads_exact("1e9999999999999999999999")
    assert loads_exact(f"1e{MAX_NUMBER_DIGITS - 1}") == Decimal(10) ** (MAX_NUMBER_DIGITS - 1)
    with pytest.raises(ValueError, match="BOM"):
        loads_exact("\ufeff{}")


_decimal_texts = st.one_of(
    st.builds(
        lambda sign, digits, exponent: f"{sign}{digits}E{exponent}",
        st.sampled_from(["", "-"]),
        st.integers(0, 10**40),
        st.integers(-60, 60),
    ).map(lambda text: str(Decimal(text))),
    st.decimals(allow_nan=False, allow_infinity=False, places=None)
    .filter(lambda d: abs(d.adjusted()) < 1000)
    .map(str),
)


@settings(max_examples=300, deadline=None)
@given(text=_decimal_texts)
def test_any_decimal_written_as_a_json_number_reads_back_exactly(text: str) -> None:
    """str(d) as a JSON number reads back as d, with the same digits and exponent, alone and
    inside an event's data (where a float would have rounded it)."""
    d = Decimal(text)
    got = loads_exact(text)
    assert got == d
    assert type(got) is int or got.as_tuple() == d.as_tuple()
    line = HEAD + '{"x": ' + text + "}}"
    data = coerce_event(parse_event_json(line), {}).data
    assert data["x"] == d
    assert type(data["x"]) in (int, Decimal)


# --------------------------------------------------------------------------- the rule


def test_minor_units_follow_iso_4217() -> None:
    """VND, JPY and KRW have no minor unit, USD, EUR, CNY, THB and SGD two, KWD three; a code
    not in the table has no rule."""
    assert {c: minor_units(c) for c in ("VND", "JPY", "KRW")} == dict.fromkeys(
        ("VND", "JPY", "KRW"), 0
    )
    assert {minor_units(c) for c in ("USD", "EUR", "CNY", "THB", "SGD")} == {2}
    assert minor_units("KWD") == 3
    assert minor_units("XAU") is None
    assert "XAU" not in MINOR_UNITS


@pytest.mark.parametrize(
    ("text", "places"),
    [("1000000.00", 0), ("0.10", 1), ("1E+3", 0), ("0.000", 0), ("999999.99999999999999", 14)],
)
def test_decimal_places_ignore_trailing_zeros(text: str, places: int) -> None:
    """Places are counted without trailing zeros and without rounding to 28 digits."""
    assert decimal_places(Decimal(text)) == places


@pytest.mark.parametrize(
    ("text", "currency", "beyond"),
    [
        ("1000000.00", "VND", None),
        ("1000000.5", "VND", (1, 0)),
        ("12.345", "USD", (3, 2)),
        ("12.340", "USD", None),
        ("0.123456789", "XYZ", None),
    ],
)
def test_places_beyond_names_the_places_used_and_allowed(
    text: str, currency: str, beyond: tuple[int, int] | None
) -> None:
    """places_beyond: trailing zeros do not count, an unknown code allows any places."""
    assert places_beyond(Decimal(text), currency) == beyond


def test_valid_unicode_refuses_a_lone_surrogate_only() -> None:
    """valid_unicode: any text UTF-8 can hold passes, a lone surrogate does not."""
    assert valid_unicode("Nguyễn Văn A 阮")
    assert valid_unicode("")
    assert not valid_unicode("x\ud800y")


def test_an_amount_is_checked_against_its_currency() -> None:
    """12.34 USD is taken, 12.345 USD refused with the reason; 1.005 in a currency with no rule
    (XAU) is taken with every digit."""
    assert record(Decimal("12.34"), "payment", "USD").data["amount"] == Money.of("12.34", "USD")
    with pytest.raises(BadEvent, match=r"^payment\.amount: 12\.345 has 3 decimal places; USD "):
        record(Decimal("12.345"), "payment", "USD")
    weight = record(Decimal("1.12345678901234567890"), "gold", "XAU").data["weight"].amount
    assert weight.as_tuple() == Decimal("1.12345678901234567890").as_tuple()


def test_a_python_float_is_read_as_its_shortest_repr() -> None:
    """A float from the Python API becomes Decimal(repr(f)) (0.1 is 0.1, not
    0.1000000000000000055…), and is held to the same places rule."""
    assert record(12.1, "payment", "USD").data["amount"].amount == Decimal("12.1")
    assert record(1000000.0).data["amount"] == Money.of(1_000_000, "VND")
    with pytest.raises(BadEvent, match=r"1000000\.5 has 1 decimal place; VND allows 0"):
        record(1000000.5)


@pytest.mark.parametrize("value", [Decimal("NaN"), Decimal("-Infinity"), Decimal("1E+999999")])
def test_a_host_decimal_in_untyped_data_is_bounded(value: Decimal) -> None:
    """A non-finite or enormous Decimal in untyped data (only the Python API can pass one) is
    refused, as the JSON reader refuses it."""
    raw = {"customer_id": "c-1", "type": "x", "at": "2026-01-05T10:00:00+07:00"}
    with pytest.raises(BadEvent, match="not finite or has more than"):
        coerce_event({**raw, "data": {"score": value}}, SCHEMAS)


# --------------------------------------------------------------------------- event ids


def test_event_ids_keep_float_numbers_and_separate_what_a_float_merged() -> None:
    """A decimal a float holds exactly keeps the id it had when read as a float; two amounts a
    float would have merged get two ids."""
    as_float = {"customer_id": "c-1", "type": "t", "data": {"amount": 12.5}}
    as_decimal = {"customer_id": "c-1", "type": "t", "data": {"amount": Decimal("12.50")}}
    assert event_id(as_decimal) == event_id(as_float)
    near = parse_event_json(tx_line("999999.99999999999999"))
    whole = parse_event_json(tx_line("1000000.0"))
    assert event_id(near) != event_id(whole)


# --------------------------------------------------------------------------- JSON text


def test_event_json_text_is_read_exactly_and_quarantined_by_the_engine() -> None:
    """parse_event_json reads text exactly; the engine quarantines the too-precise amount, and
    text that is not an event, with the reason."""
    r = build([example("onboarding_new_cardholder")], [profile("c-1")], start=local("2026-01-18"))
    result = r.engine.ingest(parse_event_json(tx_line("999999.99999999999999").encode()))
    assert result.quarantined == (
        "transaction.amount: 999999.99999999999999 has 14 decimal places; VND allows 0"
    )
    unreadable: list[tuple[str | bytes, str]] = [
        ("not json", "not valid JSON (Expecting value"),
        ("[1, 2]", "an event is a JSON object"),
        (b"\xff{}", "the text is not UTF-8"),
        ('{"x": NaN}', "not valid JSON (NaN is not a JSON number"),
    ]
    for text, reason in unreadable:
        parsed = parse_event_json(text)
        assert isinstance(parsed, UnreadableEvent)
        quarantined = r.engine.ingest(parsed).quarantined
        assert quarantined is not None
        assert quarantined.startswith(reason)
    assert not r.actions


# --------------------------------------------------------------------------- profiles


def test_profile_numbers_are_read_as_decimals_and_stored_exactly(tmp_path: Path) -> None:
    """Decimal attributes of a profiles file come back as the Decimals written, through the
    SQLite store too; NaN is refused with its line."""
    path = tmp_path / "profiles.jsonl"
    good = {"customer_id": "c-1", "attributes": {}, "consent": {"email": True}}
    text = json.dumps(good).replace(
        '"attributes": {}', '"attributes": {"score": 0.10, "limit": 12345678901234567890.125}'
    )
    path.write_text(text + '\n{"customer_id": "c-2", "attributes": {"x": NaN}}\n', "utf-8")
    lines = list(read_profiles_jsonl(path))
    assert lines[0].profile is not None
    attributes = lines[0].profile.attributes
    assert attributes["score"].as_tuple() == Decimal("0.10").as_tuple()
    assert attributes["limit"] == Decimal("12345678901234567890.125")
    assert lines[1].profile is None
    assert "NaN is not a JSON number" in (lines[1].error or "")
    with SQLiteStore(tmp_path / "s.sqlite") as store:
        assert store.load_profiles_jsonl(path)[0] == 1
        stored = store.get("c-1").attributes
    assert stored["limit"] == Decimal("12345678901234567890.125")
    assert stored["score"].as_tuple() == Decimal("0.10").as_tuple()


def test_a_key_given_twice_in_one_json_object_is_refused() -> None:
    """loads_exact refuses an object that gives a key twice, at any depth (`json.loads` would
    keep the last value without a word), and takes the same keys in different objects."""
    for text in ('{"a": 1, "a": 2}', '{"data": {"amount": 100, "amount": 1000000}}'):
        with pytest.raises(ValueError, match="is given twice in one object"):
            loads_exact(text)
    assert loads_exact('[{"a": 1}, {"a": 2, "b": {"a": 3}}]') == [{"a": 1}, {"a": 2, "b": {"a": 3}}]


def test_run_quarantines_an_event_whose_amount_is_given_twice(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A transaction line with `"amount": 100, "amount": 1000000` is quarantined with the
    reason, not read as a million (which would meet the spend goal and grant the waiver)."""
    actions, outcomes, err = run_onboarding(tmp_path, capsys, '100, "amount": 1000000')
    assert (
        "events.jsonl:3: quarantined: not valid JSON (the key 'amount' is given twice in one "
        "object)"
    ) in err
    assert not [a for a in actions if a["kind"] == "reward"]
    assert outcomes == [("ended", "spend_goal_missed")]
