"""A profile line whose attribute has another type than the catalog declares (a text "false"
for a bool, a word for an amount, an amount with more decimal places than its currency) is
refused with its file, line and reason, by `run`, `simulate` and the stores' loaders, instead of
making a journey decide on something the bank did not mean."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from journeydsl.cli import main
from journeydsl.expr.types import Type
from journeydsl.runtime.profiles import attribute_problem, parse_profile
from journeydsl.runtime.stores.sqlite import SQLiteStore

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
ONBOARDING = EXAMPLES / "onboarding_new_cardholder.journey"
TYPES = {
    "has_digital_app": Type("bool"),
    "credit_limit": Type("money", currency="VND"),
    "segment": Type("string"),
    "tier": Type("enum", values=("standard", "gold")),
    "visits": Type("int"),
    "joined": Type("date"),
    "seen": Type("timestamp"),
}


@pytest.mark.parametrize(
    ("name", "value", "reason"),
    [
        (
            "has_digital_app",
            "false",
            "attribute 'has_digital_app' must be true or false, not \"false\"",
        ),
        ("credit_limit", "abc", "attribute 'credit_limit' must be an amount in VND, not \"abc\""),
        ("credit_limit", True, "attribute 'credit_limit' must be an amount in VND, not true"),
        (
            "credit_limit",
            "1000.12345678901234",
            "attribute 'credit_limit': 1000.12345678901234 has more decimal places than VND "
            "allows (0)",
        ),
        ("segment", 5, "attribute 'segment' must be a string, not 5"),
        ("tier", "diamond", "attribute 'tier' is \"diamond\", not one of standard, gold"),
        ("visits", 1.5, "attribute 'visits' must be a whole number, not 1.5"),
        ("joined", "5 Jan", "attribute 'joined' must be a date such as 2026-01-05, not \"5 Jan\""),
        (
            "seen",
            "2026-01-05T09:00:00",
            "attribute 'seen' must be a time with its UTC offset, such as "
            '2026-01-05T09:00:00+07:00, not "2026-01-05T09:00:00"',
        ),
    ],
)
def test_an_attribute_of_another_type_is_refused_with_the_reason(
    name: str, value: Any, reason: str
) -> None:
    """Each declared kind refuses a value of another kind, saying what it must be."""
    assert attribute_problem(name, value, TYPES[name]) == reason
    with pytest.raises(ValueError, match="attribute"):
        parse_profile({"customer_id": "c1", "attributes": {name: value}}, TYPES)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("has_digital_app", False),
        ("credit_limit", 50_000_000),
        ("credit_limit", "50000000.00"),
        ("tier", "gold"),
        ("joined", "2026-01-05"),
        ("seen", "2026-01-05T09:00:00+07:00"),
        ("segment", None),
        ("undeclared", "anything"),
    ],
)
def test_values_of_the_declared_type_null_and_undeclared_attributes_are_taken(
    name: str, value: Any
) -> None:
    """A value of the declared type, a null (absent) and an attribute the catalog does not
    declare are accepted as they are."""
    got = parse_profile({"customer_id": "c1", "attributes": {name: value}}, TYPES)
    assert got.attributes == {name: value}


def _profiles(path: Path) -> Path:
    lines: list[dict[str, Any]] = [
        {"customer_id": "c-001", "attributes": {"has_digital_app": "false"}, "consent": {}},
        {"customer_id": "c-002", "attributes": {"has_digital_app": False}, "consent": {}},
    ]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return path


def test_run_skips_the_line_and_names_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`journeydsl run`: the line with a text for a bool is reported with its file and line
    and skipped; the valid line is loaded."""
    profiles = _profiles(tmp_path / "profiles.jsonl")
    db = tmp_path / "s.db"
    argv = ["run", str(ONBOARDING), "--db", str(db), "--profiles", str(profiles)]
    argv += ["--events", str(EXAMPLES / "events" / "onboarding.jsonl")]
    assert main([*argv, "--actions", str(tmp_path / "a.jsonl")]) == 0
    err = capsys.readouterr().err
    assert (
        f"{profiles}:1: attribute 'has_digital_app' must be true or false, not \"false\" "
        "(profile skipped)"
    ) in err
    with SQLiteStore(db) as store:
        assert (store.get("c-001").known, store.get("c-002").known) == (False, True)


def test_simulate_reports_the_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`journeydsl simulate --profiles`: the same line is reported, with its file and line."""
    profiles = _profiles(tmp_path / "profiles.jsonl")
    argv = ["simulate", str(ONBOARDING), "--events", str(EXAMPLES / "events" / "onboarding.jsonl")]
    main([*argv, "--profiles", str(profiles), "-q"])
    err = capsys.readouterr().err
    assert f"{profiles}:1: profile skipped: attribute 'has_digital_app'" in err


def test_profile_text_is_read_composed() -> None:
    """Attributes and tags written with combining tone marks (NFD) are read composed (NFC), so a
    journey's `profile.city == "Hà Nội"` matches however the bank's export spelled it."""
    import unicodedata

    city = unicodedata.normalize("NFD", "Hà Nội")
    raw = {"customer_id": "c-1", "attributes": {"city": city, "n": 1}, "tags": [city]}
    profile = parse_profile(raw, {"city": Type("string")})
    assert profile.attributes == {"city": "Hà Nội", "n": 1}
    assert profile.tags == frozenset({"Hà Nội"})


def test_consent_for_a_channel_that_does_not_exist_is_refused_with_a_hint() -> None:
    """`"consent": {"emial": true}` is refused naming the channels and the closest one (it was
    taken, and every email to the customer was suppressed for want of consent)."""
    with pytest.raises(ValueError, match="names no channel") as found:
        parse_profile({"customer_id": "c1", "consent": {"emial": True, "sms": True}})
    assert str(found.value) == (
        "'consent' names no channel 'emial' (the channels: email, sms, zns, push, inapp)"
        " — did you mean 'email'?"
    )
    taken = parse_profile({"customer_id": "c1", "consent": {"email": True, "inapp": False}})
    assert taken.consent == {"email": True, "inapp": False}


def test_simulate_skips_a_profile_with_a_misspelt_consent_channel(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`simulate --profiles` names the line of a profile whose consent names no channel."""
    profiles = tmp_path / "p.jsonl"
    profiles.write_text('{"customer_id": "c-001", "consent": {"emial": true}}\n', encoding="utf-8")
    events = str(EXAMPLES / "events" / "onboarding.jsonl")
    args = ["simulate", str(ONBOARDING), "--events", events, "--profiles", str(profiles)]
    assert main([*args, "-q", "-o", str(tmp_path / "r.txt")]) == 0
    err = capsys.readouterr().err
    assert f"{profiles}:1: profile skipped: 'consent' names no channel 'emial'" in err
