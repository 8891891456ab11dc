"""The numbers the language takes as digits (journeydsl/syntax/_numbers.py): a version, a repeat's
max, a decision's retry, the days of a schedule, split weights. Both spellings refuse the same
ones, with the same diagnostic at the number, and a refused number is reported once."""

from __future__ import annotations

from pathlib import Path

import pytest

from journeydsl.compiler import CompileResult, compile_source
from journeydsl.diagnostics import Diagnostic
from journeydsl.syntax.schema import json_schema

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
HUGE = "99999999999999999999"  # 20 digits

DSL_HEAD = 'journey numbers{version}\nuses events "events.yaml"\n{entry}\n'
YAML_HEAD = "journey: numbers\n{version}uses: {{events: events.yaml}}\n{entry}\nsteps:\n"
EVENT_DSL = "entry on card_issued"
EVENT_YAML = "entry: {event: card_issued}"


def _dsl(steps: str, version: str = "", entry: str = EVENT_DSL) -> str:
    return DSL_HEAD.format(version=version, entry=entry) + steps


def _yaml(steps: str, version: str = "", entry: str = EVENT_YAML) -> str:
    return YAML_HEAD.format(version=version, entry=entry) + steps


def _compiled(text: str, suffix: str) -> CompileResult:
    return compile_source(text, f"inline{suffix}", base_dir=EXAMPLES)


def _errors(text: str, suffix: str) -> list[Diagnostic]:
    return [d for d in _compiled(text, suffix).diagnostics if d.severity == "error"]


#: (what, the DSL text, the YAML text, the number as written, the message)
REFUSED = [
    (
        "version",
        _dsl("tag a\n", version=f" version {HUGE}"),
        _yaml("  - tag: a\n", version=f"version: {HUGE}\n"),
        HUGE,
        "version 999999999999... is too large",
    ),
    (
        "repeat max",
        _dsl(f"repeat max {HUGE} {{ wait 1d }}\n"),
        _yaml(f"  - repeat: {HUGE}\n    steps: [wait: 1d]\n"),
        HUGE,
        "repeat max 999999999999... is too large",
    ),
    (
        "retry",
        _dsl(f"decide k = kyc.is_current(customer: customer_id) retry {HUGE}\n"),
        _yaml(
            f"  - decide: k\n    call: kyc.is_current\n    args: {{customer: customer_id}}\n"
            f"    retry: {HUGE}\n"
        ),
        HUGE,
        "retry 999999999999... is too large",
    ),
    (
        "every N days",
        _dsl(
            "tag a\n",
            entry=f"entry segment profile.has_digital_app every {HUGE} days at 09:00 "
            "from 2026-01-05",
        ),
        _yaml(
            "  - tag: a\n",
            entry="entry: {segment: profile.has_digital_app, "
            f"schedule: every {HUGE} days at 09:00 from 2026-01-05}}",
        ),
        HUGE,
        "a number of days 999999999999... is too large",
    ),
    (
        "monthly on N",
        _dsl("tag a\n", entry=f"entry segment profile.has_digital_app monthly on {HUGE} at 09:00"),
        _yaml(
            "  - tag: a\n",
            entry="entry: {segment: profile.has_digital_app, "
            f"schedule: monthly on {HUGE} at 09:00}}",
        ),
        HUGE,
        "a day of the month 999999999999... is too large",
    ),
    (
        "split weight",
        _dsl(f"split {{\n  {HUGE}% {{ tag a }}\n}}\n"),
        _yaml(f"  - split:\n      - {{weight: {HUGE}%, steps: [tag: a]}}\n"),
        f"{HUGE}%",
        "split weight 999999999999... is too large",
    ),
    (
        "split weight decimals",
        _dsl("split {\n  33.333% { tag a }\n  33.33% { tag b }\n  33.34% { tag c }\n}\n"),
        _yaml(
            "  - split:\n      - {weight: 33.333%, steps: [tag: a]}\n"
            "      - {weight: 33.33%, steps: [tag: b]}\n      - {weight: 33.34%, steps: [tag: c]}\n"
        ),
        "33.333%",
        "split weights have at most two decimals, not '33.333%'",
    ),
]


