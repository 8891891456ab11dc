"""Reports of a simulation: the terminal report (rich), one customer's timeline (``--trace``) and
the decision log of their instances (``journeydsl explain``).

rich is imported inside the functions that draw, so the JSON output and the library never pay
for it.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol, TextIO

from journeydsl import ir
from journeydsl.ast import CHANNELS
from journeydsl.money import money_text
from journeydsl.simulate.budgets import budget_lines, forecast
from journeydsl.simulate.driver import RunResult, SimulationResult, local_iso
from journeydsl.simulate.formats import compact, minute, percent_of, run_days, text_console, vnd

__all__ = [
    "render_explain",
    "render_text",
    "render_trace",
    "step_label",
    "summary",
]

BAR = 20

#: Column headings of the messages table.
_HEADINGS = {
    "sent": "sent",
    "suppressed": "suppressed",
    "undelivered": "undelivered",
    "failed_transient": "attempts failed, retried",
    "failed_permanent": "attempts failed, for good",
}


def step_label(node: ir.Node) -> str:
    """What a step does, in a few words."""
    return ir.describe(node)


def _short(text: str, width: int = 44) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _bar(n: int, total: int) -> str:
    if total <= 0:
        return ""
    filled = round(BAR * n / total)
    return "█" * filled + "·" * (BAR - filled)


def summary(
    result: RunResult,
    journey_id: str,
    costs: Mapping[str, Decimal] | None = None,
    failures: Mapping[str, tuple[int, int]] | None = None,
) -> dict[str, Any]:
    """The report's figures: per channel the messages sent, suppressed by a policy and
    undelivered (given up after a delivery failure), each message counted once under its first
    channel, then failed delivery attempts and cost; tickets per
    queue and priority; rewards and actions per name; suppression reasons (most frequent first,
    ties by name)."""
    tally = result.tally(journey_id)
    sent, suppressed, undelivered = tally.sent, tally.suppressed, tally.undelivered
    used = set(sent) | set(suppressed) | set(undelivered) | set((failures or {}).keys())
    channels = [c for c in CHANNELS if c in used] + sorted(used - set(CHANNELS))
    rows = []
    for c in channels:
        fails = (failures or {}).get(c, (0, 0))
        if not (sent[c] or suppressed[c] or undelivered[c] or any(fails)):
            continue
        row: dict[str, Any] = {
            "channel": c,
            "sent": sent[c],
            "suppressed": suppressed[c],
            "undelivered": undelivered[c],
        }
        if failures is not None:
            row["failed_transient"], row["failed_permanent"] = fails
        if costs is not None:
            row["cost_vnd"] = format(costs.get(c, Decimal(0)) * sent[c], "f")
        rows.append(row)
    return {
        "channels": rows,
        "suppression_reasons": tally.ordered_reasons(),
        "tickets": [
            {"queue": q, "priority": p, "count": n} for (q, p), n in sorted(tally.tickets.items())
        ],
        "rewards": [
            {"kind": k, "name": n, "count": c} for (k, n), c in sorted(tally.rewards.items())
        ],
    }


def no_entry_note(journey: ir.Journey) -> str:
    """Why a run's report is empty: no customer entered the journey, and how it enters."""
    entry = journey.entry
    if entry.kind == "event" and entry.event:
        where = " that pass its `where`" if entry.where is not None else ""
        return (
            f"No customer entered: the journey enters on {entry.event} events{where}, and none "
            "came in this run (in a synthetic run, the behaviour file's `events:` make them)."
        )
    if entry.kind == "manual":
        return (
            "No customer entered: the journey enters customers from code (`entry manual`), "
            "and this run enrolled none (give them with --enrol)."
        )
    if entry.kind == "segment":
        return (
            "No customer entered: no customer was in the journey's segment when it was evaluated."
        )
    return "No customer entered: the journey's entry condition became true for no customer."


