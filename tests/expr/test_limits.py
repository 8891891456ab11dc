"""Expression resource limits: values built past a limit are JD308 at compile time where the
checker can see their size, and an ExpressionLimitError (an instance ending with outcome
``error``) at run time otherwise; one evaluation's text is budgeted."""

from __future__ import annotations

import textwrap
from datetime import timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from journeydsl import ast as A
from journeydsl.compiler import CompileResult, compile_source
from journeydsl.expr.context import EventRecord
from journeydsl.expr.limits import (
    MAX_AMOUNT,
    MAX_EVAL_CHARS,
    MAX_INT,
    MAX_LIST_ITEMS,
    MAX_STRING_LENGTH,
    DurationLimitError,
    ExpressionLimitError,
    checked_amount,
    checked_text,
    concat,
    duration_arith,
    metered,
    multiply_ints,
)
from journeydsl.money import Money
from tests.expr.test_checker import ENTERED, ctx
from tests.runtime.scenario import EXAMPLES, Run, compile_journey, ev, local, profile, run

HEADER = """\
journey limits
uses events "events.yaml"
uses templates "templates.yaml"
entry on card_issued
"""
NODE = A.Name("s")
START = local("2026-01-05 09:00")
AT = local("2026-01-05 10:00")


def compiled(steps: str, file: str = "limits.journey") -> CompileResult:
    """Compile HEADER + ``steps`` against the example catalogs."""
    return compile_source(HEADER + textwrap.dedent(steps), file, base_dir=EXAMPLES)


def jd308(result: CompileResult) -> list[tuple[int, str]]:
    """(line, message) of each JD308."""
    return [(d.span.line, d.message) for d in result.diagnostics if d.code == "JD308"]


def issued(journey: str, card_id: str = "card-0001") -> Run:
    """Run ``journey`` (DSL steps after HEADER) for one customer who is issued a card."""
    j = compile_journey(HEADER + textwrap.dedent(journey))
    event = ev("c1", "card_issued", AT, card_id=card_id, product="gold")
    return run([j], [profile("c1")], [event], start=START, handlers=("record",))


def error_reason(r: Run) -> str:
    """The decision log's reason for the instance's error."""
    ((status, outcome),) = r.outcomes("c1")
    assert (status, outcome) == ("ended", "error")
    (entry,) = [e for e in r.instances("c1")[0]["log"] if e["what"] == "error"]
    return str(entry["reason"])


# --------------------------------------------------------------------------- compile time


def test_doubling_chain_of_strings_is_reported_at_the_set_that_passes_the_limit() -> None:
    """`set s = s + s` forty times over a 10-character constant is one JD308, on the 13th
    doubling (81,920 characters), naming the limit."""
    result = compiled('set s = "0123456789"\n' + "set s = s + s\n" * 40)
    assert not result.ok
    assert jd308(result) == [
        (
            5 + 13,
            "this string can be 81,920 characters long: strings are limited to 65,536 characters",
        )
    ]
    (d,) = [d for d in result.diagnostics if d.code == "JD308"]
    assert d.hint is not None
    assert "s = s + s" in d.hint


def test_squaring_chain_of_ints_is_reported_at_the_set_that_passes_2_to_the_63() -> None:
    """`set n = n * n` over 10 passes 2^63 at the fifth squaring (10^32)."""
    result = compiled("set n = 10\n" + "set n = n * n\n" * 40)
    assert jd308(result) == [
        (
            5 + 5,
            "this whole number can reach about 10^32: "
            "whole numbers must stay below 2^63 (about 9.2 * 10^18)",
        )
    ]


def test_yaml_doubling_chain_is_reported_too() -> None:
    """The YAML spelling of the doubling chain gets the same JD308."""
    steps = "".join("  - {set: s, value: s + s}\n" for _ in range(20))
    text = (
        "journey: limits\nuses: {events: events.yaml, templates: templates.yaml}\n"
        "entry: {event: card_issued}\nsteps:\n  - {set: s, value: '\"0123456789\"'}\n" + steps
    )
    result = compile_source(text, "limits.yaml", base_dir=EXAMPLES)
    assert [line for line, _ in jd308(result)] == [5 + 13]


