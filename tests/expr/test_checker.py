"""Expression typing and evaluation through the public compile path.

Each test compiles a tiny journey against the example catalogs, takes one compiled expression from
the IR (a ``set``'s value, an ``if``'s condition, a ``wait for``'s deadline) and evaluates its
closure against :class:`FakeContext`, an in-memory :class:`~journeydsl.expr.context.EvalContext`.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from journeydsl import ir
from journeydsl.compiler import compile_file, compile_source
from journeydsl.diagnostics import Severity, render_text
from journeydsl.expr.context import (
    AggregateQuery,
    EvalContext,
    EventRecord,
    SentQuery,
    run_aggregate,
)
from journeydsl.expr.types import DATE, DECIMAL, DURATION, INT, STRING, TIMESTAMP, Type, money
from journeydsl.money import Money

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
TZ = ZoneInfo("Asia/Ho_Chi_Minh")
ENTERED = datetime(2026, 1, 1, 9, 0, tzinfo=TZ)
HEADER = """\
journey t version 1
uses events "events.yaml"
uses templates "templates.yaml"
timezone "Asia/Ho_Chi_Minh"
outcomes done
entry on card_issued
"""


@dataclass
class FakeContext:
    """One customer's evaluation context, with their events held in a list."""

    now: datetime
    entered_at: datetime = ENTERED
    events: list[EventRecord] = field(default_factory=list)
    customer_id: str = "c-1"
    journey_id: str = "t"
    journey_version: int = 1
    tz: tzinfo = TZ
    variables: Mapping[str, Any] = field(default_factory=dict)
    profile: Mapping[str, Any] = field(default_factory=dict)
    trigger: Mapping[str, Any] = field(default_factory=dict)

    def aggregate(self, query: AggregateQuery, start: datetime | None, end: datetime | None) -> Any:
        """``query`` over the events with ``start <= at <= end``, in time order."""
        rows = [
            e
            for e in sorted(self.events, key=lambda e: e.at)
            if (start is None or start <= e.at) and (end is None or e.at <= end)
        ]
        return run_aggregate(query, rows, self)

    def last_time(self, event_type: str) -> datetime | None:
        """When the latest ``event_type`` at or before now happened."""
        times = [e.at for e in self.events if e.type == event_type and e.at <= self.now]
        return max(times, default=None)

    def sent(self, query: SentQuery, start: datetime) -> int:
        """No message history: nothing was sent."""
        return 0


def ctx(now: datetime, *events: EventRecord, **kwargs: Any) -> EvalContext:
    """A context at ``now`` holding ``events``."""
    return FakeContext(now, events=list(events), **kwargs)


def txn(
    at: datetime, amount: str, merchant: str = "Tiki", category: str = "shopping"
) -> EventRecord:
    """A card transaction of ``amount`` VND."""
    data = {"amount": Money.of(amount), "merchant": merchant, "category": category}
    return EventRecord("c-1", "transaction", at, data)


def compile_steps(steps: str) -> ir.Journey:
    """Compile ``steps`` after a fixed header; fail on any error or warning."""
    text = HEADER + textwrap.dedent(steps) + "\nexit done\n"
    result = compile_source(text, "<test>.journey", base_dir=EXAMPLES)
    problems = [d for d in result.diagnostics if d.severity is not Severity.INFO]
    assert not problems, render_text(problems, result.sources)
    assert result.journey is not None
    return result.journey


def value_of(journey: ir.Journey, node_id: str) -> ir.CExpr:
    """The compiled value of the ``set`` step labelled ``node_id``."""
    node = journey.nodes[node_id]
    assert isinstance(node, ir.Set)
    return node.value


def condition_of(journey: ir.Journey, node_id: str) -> ir.CExpr:
    """The compiled condition of the ``if`` step labelled ``node_id``."""
    node = journey.nodes[node_id]
    assert isinstance(node, ir.Branch)
    return node.cond


# --------------------------------------------------------------------------- typing


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("sum(transaction.amount in last 30d)", money("VND")),
        ("sum(transaction.amount in last 30d) * 2", money("VND")),
        ("profile.credit_limit / 3", money("VND")),
        ("sum(transaction.amount in last 30d) / profile.credit_limit", DECIMAL),
        ("count(transaction since entry) + 1", INT),
        ("count(transaction since entry) / 2", DECIMAL),
        ("top(transaction.merchant by sum(transaction.amount) in last 365d)", STRING),
        ("entered_at + 2d + 3d * 2", TIMESTAMP),
        ("now - entered_at", DURATION),
        ("date(now + 30d)", DATE),
    ],
)
def test_expression_has_static_type(source: str, expected: Type) -> None:
    """Aggregates, money, counts and time arithmetic get the types the checker promises."""
    journey = compile_steps(f"v: set v = {source}")
    assert value_of(journey, "v").type == expected


# --------------------------------------------------------------------------- money