def render_text(
    result: RunResult,
    out: TextIO,
    *,
    journey_id: str | None = None,
    title: str = "",
    costs: Mapping[str, Decimal] | None = None,
    failures: Mapping[str, tuple[int, int]] | None = None,
    width: int | None = None,
) -> None:
    """The terminal report: funnel with bars, outcomes, messages (and cost) per channel,
    tickets per queue, rewards."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    journey = result.journey(journey_id)
    console = text_console(out, width or 120)
    funnel = result.funnel(journey.id)
    entered = funnel["entered"]
    days = run_days(result.start, result.until)
    console.print(
        Text.assemble(
            (journey.id, "bold"), f" v{journey.version}" + (f" — {title}" if title else "")
        ),
        soft_wrap=True,
    )
    console.print(
        f"{minute(result.start.isoformat())} → {minute(result.until.isoformat())} "
        f"({days:g} days): {entered} instance{'s' * (entered != 1)} entered, "
        f"{funnel['running']} still running",
        soft_wrap=True,
    )
    if not entered:  # (rather than empty tables without a word)
        console.print(no_entry_note(journey), soft_wrap=True)

    steps = Table(
        title="Funnel: instances per step, in graph order (entered = passed + exited + waiting)",
        box=box.SIMPLE,
        title_justify="left",
    )
    # A long condition wraps at its words rather than being cut short.
    steps.add_column("step", min_width=24, max_width=54, overflow="fold")
    steps.add_column("entered", justify="right", no_wrap=True)
    steps.add_column("%", justify="right", no_wrap=True, min_width=6)
    steps.add_column("passed", justify="right", no_wrap=True)
    steps.add_column("exited", justify="right", no_wrap=True)
    waiting = any(s["waiting"] for s in funnel["steps"].values())
    if waiting:
        steps.add_column("waiting", justify="right", no_wrap=True)
    steps.add_column("", no_wrap=True)
    for row in funnel["steps"].values():
        n = row["entered"]
        name = row["name"]
        if "accepted" in row:  # a ticket step with exits: how many took each
            name += f" (accepted {row['accepted']}, not accepted {row['not_accepted']})"
        if "handed_off" in row:  # a hand-off: how many the target took
            name += f" (handed off {row['handed_off']}, not entered {row['not_entered']})"

        if "offers" in row:  # a choose step: the offers chosen
            name += " (" + ", ".join(f"{k} {v}" for k, v in row["offers"].items()) + ")"
        cells = [name, str(n), percent_of(n, entered), str(row["passed"])]
        cells.append(str(row["exited"]))
        if waiting:
            cells.append(str(row["waiting"]))
        steps.add_row(*cells, _bar(n, entered))
    console.print(steps)

    outcomes = Table(title="Outcomes", box=box.SIMPLE, title_justify="left")
    outcomes.add_column("outcome")
    outcomes.add_column("instances", justify="right")
    outcomes.add_column("%", justify="right")
    outcomes.add_column("", no_wrap=True)
    for name, n in [*funnel["outcomes"].items(), ("(running)", funnel["running"])]:
        outcomes.add_row(name, str(n), percent_of(n, entered), _bar(n, entered))
    console.print(outcomes)

    figures = summary(result, journey.id, costs, failures)
    messages = Table(
        title="Messages per channel (each message once: sent, suppressed or undelivered)",
        box=box.SIMPLE,
        title_justify="left",
    )
    columns = ["sent", "suppressed", "undelivered"]
    if failures is not None:
        columns += ["failed_transient", "failed_permanent"]
    messages.add_column("channel")
    for name in columns:
        messages.add_column(_HEADINGS[name], justify="right")
    if costs is not None:
        messages.add_column("cost (VND)", justify="right")
    total_cost = Decimal(0)
    for row in figures["channels"]:
        cells = [row["channel"], *(str(row[k]) for k in columns)]
        if costs is not None:
            total_cost += Decimal(row["cost_vnd"])
            cells.append(vnd(Decimal(row["cost_vnd"])))
        messages.add_row(*cells)
    totals = ["total", *(str(sum(r[k] for r in figures["channels"])) for k in columns)]
    if costs is not None:
        totals.append(vnd(total_cost))
    messages.add_row(*totals, style="bold")
    console.print(messages)
    if failures is not None:
        console.print(
            "(attempts failed: retried later, or failed for good and fell back to the next "
            "channel or left the message undelivered)",
            soft_wrap=True,
        )
    if costs is not None and entered:
        console.print(f"cost per entered instance: {vnd(total_cost / entered)} VND\n")

    if figures["suppression_reasons"]:
        reasons = Table(
            title="Why messages were suppressed or undelivered",
            box=box.SIMPLE,
            title_justify="left",
        )
        reasons.add_column("reason")
        reasons.add_column("messages", justify="right")
        for reason, n in list(figures["suppression_reasons"].items())[:8]:
            reasons.add_row(_short(reason, 70), str(n))
        console.print(reasons)

    policy_figures = result.policy_tally(journey.id)
    if policy_figures is not None:
        policy_figures.render(console, journey)

    tickets = Table(title="Tickets per queue", box=box.SIMPLE, title_justify="left")
    tickets.add_column("queue")
    tickets.add_column("priority")
    tickets.add_column("tickets", justify="right")
    for t in figures["tickets"]:
        tickets.add_row(t["queue"], t["priority"], str(t["count"]))
    if not figures["tickets"]:
        tickets.add_row("(none)", "", "0")
    console.print(tickets)

    if figures["rewards"]:
        rewards = Table(title="Rewards and actions", box=box.SIMPLE, title_justify="left")
        rewards.add_column("kind")
        rewards.add_column("name")
        rewards.add_column("count", justify="right")
        for r in figures["rewards"]:
            rewards.add_row(r["kind"], r["name"], str(r["count"]))
        console.print(rewards)
    if budgets := forecast(result, journey.id):  # reward budgets: the forecast
        console.print(
            Text.assemble(("Reward budgets", "bold"), " (the demand of the rewards drawn)")
        )
        for line in budget_lines(budgets):
            console.print(f"  {line}", soft_wrap=True, markup=False)
    if result.quarantined:
        console.print(f"{len(result.quarantined)} event(s) quarantined (see stderr)")


# --------------------------------------------------------------------------- timelines


def describe_action(a: Mapping[str, Any]) -> str:
    """One action on one line."""
    kind = a["kind"]
    if kind == "send":
        params = a.get("params") or {}
        return f"send {a['channel']} {a['template']}" + (f" {compact(params)}" if params else "")
    if kind == "suppressed":
        what = f" {a['template']}" if a.get("template") else ""
        return f"suppressed{what}: {a.get('reason')}"
    if kind == "ticket":
        return f"ticket {a['queue']} priority {a['priority']} {compact(a.get('payload') or {})}"
    if kind in ("reward", "action"):
        params = a.get("params") or {}
        return f"{kind} {a['name']}" + (f" {compact(params)}" if params else "")
    rest = {k: v for k, v in a.items() if k not in ("at", "customer_id", "journey", "node", "kind")}
    return f"{kind} {compact(rest)}"


def render_trace(result: SimulationResult, customer_id: str) -> str:
    """One customer's timeline: their events (history marked), instance entries and exits, the
    offers chosen and every action, interleaved by time, in their local time."""
    tz = result.timezone(customer_id)
    rows: list[tuple[float, int, int, str]] = []
    seq = 0
    for e in result.events_of(customer_id):
        data = {k: v for k, v in e.data.items() if v is not None}
        from journeydsl.runtime.codec import plain

        label = "history" if e.at < result.start else "event"
        text = f"{label:<8} {e.type}" + (f" {compact(plain(data))}" if data else "")
        rows.append((e.at.timestamp(), 0, seq, f"{minute(local_iso(e.at, tz))}  {text}"))
        seq += 1
    for r in result.instances:
        if r["customer_id"] != customer_id:
            continue
        entered = datetime.fromisoformat(r["entered_at"])
        rows.append(
            (
                entered.timestamp(),
                1,
                seq,
                f"{minute(local_iso(entered, tz))}  {'enter':<8} {r['journey']} v{r['version']}",
            )
        )
        seq += 1
        for entry in r["log"]:  # choose: the offers chosen (explain tells why)
            if entry["what"] == "offer":
                at = datetime.fromisoformat(entry["at"])
                chosen = entry.get("offer") or "none eligible"
                text = f"{'offer':<8} {entry.get('catalogue')}: {chosen}"
                rows.append((at.timestamp(), 1, seq, f"{minute(local_iso(at, tz))}  {text}"))
                seq += 1
        if r["ended_at"]:
            ended = datetime.fromisoformat(r["ended_at"])
            rows.append(
                (
                    ended.timestamp(),
                    3,
                    seq,
                    f"{minute(local_iso(ended, tz))}  {'exit':<8} {r['journey']}: {r['outcome']}",
                )
            )
            seq += 1
    for a in result.actions:
        if a["customer_id"] != customer_id:
            continue
        at = datetime.fromisoformat(a["at"])
        rows.append(
            (at.timestamp(), 2, seq, f"{minute(a['at'])}  {'action':<8} {describe_action(a)}")
        )
        seq += 1
    if not rows:
        return f"{customer_id}: no events, instances or actions\n"
    rows.sort()
    header = f"timeline of {customer_id} ({tz})"
    return "\n".join([header, *(r[3] for r in rows)]) + "\n"


# --------------------------------------------------------------------------- decision log

_SKIP = {"at", "node", "what", "in_branch"}


def _describe_log(entry: Mapping[str, Any], tz: str, node: ir.Node | None = None) -> str:
    text = _describe_entry(entry, tz, node)
    # (a step taken in a branch of a parallel block says which)
    return f"[branch {entry['in_branch']}] {text}" if "in_branch" in entry else text


def _describe_entry(entry: Mapping[str, Any], tz: str, node: ir.Node | None = None) -> str:
    what = entry["what"]
    d = {k: v for k, v in entry.items() if k not in _SKIP}

    def t(key: str) -> str:
        value = d.get(key)
        return minute(local_iso(value, tz)) if isinstance(value, str) else "never"

    match what:
        case "enter":
            return f"entered (trigger: {d.get('trigger')})"
        case "handoff":  # hand-off to another journey
            if d.get("entered"):
                return f"handed off to {d.get('journey')} (instance {d.get('instance')})"
            why = d.get("why") or "its entry rules refused"  # (older logs say no why)
            return f"not entered into {d.get('journey')}: {why}"
        case "send":
            if d.get("stale"):
                return f"send {d.get('channel')} {d.get('template')}: withheld, stale"
            if d.get("invalid"):
                return f"send {d.get('channel')} {d.get('template')}: withheld, {d['invalid']}"
            return f"send {d.get('channel')} {d.get('template')} (queued for delivery)"
        case "if":
            answer = "yes" if d.get("value") else "no"
            if "compared" in d and isinstance(node, ir.Branch) and node.probe is not None:
                cond = node.cond.source
                left = node.probe.source
                rest = cond[len(left) :].strip() if cond.startswith(left) else cond
                return f"if {left} = {compact(d['compared'])} {rest} → {answer}"
            return f"if {d.get('source')} → {answer}"
        case "switch":
            case = " (no case matched: else)" if d.get("case") == "else" else ""
            return f"switch = {compact(d.get('value'))}{case}"
        case "condition":
            return f"condition {d.get('source')} {_became_true(entry, d, tz)}: go on"
        case "until":
            return f"repeat until {d.get('source')} → true: leave the loop"
        case "repeat_done":
            return f"repeat: all {d.get('rounds')} rounds done"
        case "wait":
            if d.get("passed"):
                return f"wait until {t('due')}: already passed"
            return f"wait until {t('due')}"
        case "wait_for":
            what_for = d.get("event") or (
                node.condition.source
                if isinstance(node, ir.WaitFor) and node.condition
                else "a condition"
            )
            return f"wait for {what_for} until {t('due')}"
        case "wait_first":
            what_for = (
                ", ".join(b.label for b in node.branches)
                if isinstance(node, ir.WaitFirst)
                else "several branches"
            )
            return f"wait for the first of: {what_for}; until {t('due')}"
        case "first":
            return _describe_first(entry, d, tz)
        case "timeout":
            return "wait: the time limit has already passed → timeout"
        case "timer":
            if d.get("stale"):
                return f"timer fired {d.get('late')} late: stale, sends nothing to the customer"
            return "timer fired"
        case "woke":
            if isinstance(node, ir.WaitFor) and node.event is None and node.condition:
                return f"woke on {d.get('event')}: {node.condition.source} is now true"
            return f"woke on {d.get('event')}"
        case "split":
            arm = " → holdout" if d.get("holdout") else ""
            return f"random split: bucket {d.get('bucket')}{arm}"
        case "ticket":
            late = f", {d.get('late')} late" if d.get("late") else ""
            waits = "; waits for the queue's decision" if d.get("waits") else ""
            return f"ticket {d.get('queue')} priority {d.get('priority')} (queued{late}{waits})"
        case "ticket_exit":  # the queue's decision on a ticket with exits
            if d.get("exit") == "accepted":
                return f"queue {d.get('queue')} accepted the ticket → accepted"
            why = d.get("reason")
            return f"queue {d.get('queue')} did not accept the ticket → not accepted: {why}"
        case "goal":
            return f"goal reached → {d.get('outcome')}"
        case "deliver":
            return _describe_delivery(d, t)
        case "suppressed":  # an effect given up for good, as a simulation lists its action
            return describe_action({"kind": "suppressed", **d})
        case "error":
            return f"error: {d.get('reason')}"
        case "reward" | "action":
            late = f", {d.get('late')} late" if d.get("late") else ""
            return f"{what} {d.get('name')} (queued{late})"
        # during blocks (a parallel first whose leading branches are the handlers)
        case "parallel" if isinstance(node, ir.Parallel) and node.handlers:
            return f"during: the body starts, handlers wait ({', '.join(node.handlers)})"
        case "cancelled" if isinstance(node, ir.Parallel) and node.handlers:
            n = int(d.get("branch") or 0)
            if 0 < n <= len(node.handlers):
                return f"handler {n} ({node.handlers[n - 1]}) dropped"
            return f"body cancelled (it waited at {d.get('at_step')})"
        # parallel blocks
        case "parallel":
            return f"parallel {d.get('join')}: {d.get('branches')} branches start"
        case "branch_done":
            return "branch done: reached the join"
        case "cancelled":
            return f"branch {d.get('branch')} cancelled (it waited at {d.get('at_step')})"
        case "join":
            return f"join {d.get('join')}: complete, go on"
        # choose: the offer catalogue
        case "offer":
            return _describe_offer(d)
        # decide: a decision call
        case "decide" if "value" in d:
            return f"asked {d.get('name')}: {compact(d['value'])}"
        case "decide":
            kind = "timed out" if d.get("error") == "timeout" else "failed"
            return f"asked {d.get('name')}: attempt {d.get('attempt')} {kind} ({d.get('reason')})"
        # reward budgets
        case "budget" if d.get("granted"):
            return f"drew {_drawn(d)} from {d.get('name')} → granted"
        case "budget":
            return f"{d.get('reason')}: no reward → exhausted"
    rest = ", ".join(f"{k}={compact(v)}" for k, v in d.items())
    return f"{what}" + (f" ({rest})" if rest else "")


def _drawn(d: Mapping[str, Any]) -> str:
    """What a granted draw took, as reports write amounts (``500,000 VND``; ``1 reward`` of a
    quota): the log keeps the exact amount drawn and, in its text, the currency."""
    text = str(d.get("amount"))
    unit = text.rpartition(" ")[2]
    try:
        drawn = Decimal(str(d["drawn"]))
    except (KeyError, ArithmeticError, ValueError):
        return text
    return text if unit in ("reward", "rewards") else money_text(drawn, unit)


def _describe_offer(d: Mapping[str, Any]) -> str:
    """A choice from an offer catalogue, and why: each offer's rank, or why it was not eligible."""
    weighed = "; ".join(
        f"{w.get('offer')} rank {compact(w.get('rank'))}"
        if w.get("eligible")
        else f"{w.get('offer')} not eligible ({w.get('why')})"
        for w in d.get("weighed") or ()
    )
    catalogue = d.get("catalogue")
    if d.get("offer") is None:
        return f"no offer of {catalogue} eligible → none: {weighed}"
    how = "the fallback, none other eligible" if d.get("fallback") else "the best eligible"
    return f"chose {d.get('offer')} from {catalogue} ({how}): {weighed}"