def test_doubling_inside_a_repeat_is_followed_round_by_round() -> None:
    """A repeat of 20 rounds doubling a 2-character string passes the limit (JD308); the same
    repeat of 10 rounds does not."""
    loop = 'set s = "ab"\nrepeat max {n} {{\n  wait 1d\n  set s = s + s\n}}\n'
    assert [line for line, _ in jd308(compiled(loop.format(n=20)))] == [8]
    assert compiled(loop.format(n=10)).ok


def test_sizes_join_where_branches_meet() -> None:
    """After an if/else, a variable is as large as its largest branch makes it."""
    result = compiled(
        """\
        set s = "0123456789"
        if trigger.product == "gold" {
          set s = s + s + s + s + s + s + s + s
        } else {
          set s = "x"
        }
        set s = s + s + s + s + s + s + s + s + s + s + s + s + s + s + s + s
        set s = s + s + s + s + s + s + s + s + s + s + s + s + s + s + s + s
        set s = s + s + s + s
        """
    )
    assert [line for line, _ in jd308(result)] == [13]


def test_values_read_from_events_have_no_compile_time_size() -> None:
    """Doubling a trigger field compiles: its size is only known at run time."""
    assert compiled("set s = trigger.card_id\n" + "set s = s + s\n" * 40).ok


@pytest.mark.parametrize(
    ("steps", "message"),
    [
        ("set n = 9_300_000_000_000_000_000", "this whole number can reach about 10^18"),
        ("set m = 100_000_000_000_000 VND * 10_000_000_000_000_000", "this amount can reach"),
        ("set n = 3_000_000_000 * 4_000_000_000", "this whole number can reach about 10^19"),
    ],
)
def test_constants_past_a_limit_are_reported(steps: str, message: str) -> None:
    """A literal or a constant product past the int or amount limit is JD308."""
    ((_, got),) = jd308(compiled(steps + "\n"))
    assert got.startswith(message)


def test_values_within_the_limits_compile_cleanly() -> None:
    """The largest values allowed are no error: 2^63 - 1, 65,536 characters."""
    result = compiled(
        'set n = 9_223_372_036_854_775_807\nset s = "' + "x" * 32_768 + '"\nset s = s + s\n'
    )
    assert result.ok, [d.message for d in result.diagnostics]


def test_a_reentry_duration_past_what_datetime_holds_is_jd107_not_a_crash() -> None:
    """`reentry after 1d * 9_000_000_000` overflows Python's timedelta while it is folded: the
    check reports it as a duration past the limit instead of crashing."""
    text = HEADER.replace("entry on card_issued\n", "entry on card_issued\n  reentry after ")
    result = compile_source(text + "1d * 9_000_000_000\n", "r.journey", base_dir=EXAMPLES)
    assert [(d.code, d.message) for d in result.diagnostics] == [
        (
            "JD107",
            "this duration is longer than any duration can be; a journey waits at most 3660d",
        )
    ]


@pytest.mark.parametrize(
    ("steps", "column", "message"),
    [
        ("wait 3660d * 3660", 6, "this duration is 13,395,600 days long"),
        ("wait 3660d + 1d", 6, "this duration is 3,661 days long"),
        ("wait 2 * (1830d + 1h)", 6, "this duration is 3,660 days long"),
        ("wait for card_activated within 2d * 2000", 32, "this duration is 4,000 days long"),
        ("wait until entered_at + 1d * 9_000_000_000", 25, "this duration is longer than any"),
    ],
)
def test_a_constant_duration_past_the_limit_is_jd107_at_the_expression(
    steps: str, column: int, message: str
) -> None:
    """A duration built by arithmetic from constants, longer than 3,660 days, is one JD107 at
    the expression, naming its length and the limit."""
    result = compiled(steps + "\n")
    assert [(d.code, d.span.line, d.span.column) for d in result.diagnostics] == [
        ("JD107", 5, column)
    ]
    assert result.diagnostics[0].message.startswith(message)
    assert result.diagnostics[0].message.endswith("a journey waits at most 3660d")


