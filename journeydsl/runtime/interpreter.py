"""The interpreter: moves one instance through its journey's nodes until it waits or ends.

One handler per kind of node (found through a dict on the node's class, not a chain of
isinstance tests), each taking the node and the :class:`Step` it is part of, and returning the
next node's id, or None when the instance now waits or has ended. Effects (sends, tickets,
actions) are not delivered here: they go into the step's outbox under their idempotency key,
built from (journey, version, instance, node, visit), and the engine commits them with the
instance."""

from __future__ import annotations

import contextlib
import decimal
import hashlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from journeydsl import ir
from journeydsl.calendars import ALL_DAYS, next_at
from journeydsl.expr.absent import AbsentAttributeError
from journeydsl.expr.limits import (
    DurationLimitError,
    ExpressionLimitError,
    wait_length,
    wait_too_long,
)
from journeydsl.ir_offers import ChooseOffer
from journeydsl.ir_rewards import Reward
from journeydsl.money import Money
from journeydsl.runtime import parallel
from journeydsl.runtime.budgets import BudgetLedger
from journeydsl.runtime.codec import decode_map, encode_map, plain
from journeydsl.runtime.decide import Decider, DecisionFunction, run_decide
from journeydsl.runtime.decisions import note
from journeydsl.runtime.evaluation import ConditionError, EvalContext
from journeydsl.runtime.handoff import Handoffs, run_enter
from journeydsl.runtime.history import contact_history
from journeydsl.runtime.hostcalls import DEBUG, INFO, OnAction, StoreError, iso, log, record
from journeydsl.runtime.offers import PendingChoices, run_choose
from journeydsl.runtime.protocols import (
    EventStore,
    OutboxEntry,
    Profile,
    ProfileStore,
    StateStore,
)
from journeydsl.runtime.records import InstanceRecord, WaitRecord
from journeydsl.runtime.rewards import Budgets, budget_ledger, run_reward
from journeydsl.runtime.sendparams import suppression_reason

__all__ = [
    "MAX_STEPS",
    "Interpreter",
    "Late",
    "Step",
    "describe_lateness",
    "fine_bucket",
    "first_condition",
]

#: Steps one instance may take without waiting before it is stopped as runaway (the compiler
#: rejects loops without waits; this guards hand-built IR).
MAX_STEPS = 10_000
_END = "completed"
#: Failed instances kept with their reason (the count goes on).
FAILED_KEPT = 100


