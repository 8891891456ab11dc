"""What ``journeydsl check --policies FILE`` checks against the capacity limits of the policy
file's top level (``queues``, ``throughput``, ``entry_rates``), which every journey shares:

* JD606 (warning) a ticket with ``accepted`` / ``not accepted`` exits on a queue the policies
  give no capacity: every ticket is accepted at once;
* JD607 (warning) a journey's worst-case messages on a throughput limit's channels, times its
  entry rate (``entry_rates``), exceed what the limit lets through in a day: reported at the
  limit's line in the policy file (:func:`limit_spans`);
* JD608 (warning) a ticket on a queue that ranks by a payload field (``rank``) the ticket's
  payload misspells (it has a close name), or holds as something other than a number or an
  amount: every such ticket ranks last, after every ticket that has it, without a word at run
  time. (A payload without the field, nor one like it, is a choice: its tickets come last.)
* JD609 (warning) an entry rate names a journey that does not enter by a segment: it never
  applies. Reported at the rate's line in the policy file.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import timedelta
from fractions import Fraction
from pathlib import Path

from journeydsl import ir
from journeydsl.budget import best_timeless
from journeydsl.diagnostics import Diagnostics, Span, did_you_mean
from journeydsl.runtime.policies.evaluator import describe_window
from journeydsl.runtime.policies.model import Policies, Throughput, rule_names
from journeydsl.yamlfile import InputError, load_document

__all__ = [
    "CAPACITY_CHECKS",
    "check_daily_limits",
    "check_entry_rate_kind",
    "check_ticket_exits",
    "check_ticket_ranks",
    "limit_spans",
]

#: Where each limit (``throughput:NAME``) is written in the policy file.
Spans = Mapping[str, Span]
CapacityCheck = Callable[[ir.Journey, Policies, Diagnostics, Spans], None]
_DAY = timedelta(days=1)


def limit_spans(path: str | Path) -> dict[str, Span]:
    """Where each throughput limit of the policy file ``path`` is written (``throughput:NAME``,
    an unnamed one by its place), and each entry rate (``entry_rate:JOURNEY``); a limit
    inherited from another file is not in it."""
    try:
        doc = load_document(path)
    except InputError:
        return {}
    data = doc.data if isinstance(doc.data, dict) else {}
    out: dict[str, Span] = {}
    rules = data.get("throughput")
    for i, rule in enumerate(rules if isinstance(rules, list) else []):
        name = rule.get("name") if isinstance(rule, dict) else None
        line, column = doc.position(("throughput", i))
        out[f"throughput:{name or f'throughput[{i + 1}]'}"] = Span.point(doc.file, line, column)
    rates = data.get("entry_rates")
    for i, rate in enumerate(rates if isinstance(rates, list) else []):
        journey = rate.get("journey") if isinstance(rate, dict) else None
        if isinstance(journey, str):
            line, column = doc.position(("entry_rates", i))
            out[f"entry_rate:{journey}"] = Span.point(doc.file, line, column)
    return out


def _per_day(per: timedelta) -> Fraction:
    return Fraction(int(_DAY.total_seconds()), max(1, int(per.total_seconds())))


def _counted(rule: Throughput) -> Callable[[ir.Send], bool]:
    def counts(send: ir.Send) -> bool:
        chain = (send.channel, *send.fallback)
        return send.category in rule.categories and any(c in rule.channels for c in chain)

    return counts


def check_daily_limits(
    journey: ir.Journey, policies: Policies, diags: Diagnostics, spans: Spans
) -> None:
    """JD607: at its entry rate, the journey can send more a day on a throughput limit's
    channels than the limit lets through in a day."""
    rate = next((r for r in policies.entry_rates if r.journey == journey.id), None)
    if rate is None:
        return
    entries = rate.max * _per_day(rate.per)
    names = rule_names("throughput", policies.throughput)
    for name, rule in zip(names, policies.throughput, strict=True):
        most = best_timeless(journey, _counted(rule))
        limit = rule.max * _per_day(rule.per)
        if most == 0 or most * entries <= limit:
            continue
        channels = ", ".join(rule.channels)
        span = spans.get(f"throughput:{name}") or Span.point(
            next(iter(spans.values())).file if spans else "<policies>", 1, 1
        )
        diags.warning(
            "JD607",
            f"journey '{journey.id}' can send {most} message(s) on {channels} per instance; at "
            f"its entry rate ({_number(entries)} entries a day) that is up to "
            f"{_number(most * entries)} a day, over the {_number(limit)} a day throughput "
            f"limit '{name}' lets through: messages will wait for days",
            span,
            "lower the journey's entry rate, send fewer messages on these channels, or raise "
            "the limit",
        )


def _number(value: Fraction) -> str:
    return f"{int(value):,}" if value.denominator == 1 else f"{float(value):,.1f}"


def check_ticket_exits(
    journey: ir.Journey, policies: Policies, diags: Diagnostics, spans: Spans
) -> None:
    """JD606: a ticket waits for the decision of a queue that always accepts."""
    limited = {q.queue for q in policies.queues}
    for node in journey.nodes.values():
        if isinstance(node, ir.Ticket) and node.waits and node.queue not in limited:
            diags.warning(
                "JD606",
                f"this ticket waits for queue '{node.queue}' to accept it, but the policies "
                f"give '{node.queue}' no capacity: every ticket is accepted at once, and the "
                "`not accepted` exit runs only when the ticket system refuses one",
                node.span,
                f"give the queue a daily capacity (queues: [{{queue: {node.queue}, capacity: "
                "…}]), or drop the exits",
            )


def check_entry_rate_kind(
    journey: ir.Journey, policies: Policies, diags: Diagnostics, spans: Spans
) -> None:
    """JD609: an entry rate names a journey that does not enter by a segment, so it never
    applies (an event, a hand-off or a change enters the customer when it comes)."""
    rate = next((r for r in policies.entry_rates if r.journey == journey.id), None)
    if rate is None or journey.entry.kind == "segment":
        return
    how = {"event": f"on '{journey.entry.event}' events", "manual": "from code or a hand-off"}
    span = spans.get(f"entry_rate:{journey.id}") or (
        journey.nodes[journey.start].span if journey.start else Span.point("<policies>", 1, 1)
    )
    diags.warning(
        "JD609",
        f"the entry rate of '{journey.id}' ({rate.max:,} per {describe_window(rate.per)}) never "
        f"applies: the journey enters customers {how.get(journey.entry.kind, 'on a change')}, "
        "and entry rates throttle segment journeys only",
        span,
        "spread its messages with a channel `throughput` limit instead, or drop the rate",
    )


#: The payload types a queue can rank by (higher first).
_RANKABLE = ("int", "decimal", "money")


def check_ticket_ranks(
    journey: ir.Journey, policies: Policies, diags: Diagnostics, spans: Spans
) -> None:
    """JD608: a queue ranks by a payload field this ticket does not give as a number."""
    ranks = {q.queue: q.rank for q in policies.queues if q.rank is not None}
    for node in journey.nodes.values():
        if not isinstance(node, ir.Ticket) or node.queue not in ranks:
            continue
        field = ranks[node.queue]
        given = dict(node.payload)
        value = given.get(field)
        if value is not None and value.type.kind in _RANKABLE:
            continue
        if value is None:
            close = did_you_mean(field, list(given))
            if close is None:
                continue  # (a ticket without the field comes last, as documented: a choice)
            problem = f"this ticket's payload has no '{field}'"
            fix = f"{close} (the payload's name or the queue's `rank` is misspelt)"
        else:
            problem = f"this ticket gives '{field}' as {value.type}, not a number or an amount"
            fix = f"give '{field}' a number or an amount, e.g. sum(transaction.amount in last 365d)"
        diags.warning(
            "JD608",
            f"queue '{node.queue}' ranks its tickets by '{field}', but {problem}: every ticket "
            "of this step ranks last at each release, after every ticket that has it",
            node.span,
            fix,
        )


CAPACITY_CHECKS: tuple[CapacityCheck, ...] = (
    check_ticket_exits,
    check_daily_limits,
    check_ticket_ranks,
    check_entry_rate_kind,
)