def test_a_constant_duration_at_the_limit_compiles_cleanly() -> None:
    """3,660 days built by arithmetic is no error, nor a negative duration within the limit."""
    result = compiled("wait 1830d * 2\nwait 1d - 3660d\n")
    assert result.ok, [d.message for d in result.diagnostics]


# --------------------------------------------------------------------------- run time


@pytest.mark.parametrize(
    ("steps", "days"),
    [
        ("set n = 3661\nwait 1d * n\n", "3,661"),
        ("set n = 36_610_000\nwait for card_activated within 1d * n\n", "36,610,000"),
        ("set n = 3661\nwait first within 1d * n {\n  on card_activated\n}\n", "3,661"),
        # past what a duration holds while it is built: still the wait limit's reason
        ("set n = 10_000_000_000\nwait 1d * n\n", "10,000,000,000"),
        ("set n = 10_000_000_000\nwait n * 1d\n", "10,000,000,000"),
        ("set n = 10_000_000_000\nwait for card_activated within 1d * n\n", "10,000,000,000"),
        (
            "set n = 10_000_000_000\nwait first within 1d * n {\n  on card_activated\n}\n",
            "10,000,000,000",
        ),
    ],
)
def test_a_wait_longer_than_the_limit_at_run_time_ends_the_instance_in_words(
    steps: str, days: str
) -> None:
    """A wait's length known only at run time and past 3,660 days ends the instance with
    outcome error and a reason in words, not Python's overflow text."""
    reason = error_reason(issued(steps))
    assert reason == f"wait of {days} days is longer than the 3,660 days a wait may last"


def test_a_duration_built_past_what_a_duration_holds_outside_a_wait_is_named_in_words() -> None:
    """`now + 1d * n` with n near 10^10 ends the instance with the expression and its length
    in days, not Python's overflow text."""
    reason = error_reason(issued("set n = 10_000_000_000\nset t = now + 1d * n\n"))
    assert reason == (
        "`1d * n` would build a duration of 10,000,000,000 days, longer than any duration can "
        "be (a journey waits at most 3,660 days)"
    )


def test_duration_arith_gives_the_length_in_days_when_it_overflows() -> None:
    """duration_arith builds what fits, and names the exact length in days of what does not,
    for products either way round and for sums and differences."""
    day = timedelta(days=1)
    assert duration_arith("*", day, 3, NODE) == 3 * day
    assert duration_arith("-", day, 2 * day, NODE) == -day
    big = timedelta(days=999_999_999)
    for op, a, b, days in [
        ("*", day, 10**10, 10**10),
        ("*", -(10**10), day, 10**10),
        ("+", big, big, 1_999_999_998),
        ("-", -big, big, 1_999_999_998),
    ]:
        with pytest.raises(DurationLimitError) as raised:
            duration_arith(op, a, b, NODE)
        assert raised.value.days == days


def test_doubling_a_trigger_string_ends_the_instance_with_an_error_naming_the_limit() -> None:
    """A string the checker cannot size is refused at run time: the instance ends with outcome
    error, and the decision log names the limit and the expression."""
    r = issued("set s = trigger.card_id\n" + "set s = s + s\n" * 40)
    reason = error_reason(r)
    assert "MAX_STRING_LENGTH" in reason
    assert "65,536 characters" in reason
    assert "`s + s`" in reason
    assert r.handlers["record"].calls == []


def test_squaring_a_run_time_int_ends_the_instance_with_an_error_naming_the_limit() -> None:
    """journey_version + 9 squared five times passes 2^63 at run time."""
    r = issued("set n = journey_version + 9\n" + "set n = n * n\n" * 40)
    assert "MAX_INT" in error_reason(r)