def fine_bucket(*parts: str) -> tuple[int, int]:
    """A stable 0-99 bucket (the same inputs give the same bucket on every run, machine and
    Python version), and a finer one, 0-9999, within it (``bucket * 100 + hundredths``): a
    split of whole percentages puts a customer in the same arm by either, and one with two
    decimals (33.33%) by the finer."""
    number = int.from_bytes(hashlib.sha256("\x1f".join(parts).encode()).digest()[:8], "big")
    whole = number % 100
    return whole, whole * 100 + (number // 100) % 100


@dataclass(frozen=True, slots=True)
class Late:
    """A timer that fired later than its journey allows (``stale after``): what it runs sends
    nothing to the customer, and its tickets and actions are marked late."""

    by: timedelta
    limit: timedelta

    def reason(self) -> str:
        """Why a message of this run is withheld."""
        return (
            f"stale: the timer fired {describe_lateness(self.by)} after its time "
            f"(stale after {describe_lateness(self.limit)})"
        )


def describe_lateness(late: timedelta) -> str:
    """``29d 23h``, ``2h 5m``, ``40s``: a lateness in days, hours and minutes."""
    seconds = int(late.total_seconds())
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    parts = [f"{n}{unit}" for n, unit in ((days, "d"), (hours, "h"), (minutes, "m")) if n]
    return " ".join(parts) or f"{seconds}s"


class Step:
    """One run of one instance: what every node's handler reads and writes."""

    __slots__ = ("ctx", "inst", "journey", "late", "outbox", "variables")

    def __init__(
        self,
        journey: ir.Journey,
        inst: InstanceRecord,
        ctx: EvalContext,
        variables: dict[str, Any],
        outbox: list[OutboxEntry],
        late: Late | None = None,
    ) -> None:
        self.journey = journey
        self.inst = inst
        self.ctx = ctx
        self.variables = variables
        self.outbox = outbox
        self.late = late


_Handler = Callable[["Interpreter", Any, Step], "str | None"]


class Interpreter:
    """Runs instances over the host's event and profile stores."""

    def __init__(
        self,
        events: EventStore,
        profiles: ProfileStore,
        on_action: OnAction | None,
        state: StateStore | None = None,
        journeys: Iterable[ir.Journey] = (),
    ) -> None:
        self.events = events
        #: The contact history ``sent(…)`` reads, when a journey uses it (see runtime.history).
        self.history = contact_history(state, journeys) if state is not None else None
        self.profiles = profiles
        self.on_action = on_action
        #: How many instances failed (ended with outcome ``error``); the first
        #: :data:`FAILED_KEPT` of them, with the reason, in :attr:`failed`.
        self.failures = 0
        self.failed: list[tuple[str, str]] = []
        #: The host's decision functions (``decide`` steps), set by the engine.
        self.decider: Decider | None = None
        #: hand-off: the instances ``enter`` steps create, set by the engine's entries.
        self.handoffs: Handoffs | None = None

        # choose: the offer catalogue (runtime/offers.py); caps count earlier choices in the store
        self.state = state
        self.pending_choices = PendingChoices()

        #: The ledger of the reward budgets (``reward … from BUDGET``), set by the engine.
        self.budgets: Budgets | None = None

    # ------------------------------------------------------------------ running

    def context(
        self, journey: ir.Journey, inst: InstanceRecord, now: datetime, profile: Profile
    ) -> EvalContext:
        """The evaluation context of ``inst`` at ``now``."""
        return EvalContext(
            self.events,
            now,
            inst,
            journey,
            profile,
            decode_map(inst["vars"]),
            decode_map(inst["trigger"]),
            self.history,
        )

    def run(
        self,
        journey: ir.Journey,
        inst: InstanceRecord,
        node_id: str | None,
        now: datetime,
        profile: Profile,
        outbox: list[OutboxEntry],
        late: Late | None = None,
    ) -> None:
        """Interpret from ``node_id`` until the instance waits or ends (``late``: run by a
        stale timer)."""
        variables = decode_map(inst["vars"])
        trigger = decode_map(inst["trigger"])
        ctx = EvalContext(
            self.events, now, inst, journey, profile, variables, trigger, self.history
        )
        step = Step(journey, inst, ctx, variables, outbox, late)
        inst["status"], inst["wait"], inst["due"] = "active", None, None
        try:
            if self.walk(step, node_id):
                self.end(inst, journey, _END, now)
        except StoreError as failure:
            raise failure.original from None
        except Exception as exc:  # a failing expression must not stop the engine
            self.failed_by(exc, inst, journey, now)
        finally:
            inst["vars"] = encode_map(variables)

    def failed_by(
        self, exc: Exception, inst: InstanceRecord, journey: ir.Journey, now: datetime
    ) -> None:
        """End ``inst`` with the outcome ``error`` because evaluating its journey raised
        ``exc`` (a step, or a wait's or a goal's condition): logged, counted and in its decision
        log. The journeys' own limits say what happened in words; anything else as raised."""
        if isinstance(exc, ConditionError):
            exc = exc.original
        zero = _by_zero(exc)
        known = zero or isinstance(
            exc, ExpressionLimitError | DurationLimitError | AbsentAttributeError | OverflowError
        )
        reason = str(exc) if known else repr(exc)
        if isinstance(exc, OverflowError):  # (Python's words name no limit)
            reason = f"a date, time or duration out of range (beyond year 9999): {exc}"
        elif zero:  # (decimal's own words are a list of signal classes)
            reason = "division by zero"
        detail = {"error": type(exc).__name__} if known else {}
        note(inst, now, inst.get("node") or "", "error", reason=reason, **detail)
        log.error("error", journey=journey.id, customer=inst["customer_id"], error=reason)
        self._failed(inst, reason)
        self.end(inst, journey, "error", now)

    @contextlib.contextmanager
    def failing(self, inst: InstanceRecord, journey: ir.Journey, now: datetime) -> Iterator[None]:
        """Around what evaluates ``inst``'s conditions outside a step (a wait's or a goal's
        ``where``, a timer's re-check): a condition that raises (:class:`ConditionError`) ends
        the instance with the outcome ``error`` (:meth:`failed_by`) instead of reaching the
        host. Anything else, a store's failure first, still does, as a crash would."""
        try:
            yield
        except StoreError as failure:
            raise failure.original from None
        except ConditionError as failure:  # a failing expression must not stop the engine
            if inst["status"] != "ended":
                self.failed_by(failure, inst, journey, now)

    def walk(self, step: Step, node_id: str | None) -> bool:
        """Interpret from ``node_id`` until the instance waits or ends (or a branch of a
        parallel block reaches its join); True when the path ran off the journey's end."""
        inst, journey, now = step.inst, step.journey, step.ctx.now
        nodes = journey.nodes
        visits = inst["visits"]
        debug = log.level <= DEBUG
        steps = 0
        while node_id is not None:
            steps += 1
            if steps > MAX_STEPS:
                note(inst, now, node_id, "error", reason="too many steps without a wait")
                self._failed(inst, "too many steps without a wait")
                self.end(inst, journey, "error", now)
                return False
            node = nodes[node_id]
            if debug:
                log.debug(
                    "step",
                    journey=journey.id,
                    version=journey.version,
                    customer=inst["customer_id"],
                    node=node.id,
                )
            inst["node"] = node.id
            handler = _HANDLERS.get(type(node)) or _handler(type(node))
            node_id = handler(self, node, step)
            visits[node.id] = visits.get(node.id, 0) + 1
            if inst["status"] != "active":
                return False
        return True

    def register_decisions(
        self,
        journeys: Sequence[ir.Journey],
        functions: Mapping[str, DecisionFunction] | None,
        unhandled: str,
        listed: list[str],
    ) -> None:
        """The host's decision functions (see :class:`~journeydsl.runtime.decide.Decider`)."""
        self.decider = Decider(journeys, functions, unhandled, listed)

    def spawned(self) -> list[InstanceRecord]:
        """hand-off: the instances ``enter`` steps created since the last commit, for the
        caller to commit with its records (runtime/handoff.py)."""
        return self.handoffs.take() if self.handoffs is not None else []

    def register_budgets(
        self, journeys: Sequence[ir.Journey], budgets: BudgetLedger | None, state: object
    ) -> None:
        """The ledger of the journeys' reward budgets (see runtime/rewards.py)."""
        self.budgets = budget_ledger(journeys, budgets, state)

    def fail(self, inst: InstanceRecord, journey: ir.Journey, reason: str, now: datetime) -> None:
        """End ``inst`` with the outcome ``error``, for ``reason`` (logged and counted)."""
        note(inst, now, inst.get("node") or "", "error", reason=reason)
        log.error("error", journey=journey.id, customer=inst["customer_id"], error=reason)
        self._failed(inst, reason)
        self.end(inst, journey, "error", now)

    def _failed(self, inst: InstanceRecord, reason: str) -> None:
        self.failures += 1
        if len(self.failed) < FAILED_KEPT:
            self.failed.append((inst["id"], reason))

    def end(self, inst: InstanceRecord, journey: ir.Journey, outcome: str, now: datetime) -> None:
        """End ``inst`` with ``outcome``."""
        inst["status"], inst["outcome"], inst["ended_at"] = "ended", outcome, iso(now)
        inst["node"], inst["wait"], inst["due"] = None, None, None
        inst.pop("par", None)  # (an exit in a branch ends the others with the instance)
        if log.level <= INFO:
            log.info(
                "exit",
                journey=journey.id,
                version=journey.version,
                customer=inst["customer_id"],
                outcome=outcome,
            )

    def wait(
        self,
        inst: InstanceRecord,
        node_id: str,
        kind: str,
        due: datetime | None,
        recheck: datetime | None = None,
    ) -> None:
        """Park the instance at ``node_id`` until ``due`` (its timeout, or None), or until
        ``recheck`` when that comes first: the instant a waited-for condition may turn true."""
        if log.level <= DEBUG:
            log.debug(
                "wait",
                journey=inst["journey"],
                version=inst["version"],
                customer=inst["customer_id"],
                node=node_id,
                until=iso(due) if due else None,
            )
        wait: WaitRecord = {"node": node_id, "kind": kind}
        timer = due
        if recheck is not None and (due is None or recheck < due):
            wait["recheck"], wait["timeout"] = True, iso(due) if due else None
            timer = recheck
        inst["status"], inst["wait"], inst["due"] = "waiting", wait, iso(timer) if timer else None

    def recheck(self, step: Step) -> bool:
        """Inside a parallel block's fork, another branch moved (it may have set a variable):
        when the condition wait the instance is loaded at now holds, run on from it in this
        step and say so; else wait again, from the instant time alone may now turn it true."""
        inst, ctx, now = step.inst, step.ctx, step.ctx.now
        wait = inst["wait"]
        assert wait is not None  # (parallel.py loads waiting branches only)
        node = step.journey.nodes[wait["node"]]
        target: str | None = None
        at: datetime | None = None
        if isinstance(node, ir.WaitFor) and node.event is None and node.condition is not None:
            met, at = ctx.watch(node.condition)
            if met:
                source = node.condition.source
                note(inst, now, node.id, "condition", value=True, source=source, by="branch")
                target = node.then
        elif isinstance(node, ir.WaitFirst):
            won, at = first_condition(node, ctx)
            if won is not None:
                branch = node.branches[won]
                label = branch.label
                note(
                    inst, now, node.id, "first", branch=won + 1, won=label, value=True, by="branch"
                )
                target = branch.next
        else:
            return False
        if target is None:
            timeout = wait.get("timeout") if wait.get("recheck") else inst["due"]
            due = datetime.fromisoformat(timeout) if timeout else None
            self.wait(inst, node.id, wait["kind"], due, at)
            return False
        inst["wakes"] = inst.get("wakes", 0) + 1
        inst["status"], inst["wait"], inst["due"] = "active", None, None
        self.walk(step, target)
        return True

    # ------------------------------------------------------------------ effects

    def _effect(
        self,
        step: Step,
        node: ir.Node,
        kind: str,
        fields: dict[str, Any],
        extra: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Put one effect in the outbox under its idempotency key; returns its payload."""
        journey, inst, now = step.journey, step.inst, step.ctx.now
        payload = {
            "instance": inst["id"],
            "journey": journey.id,
            "version": journey.version,
            "node": node.id,
            **fields,
            "created": iso(now),
            **(extra or {}),
        }
        visit = inst["visits"].get(node.id, 0)
        key = f"{journey.id}:{journey.version}:{inst['id']}:{node.id}:{visit}"
        step.outbox.append(OutboxEntry(key, kind, inst["customer_id"], payload, now))
        return payload

    def _send(self, node: ir.Send, step: Step) -> str | None:
        ctx, inst = step.ctx, step.inst
        params = {k: e.fn(ctx, None) for k, e in node.params}
        fields = {
            "template": node.template,
            "category": node.category,
            # each channel once, in order: the compiler refuses a repeat (JD106), but a journey
            # compiled before it did, or built by hand, may still have one
            "chain": list(dict.fromkeys((node.channel, *node.fallback))),
            "index": 0,
            "params": encode_map(params),
            # (only when tagged, so untagged payloads keep their bytes)
            **({"tags": list(node.tags)} if node.tags else {}),
        }
        extra = {
            "holdout": inst["holdout"],
            "entered_at": inst["entered_at"],
            "wakes": inst.get("wakes", 0),
        }
        # A message that must not go is withheld by the delivery, with the reason, like any
        # other suppressed message: a stale timer's, or one whose params lack a value or are of
        # the wrong type (an absent profile attribute, a mistyped profile value).
        invalid = suppression_reason(node, params)
        if step.late is None and invalid is None:
            self._effect(step, node, "send", fields, extra)
            note(inst, ctx.now, node.id, "send", channel=node.channel, template=node.template)
            return node.next
        why: dict[str, str]
        if step.late is not None:
            withheld = ["stale", step.late.reason()]
            why = {"stale": describe_lateness(step.late.by)}
        else:
            assert invalid is not None
            withheld, why = ["params", f"invalid params: {invalid}"], {"invalid": invalid}
        self._effect(step, node, "send", fields, {**extra, "withhold": withheld})
        note(inst, ctx.now, node.id, "send", channel=node.channel, template=node.template, **why)
        return node.next

    def _ticket(self, node: ir.Ticket, step: Step) -> str | None:
        ctx = step.ctx
        fields = {
            "queue": node.queue,
            "priority": node.priority.fn(ctx, None),
            "payload": encode_map({k: e.fn(ctx, None) for k, e in node.payload}),
        }
        # ticket exits (accepted / not accepted): the delivery tells the instance the decision
        exits = {"exits": True} if node.waits else {}
        payload = self._effect(step, node, "ticket", fields, {**(_late(step) or {}), **exits})
        note(
            step.inst,
            ctx.now,
            node.id,
            "ticket",
            queue=node.queue,
            priority=payload["priority"],
            **_late_note(step),
            **({"waits": True} if node.waits else {}),
        )
        if not node.waits:
            return node.next
        self.wait(step.inst, node.id, "ticket", None)
        wait = step.inst["wait"]
        assert wait is not None  # (just set)
        wait["ticket"] = step.outbox[-1].key
        return None

    def _action(self, node: ir.Action, step: Step, drawn: Money | None = None) -> str | None:
        ctx = step.ctx
        params = {k: e.fn(ctx, None) for k, e in node.params}
        if drawn is not None:  # (a reward drawn from a money budget: the amount it drew)
            params["amount"] = drawn
        fields = {"action": node.action, "name": node.name, "params": encode_map(params)}
        self._effect(step, node, "action", fields, _late(step))
        note(step.inst, ctx.now, node.id, node.action, name=node.name, **_late_note(step))
        return node.next

    # ------------------------------------------------------------------ profile changes

    def _update(self, node: ir.Update, step: Step) -> str | None:
        inst = step.inst
        value = node.value.fn(step.ctx, None)
        try:
            self.profiles.update(inst["customer_id"], node.attribute, value)
        except Exception as exc:
            raise StoreError(exc) from exc
        self._record(step, node, attribute=node.attribute, value=plain(value))
        return node.next

    def _tag(self, node: ir.Tag, step: Step) -> str | None:
        try:
            self.profiles.tag(step.inst["customer_id"], node.tag, node.remove)
        except Exception as exc:
            raise StoreError(exc) from exc
        self._record(step, node, tag=node.tag, remove=node.remove)
        return node.next

    def _record(self, step: Step, node: ir.Node, **fields: Any) -> None:
        inst = step.inst
        record(
            self.on_action,
            step.ctx.now,
            inst["customer_id"],
            inst["journey"],
            node.id,
            "update",
            **fields,
        )

    # ------------------------------------------------------------------ flow

    def _set(self, node: ir.Set, step: Step) -> str | None:
        step.variables[node.var] = node.value.fn(step.ctx, None)
        return node.next

    def _wait(self, node: ir.Wait, step: Step) -> str | None:
        ctx, inst = step.ctx, step.inst
        now = ctx.now
        if node.mode == "duration":
            due = now + _length(node.value, ctx)
        elif node.mode == "until":
            due = node.value.fn(ctx, None)
        else:
            # Always later than now: a `wait until 00:00` reached at 00:00 waits for the next
            # midnight, so a loop of such waits moves a day per round, never spins.
            value = node.value.fn(ctx, None)
            due = next_at(now, value, ctx.tz, frozenset(node.days) if node.days else ALL_DAYS)
        if due <= now:
            note(inst, now, node.id, "wait", due=due, passed=True)
            return node.next
        self.wait(inst, node.id, "timer", due)
        note(inst, now, node.id, "wait", due=due)
        return None

    def _wait_for(self, node: ir.WaitFor, step: Step) -> str | None:
        ctx, inst = step.ctx, step.inst
        now = ctx.now
        recheck: datetime | None = None
        if node.condition is not None:
            met, recheck = ctx.watch(node.condition)
            if met:
                source = node.condition.source
                note(inst, now, node.id, "condition", value=True, source=source)
                return node.then
        due: datetime | None = None
        if node.timeout is not None:
            within = node.timeout_mode == "within"
            due = now + _length(node.timeout, ctx) if within else node.timeout.fn(ctx, None)
            if due is not None and due <= now:
                note(inst, now, node.id, "timeout", passed=True)
                return node.on_timeout
        self.wait(inst, node.id, "event" if node.event else "condition", due, recheck)
        note(inst, now, node.id, "wait_for", event=node.event, due=due)
        return None

    def _wait_first(self, node: ir.WaitFirst, step: Step) -> str | None:
        ctx, inst = step.ctx, step.inst
        now = ctx.now
        won, recheck = first_condition(node, ctx)
        if won is not None:
            branch = node.branches[won]
            note(inst, now, node.id, "first", branch=won + 1, won=branch.label, value=True)
            return branch.next
        due: datetime | None = None
        if node.timeout is not None:
            within = node.timeout_mode == "within"
            due = now + _length(node.timeout, ctx) if within else node.timeout.fn(ctx, None)
            if due is not None and due <= now:
                note(inst, now, node.id, "timeout", passed=True)
                return node.on_timeout
        self.wait(inst, node.id, "first", due, recheck)
        note(inst, now, node.id, "wait_first", due=due)
        return None

    def _branch(self, node: ir.Branch, step: Step) -> str | None:
        value = bool(node.cond.fn(step.ctx, None))
        compared: dict[str, Any] = {}
        if node.probe is not None:
            # (an absent value raises: the condition already counted it as false)
            with contextlib.suppress(Exception):
                compared["compared"] = node.probe.fn(step.ctx, None)
        note(
            step.inst, step.ctx.now, node.id, "if", source=node.cond.source, value=value, **compared
        )
        return node.then if value else node.otherwise

    def _switch(self, node: ir.Switch, step: Step) -> str | None:
        ctx = step.ctx
        subject = node.subject.fn(ctx, None)
        for values, target in node.cases:
            if any(v.fn(ctx, None) == subject for v in values):
                note(step.inst, ctx.now, node.id, "switch", value=subject)
                return target
        note(step.inst, ctx.now, node.id, "switch", value=subject, case="else")
        return node.otherwise

    def _split(self, node: ir.Split, step: Step) -> str | None:
        inst, now = step.inst, step.ctx.now
        if node.draw == "entry":  # each entry, and each pass through a loop, draws anew
            visit = str(inst["visits"].get(node.id, 0))
            b, fine = fine_bucket(step.journey.id, node.id, inst["id"], visit)
        else:
            b, fine = fine_bucket(step.journey.id, node.id, inst["customer_id"])
        upto = 0  # in hundredths of a percent: weights have at most two decimals
        for weight, target in node.arms:
            upto += int(weight * 100)
            if fine < upto:
                note(inst, now, node.id, "split", bucket=b)
                return target
        inst["holdout"] = True
        note(inst, now, node.id, "split", bucket=b, holdout=True)
        return node.holdout[1] if node.holdout else None

    def _repeat_start(self, node: ir.RepeatStart, step: Step) -> str | None:
        step.variables[node.counter] = 1
        return node.next

    def _repeat_check(self, node: ir.RepeatCheck, step: Step) -> str | None:
        ctx = step.ctx
        n = step.variables.get(node.counter, 1)
        if n > node.max:
            note(step.inst, ctx.now, node.id, "repeat_done", rounds=node.max)
            return node.exit
        if node.until is not None and node.until.fn(ctx, None):
            note(step.inst, ctx.now, node.id, "until", source=node.until.source, value=True)
            return node.exit
        return node.body

    def _repeat_next(self, node: ir.RepeatNext, step: Step) -> str | None:
        step.variables[node.counter] = step.variables.get(node.counter, 1) + 1
        return node.next

    def _exit(self, node: ir.Exit, step: Step) -> str | None:
        outcome = node.outcome if node.chosen is None else node.chosen.fn(step.ctx, None)
        self.end(step.inst, step.journey, outcome, step.ctx.now)
        return None


def first_condition(node: ir.WaitFirst, ctx: EvalContext) -> tuple[int | None, datetime | None]:
    """The first condition branch of ``node`` (in written order) that holds now, or None and
    the soonest instant time alone could make one of them true."""
    recheck: datetime | None = None
    for n, branch in enumerate(node.branches):
        if branch.condition is None:
            continue
        met, at = ctx.watch(branch.condition)
        if met:
            return n, None
        if at is not None and (recheck is None or at < recheck):
            recheck = at
    return None, recheck


def _by_zero(exc: Exception) -> bool:
    """Whether ``exc`` is a division (or ``%``) by zero: of ints, or of decimals and amounts
    (``decimal.DivisionByZero``; ``0 / 0`` raises ``decimal.InvalidOperation`` naming
    ``decimal.DivisionUndefined``)."""
    if isinstance(exc, ZeroDivisionError):
        return True
    signals = exc.args[0] if exc.args and isinstance(exc.args[0], list) else []
    return isinstance(exc, decimal.InvalidOperation) and decimal.DivisionUndefined in signals


def _late(step: Step) -> dict[str, Any] | None:
    """What marks a ticket or action of a stale timer's run late in its outbox payload."""
    return None if step.late is None else {"late": int(step.late.by.total_seconds())}


def _late_note(step: Step) -> dict[str, str]:
    """What marks a ticket or action of a stale timer's run late in the decision log."""
    return {} if step.late is None else {"late": describe_lateness(step.late.by)}


#: How each kind of node is interpreted (see Interpreter.run).
_HANDLERS: dict[type, _Handler] = {
    ir.Send: Interpreter._send,
    ir.Ticket: Interpreter._ticket,
    ir.Action: Interpreter._action,
    ir.Update: Interpreter._update,
    ir.Tag: Interpreter._tag,
    ir.Set: Interpreter._set,
    ir.Wait: Interpreter._wait,
    ir.WaitFor: Interpreter._wait_for,
    ir.WaitFirst: Interpreter._wait_first,
    ir.Branch: Interpreter._branch,
    ir.Switch: Interpreter._switch,
    ir.Split: Interpreter._split,
    ir.RepeatStart: Interpreter._repeat_start,
    ir.RepeatCheck: Interpreter._repeat_check,
    ir.RepeatNext: Interpreter._repeat_next,
    ir.Exit: Interpreter._exit,
    ir.Parallel: parallel.fork,
    ir.Join: parallel.join,
    ir.Decide: run_decide,  # decide: a decision call (runtime/decide.py)
    ir.Enter: run_enter,  # enter: hand-off to another journey (runtime/handoff.py)
    ChooseOffer: run_choose,  # choose: the offer catalogue (runtime/offers.py)
    Reward: run_reward,  # reward budgets (runtime/rewards.py)
}


def _handler(kind: type) -> _Handler:
    """The handler of a node class missing from :data:`_HANDLERS`: a subclass of a known kind."""
    for known, handler in list(_HANDLERS.items()):
        if issubclass(kind, known):
            _HANDLERS[kind] = handler
            return handler
    raise TypeError(f"unknown node {kind.__name__}")


def _length(length: ir.CExpr, ctx: EvalContext) -> timedelta:
    """The length of a wait (or of its ``within``), computed at run time: past
    :data:`~journeydsl.expr.limits.MAX_DURATION`, or past what a duration holds while it was
    built (``1d * n`` with ``n`` near 10^10), the wait limit's :class:`DurationLimitError`."""
    try:
        value = length.fn(ctx, None)
    except DurationLimitError as exc:
        raise wait_too_long(exc.days) from None
    return wait_length(value)