def test_money_sum_is_exact_decimal() -> None:
    """Summing 0.1 VND and 0.2 VND gives exactly 0.3 VND, a Decimal amount, never a float."""
    journey = compile_steps(
        """
        total: set total = sum(transaction.amount since entry)
        exact: if sum(transaction.amount since entry) == 0.3 VND { wait 1d }
        """
    )
    c = ctx(
        ENTERED + timedelta(days=1), txn(ENTERED, "0.1"), txn(ENTERED + timedelta(hours=1), "0.2")
    )
    total = value_of(journey, "total").fn(c, None)
    assert total == Money(Decimal("0.3"), "VND")
    assert type(total.amount) is Decimal
    assert condition_of(journey, "exact").fn(c, None) is True


def test_money_arithmetic_and_threshold_comparison() -> None:
    """Money times a number and divided by a number stays Decimal; a threshold reached exactly
    counts as reached."""
    journey = compile_steps(
        """
        doubled: set doubled = sum(transaction.amount since entry) * 2
        share: set share = profile.credit_limit / 3
        met: if sum(transaction.amount since entry) >= 1_000_000 VND { wait 1d }
        """
    )
    c = ctx(
        ENTERED + timedelta(days=2),
        txn(ENTERED, "333_333.33"),
        txn(ENTERED + timedelta(hours=1), "333_333.33"),
        txn(ENTERED + timedelta(hours=2), "333_333.34"),
        profile={"credit_limit": Money.of("10_000_000")},
    )
    assert value_of(journey, "doubled").fn(c, None) == Money(Decimal("2000000.00"), "VND")
    share = value_of(journey, "share").fn(c, None)
    assert share == Money(Decimal(10_000_000) / Decimal(3), "VND")
    assert type(share.amount) is Decimal
    assert condition_of(journey, "met").fn(c, None) is True
    short = ctx(ENTERED + timedelta(days=2), txn(ENTERED, "999_999.99"))
    assert condition_of(journey, "met").fn(short, None) is False


# --------------------------------------------------------------------------- windows


@pytest.mark.parametrize("anchor", ["entry", "activated_at"])
def test_since_within_window_includes_its_end_and_nothing_after(anchor: str) -> None:
    """`since X within 30d` counts events from X through X + 30d inclusive, and none after."""
    journey = compile_steps(
        f"""
        activated_at: set activated_at = now
        spent: set spent = sum(transaction.amount since {anchor} within 30d)
        """
    )
    start = ENTERED
    c = ctx(
        start + timedelta(days=60),
        txn(start - timedelta(seconds=1), "1"),
        txn(start, "10"),
        txn(start + timedelta(days=30), "100"),
        txn(start + timedelta(days=30, seconds=1), "1000"),
        variables={"activated_at": start},
    )
    assert value_of(journey, "spent").fn(c, None) == Money.of("110")


def test_in_last_window_ends_now_and_starts_90d_before() -> None:
    """`in last 90d` counts events after now - 90d through now: an event exactly 90d old is out."""
    journey = compile_steps(
        """
        recent: set recent = sum(transaction.amount in last 90d)
        dormant: if not has(transaction in last 90d) { wait 1d }
        """
    )
    now = datetime(2026, 6, 1, 9, 0, tzinfo=TZ)
    c = ctx(
        now,
        txn(now - timedelta(days=90, seconds=1), "1"),
        txn(now - timedelta(days=90), "10"),
        txn(now - timedelta(days=90) + timedelta(microseconds=1), "20"),
        txn(now, "100"),
        txn(now + timedelta(seconds=1), "1000"),
    )
    assert value_of(journey, "recent").fn(c, None) == Money.of("120")
    assert condition_of(journey, "dormant").fn(c, None) is False
    old = ctx(now, txn(now - timedelta(days=90, seconds=1), "1"))
    assert condition_of(journey, "dormant").fn(old, None) is True


# --------------------------------------------------------------------------- aggregates


TOP_BY_SUM = "top(transaction.merchant by sum(transaction.amount) in last 365d)"
TOP_BY_COUNT = "top(transaction.merchant by count in last 365d)"


def test_top_by_sum_ranks_by_amount_not_by_count() -> None:
    """top(… by sum(…)) picks the merchant with the most money spent, by count the most visits."""
    journey = compile_steps(
        f"by_sum: set by_sum = {TOP_BY_SUM}\nby_count: set by_count = {TOP_BY_COUNT}"
    )
    day = timedelta(days=1)
    now = ENTERED + 10 * day
    c = ctx(
        now,
        txn(ENTERED, "100", "Shopee"),
        txn(ENTERED + day, "100", "Shopee"),
        txn(ENTERED + 2 * day, "100", "Shopee"),
        txn(ENTERED + 3 * day, "500", "Tiki"),
    )
    assert value_of(journey, "by_sum").fn(c, None) == "Tiki"
    assert value_of(journey, "by_count").fn(c, None) == "Shopee"
    assert value_of(journey, "by_sum").fn(ctx(now), None) == ""