def test_upper_of_a_long_string_is_refused() -> None:
    """upper() checks its argument and its result."""
    r = issued("set s = trigger.card_id\n" + "set s = s + s\n" * 12 + "set s = upper(s + s)\n")
    assert "MAX_STRING_LENGTH" in error_reason(r)


def test_other_customers_go_on_after_one_instance_hits_a_limit() -> None:
    """Only the customer whose value passed the limit ends with an error."""
    j = compile_journey(
        HEADER
        + "set s = trigger.card_id\n"
        + 'if s == "long" {\n'
        + "  set s = s + s\n" * 20
        + "}\naction record { text: s }\n"
    )
    events = [
        ev("c1", "card_issued", AT, card_id="long", product="gold"),
        ev("c2", "card_issued", AT, card_id="short", product="gold"),
    ]
    r = run([j], [profile("c1"), profile("c2")], events, start=START, handlers=("record",))
    assert r.outcomes("c1") == [("ended", "error")]
    assert r.outcomes("c2") == [("ended", "completed")]
    assert [p for _, _, p in r.handlers["record"].calls] == [{"text": "short"}]


def test_one_evaluation_may_build_only_so_much_text() -> None:
    """An aggregate's where clause that builds 60,000 characters per event runs out of its
    evaluation's budget after about 280 events."""
    result = compiled(
        """\
        set pad = trigger.card_id
        set long = pad + pad + pad + pad + pad + pad + pad + pad + pad + pad
        set n = count(transaction where lower(transaction.merchant + long) == "x")
        """
    )
    assert result.journey is not None
    cexpr = result.journey.nodes["set_n"].value  # type: ignore[attr-defined]
    long = "x" * 60_000
    events = [txn_at(i) for i in range(400)]
    with pytest.raises(ExpressionLimitError, match="MAX_EVAL_CHARS"):
        cexpr.fn(ctx(ENTERED, *events, variables={"long": long}), None)
    # The budget is per evaluation: a smaller one still runs, twice in a row.
    few = ctx(ENTERED, *events[:100], variables={"long": long})
    assert cexpr.fn(few, None) == 0
    assert cexpr.fn(few, None) == 0


def txn_at(i: int) -> EventRecord:
    """A transaction a few minutes before ENTERED."""
    data = {"amount": Money.of(1000), "merchant": "Tiki", "category": "shopping"}
    return EventRecord("c-1", "transaction", ENTERED - timedelta(minutes=i + 1), data)


# --------------------------------------------------------------------------- the checks


def test_concat_refuses_before_building() -> None:
    """concat() compares the lengths, and refuses at 65,537 characters."""
    assert concat("a" * 65_535, "b", NODE) == "a" * 65_535 + "b"
    with pytest.raises(ExpressionLimitError) as info:
        concat("a" * 65_536, "b", NODE)
    assert info.value.limit == "MAX_STRING_LENGTH"
    assert info.value.source == "s"


def test_multiply_ints_refuses_huge_operands_from_their_bit_lengths() -> None:
    """Operands of thousands of digits are refused without being multiplied; products just
    inside the limit pass, and just outside do not."""
    huge = 10**4000
    with pytest.raises(ExpressionLimitError, match="at least"):
        multiply_ints(huge, huge, NODE)
    assert multiply_ints(2**31, 2**31 - 1, NODE) == 2**62 - 2**31
    assert multiply_ints(-(2**62), 1, NODE) == -(2**62)
    with pytest.raises(ExpressionLimitError, match="MAX_INT"):
        multiply_ints(2**32, 2**31, NODE)
    with pytest.raises(ExpressionLimitError, match="MAX_INT"):
        multiply_ints(-(2**62), 2, NODE)


def test_amounts_and_text_are_checked() -> None:
    """Amounts stay below 10^30; text up to 65,536 characters."""
    assert checked_amount(Money(Decimal(MAX_AMOUNT - 1), "VND"), NODE).amount == MAX_AMOUNT - 1
    with pytest.raises(ExpressionLimitError, match="MAX_AMOUNT"):
        checked_amount(Money(Decimal(-MAX_AMOUNT), "VND"), NODE)
    assert checked_text("x" * MAX_STRING_LENGTH, NODE)
    with pytest.raises(ExpressionLimitError):
        checked_text("x" * (MAX_STRING_LENGTH + 1), NODE)