def _describe_first(entry: Mapping[str, Any], d: Mapping[str, Any], tz: str) -> str:
    """Which branch of a ``wait first`` won, and why."""
    won = f"branch {d.get('branch')} ({d.get('won')}) won"
    if d.get("event") is not None and d.get("by") is None:
        if str(d.get("won", "")).startswith("when "):
            return f"woke on {d['event']}: {won}, its condition is now true"
        return f"woke on {d['event']}: {won}, the first to happen"
    return f"{won}: its condition {_became_true(entry, d, tz)}"


def _became_true(entry: Mapping[str, Any], d: Mapping[str, Any], tz: str) -> str:
    """When a waited-for condition that let its wait go on turned true: when the wait began
    (the entry has no ``by``), or later, at the entry's time, and by what (runtime/waits.py)."""
    by = d.get("by")
    if by is None:
        return "is true when the wait begins"
    at = f"became true at {minute(local_iso(entry['at'], tz))}"
    if by == "delivery":
        return f"{at} by the delivery of {d.get('template')} on {d.get('channel')}"
    if by == "branch" and d.get("event") is not None:
        return f"{at} by {d['event']}, after another branch of the block moved on it"
    if by == "branch":
        return f"{at}, after another branch of the block moved"
    return f"{at} as time passed"