@pytest.mark.parametrize(("first", "second"), [("Tiki", "Shopee"), ("Shopee", "Tiki")])
def test_top_by_sum_tie_goes_to_the_value_seen_first(first: str, second: str) -> None:
    """On equal sums top() picks the merchant whose first transaction is earliest, whatever the
    order the store holds them in."""
    journey = compile_steps(f"best: set best = {TOP_BY_SUM}")
    hour = timedelta(hours=1)
    events = [
        txn(ENTERED, "200", first),
        txn(ENTERED + hour, "300", second),
        txn(ENTERED + 2 * hour, "100", first),
    ]
    now = ENTERED + 3 * hour
    assert value_of(journey, "best").fn(ctx(now, *events), None) == first
    assert value_of(journey, "best").fn(ctx(now, *reversed(events)), None) == first


def test_has_where_filters_on_the_event_and_on_builtins() -> None:
    """has(E where …) is true only for a matching event inside the window; the filter may read
    builtins such as journey_id."""
    journey = compile_steps(
        """
        tiki: if has(transaction where transaction.merchant == "Tiki" in last 30d) { wait 1d }
        opened: if has(message_opened where message_opened.journey == journey_id since entry) {
          wait 1d
        }
        """
    )
    now = ENTERED + timedelta(days=40)
    tiki = condition_of(journey, "tiki")
    assert tiki.fn(ctx(now, txn(now - timedelta(days=29), "1", "Tiki")), None) is True
    assert tiki.fn(ctx(now, txn(now - timedelta(days=31), "1", "Tiki")), None) is False
    assert tiki.fn(ctx(now, txn(now - timedelta(days=1), "1", "Shopee")), None) is False

    def opened_in(journey_name: str) -> EventRecord:
        return EventRecord(
            "c-1", "message_opened", ENTERED + timedelta(days=1), {"journey": journey_name}
        )

    opened = condition_of(journey, "opened")
    assert opened.fn(ctx(now, opened_in("t")), None) is True
    assert opened.fn(ctx(now, opened_in("another_journey")), None) is False


# --------------------------------------------------------------------------- time


@pytest.mark.parametrize(
    ("at", "local_day"),
    [
        # 23:30 in Ho Chi Minh City is 16:30 UTC: the same day either way.
        (datetime(2026, 1, 5, 23, 30, tzinfo=TZ), date(2026, 1, 5)),
        # 17:30 UTC on the 5th is already 00:30 on the 6th in Ho Chi Minh City.
        (datetime(2026, 1, 5, 17, 30, tzinfo=UTC), date(2026, 1, 6)),
        (datetime(2026, 1, 6, 0, 30, tzinfo=TZ), date(2026, 1, 6)),
    ],
)
def test_date_is_the_customers_local_day(at: datetime, local_day: date) -> None:
    """date(ts) is the calendar day in the customer's time zone, not the UTC day."""
    journey = compile_steps("day: set day = date(trigger.at)")
    c = ctx(at + timedelta(minutes=1), trigger={"at": at, "card_id": "card-1"})
    assert value_of(journey, "day").fn(c, None) == local_day


def test_reminder_deadline_adds_durations_per_round() -> None:
    """`entered_at + 2d + 3d * (round - 1)` puts the reminder rounds at T0 + 2, 5, 8 … 17 days."""
    journey = compile_steps(
        """
        repeat as round max 6 {
          remind: wait for card_activated until entered_at + 2d + 3d * (round - 1)
        }
        """
    )
    node = journey.nodes["remind"]
    assert isinstance(node, ir.WaitFor)
    assert node.timeout is not None
    assert node.timeout.type == TIMESTAMP
    deadlines = [
        node.timeout.fn(ctx(ENTERED, variables={"round": n}), None) - ENTERED for n in range(1, 7)
    ]
    assert deadlines == [timedelta(days=d) for d in (2, 5, 8, 11, 14, 17)]


# --------------------------------------------------------------------------- budget


@pytest.mark.parametrize("suffix", [".journey", ".yaml"])
def test_onboarding_message_budget(suffix: str) -> None:
    """Onboarding sends at most 13: welcome, 6 reminder rounds (one message each, on the worst
    channel chain), promotions, app install (zns -> sms), first-spend nudge (push -> zns -> sms),
    two fee-waiver offers (email, zns -> sms) and the waiver granted."""
    result = compile_file(EXAMPLES / f"onboarding_new_cardholder{suffix}")
    assert result.budget == {"email": 10, "push": 7, "sms": 9, "zns": 9, "total": 13}


@pytest.mark.parametrize("suffix", [".journey", ".yaml"])
def test_dormant_message_budget(suffix: str) -> None:
    """Dormant reactivation sends at most 5: the offer on email, zns (-> sms) and push (no
    fallback), then a reminder (zns -> sms or email) and an email confirmation on one branch,
    or an SMS when the telesales queue does not take the ticket."""
    result = compile_file(EXAMPLES / f"dormant_reactivation{suffix}")
    assert result.budget == {"email": 3, "push": 1, "sms": 3, "zns": 2, "total": 5}