def test_the_budget_is_spent_only_inside_a_metered_evaluation() -> None:
    """Outside a metered root, building text spends nothing; inside, it is reset every time."""
    for _ in range(300):  # 300 x 65,536 characters > MAX_EVAL_CHARS, unmetered
        concat("x" * 32_768, "x" * 32_768, NODE)

    def build(c: object, e: object) -> int:
        total = 0
        for _ in range(200):
            total += len(concat("x" * 32_768, "x" * 32_768, NODE))
        return total

    root = metered(build)
    assert root(None, None) == 200 * 65_536 < MAX_EVAL_CHARS  # type: ignore[arg-type]
    assert root(None, None) == 200 * 65_536  # type: ignore[arg-type]


# --------------------------------------------------------------------------- the property

_OPS = {
    "double": "set s = s + s",
    "append": 'set s = s + "x"',
    "square": "set n = n * n",
    "add": "set n = n + n",
}
_STARTS = {
    "s": ('"0123456789"', "trigger.card_id"),
    "n": ("7", "journey_version + 6"),
}


def _expected(ops: list[str]) -> tuple[int, int, bool]:
    """The final length of s, value of n, and whether any step passed a limit."""
    length, n, over = 10, 7, False
    for op in ops:
        if op == "double":
            length *= 2
        elif op == "append":
            length += 1
        elif op == "square":
            n *= n
        else:
            n += n
        over |= length > MAX_STRING_LENGTH or abs(n) >= MAX_INT
        if over:
            break
    return length, n, over


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    ops=st.lists(st.sampled_from(sorted(_OPS)), max_size=40),
    s_at_run_time=st.booleans(),
    n_at_run_time=st.booleans(),
)
def test_growth_chains_are_refused_before_any_value_passes_a_limit(
    ops: list[str], s_at_run_time: bool, n_at_run_time: bool
) -> None:
    """Random chains of doubling and squaring either fail to compile with JD308 or run to an
    error naming a limit; a chain that stays within the limits runs to the exact values, and
    no value past a limit ever reaches a step."""
    steps = (
        f"set s = {_STARTS['s'][s_at_run_time]}\nset n = {_STARTS['n'][n_at_run_time]}\n"
        + "".join(_OPS[op] + "\n" for op in ops)
        + "action record { text: s, number: n }\n"
    )
    length, n, over = _expected(ops)
    result = compiled(steps)
    if not result.ok:
        assert {d.code for d in result.diagnostics if d.severity == "error"} == {"JD308"}
        assert over
        return
    # Constants are followed exactly: only a size known at run time can get this far.
    assert not over or s_at_run_time or n_at_run_time
    r = issued(steps, card_id="0123456789")
    calls = r.handlers["record"].calls
    if over:
        reason = error_reason(r)
        assert "MAX_STRING_LENGTH" in reason or "MAX_INT" in reason
        assert calls == []
        return
    assert r.outcomes("c1") == [("ended", "completed")]
    ((_, _, params),) = calls
    assert len(params["text"]) == length <= MAX_STRING_LENGTH
    assert params["number"] == n
    assert abs(n) < MAX_INT


def test_the_limits_are_the_numbers_the_reference_gives() -> None:
    """docs/language.md's Limits table shows each limit's value."""
    doc = (EXAMPLES.parent / "docs" / "language.md").read_text(encoding="utf-8")
    table = doc[doc.index("### Limits") : doc.index("## 5. Catalogs")]
    assert f"{MAX_STRING_LENGTH:,} characters" in table
    assert f"{MAX_LIST_ITEMS:,} items" in table
    assert f"{MAX_EVAL_CHARS:,} characters" in table
    assert MAX_INT == 2**63
    assert "below 2^63" in table
    assert MAX_AMOUNT == 10**30
    assert "below 10^30" in table