def _describe_delivery(d: Mapping[str, Any], t: Callable[[str], str]) -> str:
    """A contact-policy decision of the decision log."""
    channel, reason = d.get("channel"), d.get("reason")
    match d.get("decision"):
        case "allowed":
            label = f" with label {d['label']}" if d.get("label") else ""
            return f"policies: allowed on {channel}{label}"
        case "deferred":
            return f"policies: deferred on {channel} until {t('until')}: {reason}"
        case "fallback":
            return f"policies: fell back from {d.get('from')} to {channel}: {reason}"
    return f"policies: suppressed: {reason}"


class _Explains(Protocol):
    def explain(self, customer_id: str) -> list[dict[str, Any]]: ...


class Explained(Protocol):
    """What the ``explain`` listing reads of a run: a simulation's result, or a live run's
    state (:class:`~journeydsl.cli.explain_db.StoredRun`)."""

    @property
    def engine(self) -> _Explains: ...
    @property
    def instances(self) -> Sequence[Mapping[str, Any]]: ...
    @property
    def actions(self) -> Sequence[Mapping[str, Any]]: ...
    def timezone(self, customer_id: str) -> str: ...
    def journey(self, journey_id: str | None = None) -> ir.Journey: ...


def render_explain(result: Explained, customer_id: str) -> str:
    """The decision log of every instance of ``customer_id``: steps taken, conditions with their
    values, waits and what ended them, deliveries and suppressions with their reasons."""
    tz = result.timezone(customer_id)
    explained = result.engine.explain(customer_id)
    if not explained:
        return f"{customer_id}: no journey instance (the customer never entered)\n"
    lines: list[str] = []
    records = {r["id"]: r for r in result.instances}
    # What the logs list as given up, which a simulation's actions list too: listed once.
    given_up = Counter(
        (inst["journey"], datetime.fromisoformat(e["at"]).timestamp(), e["node"], e.get("reason"))
        for inst in explained
        for e in inst["log"]
        if e["what"] == "suppressed"
    )
    for inst in explained:
        record = records.get(inst["instance"], {})
        outcome = f", outcome {inst['outcome']}" if inst["outcome"] else ""
        lines.append(
            f"{inst['instance']} ({inst['journey']} v{inst['version']}): {inst['status']}{outcome}"
        )
        rows: list[tuple[float, float, str]] = []

        row = functools.partial(_log_row, rows, tz)
        journey = result.journey(inst["journey"])
        nodes = journey.nodes
        step = functools.partial(_step_column, journey)
        queued = {
            (datetime.fromisoformat(e["at"]).timestamp(), e["node"]): i
            for i, e in enumerate(inst["log"])
            if e["what"] in ("send", "ticket", "reward", "action")
        }
        for i, entry in enumerate(inst["log"]):
            text = _describe_log(entry, tz, nodes.get(entry["node"]))
            order: float = i
            key = (datetime.fromisoformat(entry["at"]).timestamp(), entry["node"])
            if entry["what"] == "deliver":  # a policy decision: with the delivery it concerns
                order = queued.get(key, 10**8) + 0.25 + i / 10**7
            elif entry["what"] == "suppressed":  # where the delivery's own line goes
                order = queued.get(key, 10**8) + 0.5
            row(entry["at"], order, step(entry["node"]), text)
        for a in _deliveries(result, customer_id, inst["journey"], record):
            ts = datetime.fromisoformat(a["at"]).timestamp()
            if a["kind"] == "suppressed":
                seen = (inst["journey"], ts, a["node"], a.get("reason"))
                if given_up[seen] > 0:  # (listed from the decision log)
                    given_up[seen] -= 1
                    continue
            # Right after the step that queued it; a deferred delivery after that instant's steps.
            order = queued.get((ts, a["node"]), 10**8) + 0.5
            verb = {"send": "delivered: ", "ticket": "opened: ", "reward": "granted: "}.get(
                a["kind"], "done: " if a["kind"] == "action" else ""
            )
            row(a["at"], order, step(a["node"]), verb + describe_action(a))
        if record.get("ended_at"):
            row(record["ended_at"], 10**9, "-", f"ended: {inst['outcome']}")
        rows.sort()
        lines.extend(r[2] for r in rows)
    return "\n".join(lines) + "\n"