@pytest.mark.parametrize(
    ("dsl", "yaml", "written", "message"), [c[1:] for c in REFUSED], ids=[c[0] for c in REFUSED]
)
def test_both_spellings_refuse_a_number_once_with_the_same_diagnostic_at_it(
    dsl: str, yaml: str, written: str, message: str
) -> None:
    """A number past the limit is one JD105 in either spelling, same message, at the number."""
    for text, suffix in ((dsl, ".journey"), (yaml, ".yaml")):
        errors = _errors(text, suffix)
        assert [(d.code, d.message) for d in errors] == [("JD105", message)], (suffix, errors)
        (d,) = errors
        line = text.splitlines()[d.span.line - 1]
        assert line[d.span.column - 1 :].startswith(written), (suffix, line, d.span)


def test_a_huge_version_in_yaml_no_longer_passes_check() -> None:
    """`version: <32 digits>` in YAML is refused by check (run stopped on it with OverflowError)."""
    text = _yaml("  - wait: 1d\n", version="version: 99999999999999999999999999999999\n")
    result = _compiled(text, ".yaml")
    assert not result.ok
    assert [d.code for d in result.diagnostics] == ["JD105"]


def test_eighteen_digits_are_read_in_both_spellings() -> None:
    """The largest number allowed (18 digits) and leading zeros pass, in both spellings."""
    big = "9" * 18
    dsl = _compiled(_dsl("tag a\n", version=f" version {big}"), ".journey")
    yaml = _compiled(_yaml("  - tag: a\n", version=f"version: {big}\n"), ".yaml")
    assert dsl.journey is not None
    assert yaml.journey is not None
    assert dsl.journey.version == yaml.journey.version == int(big)
    zeros = _compiled(_dsl("tag a\n", version=" version 000000000000000000000007"), ".journey")
    assert zeros.journey is not None
    assert zeros.journey.version == 7


def test_a_refused_weight_is_left_out_of_the_sum_of_the_split() -> None:
    """JD505 still reports weights that pass 100% without the refused one, and sums only them
    (the refused 33.333% counted as 33 before: "add up to 134%")."""
    text = _dsl("split {\n  101% { tag a }\n  33.333% { tag b }\n}\n")
    messages = sorted(d.message for d in _errors(text, ".journey"))
    assert messages == [
        "split percentages add up to 101%, not 100%",
        "split weights have at most two decimals, not '33.333%'",
    ]


def test_a_schedule_with_a_refused_day_count_says_what_else_it_lacks() -> None:
    """`every <20 digits> days` without `from`: the missing first day is still reported, but
    not as `every 0 days` (nor as days out of range)."""
    entry = f"entry segment profile.has_digital_app every {HUGE} days at 09:00"
    messages = [d.message for d in _errors(_dsl("tag a\n", entry=entry), ".journey")]
    assert messages == [
        "`every N days` needs a first day to count from",
        "a number of days 999999999999... is too large",
    ]


def test_a_day_of_the_month_of_thousands_of_digits_is_reported_not_raised() -> None:
    """`monthly on <5000 digits>` is JD105; it raised ValueError from int() before."""
    entry = f"entry segment profile.has_digital_app monthly on {'9' * 5000} at 09:00"
    assert [d.code for d in _errors(_dsl("tag a\n", entry=entry), ".journey")] == ["JD105"]


def test_the_schema_bounds_whole_numbers_as_the_loader_does() -> None:
    """The JSON Schema's whole numbers (version, repeat, retry) stop at 18 digits."""
    schema = json_schema()
    repeat = schema["$defs"]["step_repeat"]["properties"]["repeat"]
    assert repeat["maximum"] == 10**18 - 1