def _step_column(journey: ir.Journey, node_id: str | None) -> str:
    """The step a line of ``explain`` is about: its label, or its kind for a step whose id the
    compiler made up (the line itself says what the step does)."""
    if not node_id:
        return "-"
    node = journey.nodes.get(node_id)
    if node_id in journey.labels or node is None:
        return node_id
    owner = node_id.partition(".")[0]  # a repeat's own steps (reminders.check)
    if owner in journey.labels:
        return owner
    if isinstance(node, ir.Action):
        return node.action  # reward or action
    return {"repeat_check": "repeat", "repeat_next": "repeat"}.get(node.kind, node.kind).replace(
        "_", " "
    )


def _log_row(
    rows: list[tuple[float, float, str]], tz: str, iso: str, order: float, node: str, text: str
) -> None:
    when = datetime.fromisoformat(iso)
    rows.append((when.timestamp(), order, f"  {minute(local_iso(when, tz))}  {node:<32} {text}"))


def _deliveries(
    result: Explained, customer_id: str, journey_id: str, record: Mapping[str, Any]
) -> Sequence[Mapping[str, Any]]:
    """Actions of one instance: the customer's actions in the journey between its entry and the
    next instance's entry."""
    entered = record.get("entered_at")
    if not entered:
        return []
    start = datetime.fromisoformat(entered).timestamp()
    later = [
        datetime.fromisoformat(r["entered_at"]).timestamp()
        for r in result.instances
        if r["customer_id"] == customer_id
        and r["journey"] == journey_id
        and datetime.fromisoformat(r["entered_at"]).timestamp() > start
    ]
    end = min(later) if later else float("inf")
    return [
        a
        for a in result.actions
        if a["customer_id"] == customer_id
        and a["journey"] == journey_id
        and start <= datetime.fromisoformat(a["at"]).timestamp() < end
    ]
