"""Decision calls: a ``decide`` step asks a function the host registers on the engine
(``Engine(decisions={"credit.preapproved_limit": fn})``) and keeps its typed answer.

* **The call.** The function gets one :class:`DecisionCall` (the arguments, the customer, an
  idempotency key, the attempt) and returns the answer: a value of the declared type, or a
  mapping of the record's fields (money as :class:`~journeydsl.money.Money`, or a number in
  the declared currency). An answer of another shape fails the attempt as an error.
* **Timeout.** Each attempt runs on a thread of its own and may take the step's ``timeout``
  (5s by default); an attempt still running then, or one that raises :class:`TimeoutError`,
  timed out (its late answer is dropped). A function marked :func:`immediate` (a lookup that
  never blocks, as the simulator's are) is called on the engine's thread, without a timeout.
  Any other exception is an error. (A ``BaseException`` that is not an ``Exception``, such as
  ``KeyboardInterrupt``, passes through: the step is abandoned uncommitted.)
* **Retry.** A failed attempt is tried again ``retry`` times (2 by default), ``every`` apart
  (1m): the instance waits at the step's ``ID.retry`` timer in between, durably.
* **Durability.** The answer is a journey variable, committed with the step that asked; from
  then on it is never asked again and never changes (a replay of the same events finds it).
  A crash before that commit runs the step again, which asks again with the same
  :attr:`DecisionCall.key`: a function that remembers its answers by key answers the same.
* **Failure.** When the last attempt fails, the step goes on to ``on timeout`` (a timeout) or
  ``on error``; a timeout without ``on timeout`` takes ``on error``; without either, the
  instance ends with the outcome ``error``, as when an expression fails.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, runtime_checkable

from journeydsl import ir
from journeydsl.expr.limits import MAX_AMOUNT, MAX_INT
from journeydsl.expr.types import Type
from journeydsl.money import Money, places_beyond
from journeydsl.runtime.codec import plain
from journeydsl.runtime.decisions import note
from journeydsl.runtime.hostcalls import log

if TYPE_CHECKING:
    from journeydsl.runtime.interpreter import Interpreter, Step

__all__ = [
    "Decider",
    "DecisionCall",
    "DecisionFunction",
    "immediate",
    "run_decide",
]


@dataclass(frozen=True, slots=True)
class DecisionCall:
    """One attempt at a decision: what the host's function is asked.

    ``key`` is ``journey:version:instance:step:visit``: the same for an attempt asked again
    after a crash, another for each attempt and each pass through a loop."""

    function: str
    args: Mapping[str, Any]
    customer_id: str
    journey: str
    key: str
    attempt: int
    timeout: timedelta
    at: datetime


@runtime_checkable
class DecisionFunction(Protocol):
    """**Protocol:** a decision function: returns the answer to ``call``, or raises
    (:class:`TimeoutError`: the attempt timed out; any other exception: it failed)."""

    def __call__(self, call: DecisionCall) -> Any: ...


_F = TypeVar("_F", bound=Callable[..., Any])


def immediate(fn: _F) -> _F:
    """Mark ``fn`` as never blocking: the engine calls it on its own thread, without a timeout
    (the simulator's functions, an in-process rules table)."""
    fn.journeydsl_immediate = True  # type: ignore[attr-defined]
    return fn


@dataclass(frozen=True, slots=True)
class Outcome:
    """How an attempt ended: ``answer`` (with its value), ``error`` or ``timeout`` (why)."""

    status: str
    value: Any = None
    reason: str = ""


class Decider:
    """The host's decision functions, as the interpreter calls them.

    Every function the journeys' ``decide`` steps name must be registered (``ValueError``
    otherwise), unless ``unhandled="withhold"``: the missing ones are added to ``unhandled``
    and a call of one fails as an error."""

    def __init__(
        self,
        journeys: Sequence[ir.Journey],
        functions: Mapping[str, DecisionFunction] | None,
        unhandled: str = "refuse",
        listed: list[str] | None = None,
    ) -> None:
        self.functions = dict(functions or {})
        missing = sorted(
            {
                f"decision function {node.function} ({j.id})"
                for j in journeys
                for node in j.nodes.values()
                if isinstance(node, ir.Decide) and node.function not in self.functions
            }
        )
        if missing and unhandled == "refuse":
            raise ValueError(
                "no decision function registered for what these journeys ask: "
                + "; ".join(missing)
                + " (pass them in decisions=)"
            )
        if listed is not None:
            listed.extend(missing)

    def ask(self, node: ir.Decide, call: DecisionCall) -> Outcome:
        """One attempt: the answer, typed, or why it failed."""
        fn = self.functions.get(node.function)
        if fn is None:
            return Outcome("error", reason=f"no decision function '{node.function}' registered")
        try:
            raw = _call(fn, call)
        except TimeoutError as exc:
            return Outcome("timeout", reason=f"TimeoutError: {exc}" if str(exc) else "timed out")
        except Exception as exc:  # the function failed: this attempt is an error
            return Outcome("error", reason=f"{type(exc).__name__}: {exc}")
        try:
            return Outcome("answer", typed_answer(raw, node.answer))
        except ValueError as exc:
            return Outcome("error", reason=f"the answer is not {node.answer}: {exc}")


def _call(fn: DecisionFunction, call: DecisionCall) -> Any:
    """``fn(call)``, on a thread of its own unless it is :func:`immediate`; TimeoutError when
    it is still running after ``call.timeout``."""
    if getattr(fn, "journeydsl_immediate", False):
        return fn(call)
    box: list[tuple[bool, Any]] = []

    def attempt() -> None:
        try:
            box.append((True, fn(call)))
        except BaseException as exc:  # (handed to the engine's thread)
            box.append((False, exc))

    worker = threading.Thread(target=attempt, name=f"decide {call.function}", daemon=True)
    worker.start()
    worker.join(call.timeout.total_seconds())
    if not box:
        raise TimeoutError(f"no answer within {int(call.timeout.total_seconds())}s")
    ok, value = box[0]
    if not ok:
        raise value
    return value


def typed_answer(raw: Any, t: Type) -> Any:
    """``raw`` as a value of the answer type ``t``; ValueError when it is not one."""
    if t.kind == "record":
        if not isinstance(raw, Mapping):
            raise ValueError(f"expected a mapping of its fields, got {type(raw).__name__}")
        out = {}
        for name, ft in t.fields or ():
            if name not in raw:
                raise ValueError(f"field '{name}' is missing")
            try:
                out[name] = typed_answer(raw[name], ft)
            except ValueError as exc:
                raise ValueError(f"field '{name}': {exc}") from None
        return out
    return _scalar(raw, t)


def _scalar(raw: Any, t: Type) -> Any:
    kind = t.kind
    if kind == "bool" and isinstance(raw, bool):
        return raw
    if kind == "int" and isinstance(raw, int) and not isinstance(raw, bool):
        if not -MAX_INT < raw < MAX_INT:
            raise ValueError(f"{raw} is not a whole number of at most 63 bits and a sign")
        return raw
    if kind in ("string", "enum") and isinstance(raw, str):
        if kind == "enum" and t.values is not None and raw not in t.values:
            raise ValueError(f"{raw!r} is not one of {', '.join(t.values)}")
        return raw
    if kind == "money" and isinstance(raw, Money):
        if raw.currency != t.currency:
            raise ValueError(f"an amount in {raw.currency}, not {t.currency}")
        return Money(_number(raw.amount, t), raw.currency)
    number_like = isinstance(raw, int | str | Decimal) and not isinstance(raw, bool)
    if kind in ("money", "decimal") and number_like:
        try:
            number = Decimal(str(raw))
        except InvalidOperation:
            raise ValueError(f"{raw!r} is not a number") from None
        number = _number(number, t)
        return Money(number, t.currency or "") if kind == "money" else number
    raise ValueError(f"{raw!r} is not {t}")


def _number(number: Decimal, t: Type) -> Decimal:
    """``number`` when it is finite, under :data:`~journeydsl.expr.limits.MAX_AMOUNT` and, for
    an amount, of no more decimal places than its currency has (as an event's or a profile's
    amount must be); else ValueError. Rounding would change what the bank's system answered."""
    if not number.is_finite():
        raise ValueError(f"{number!r} is not a finite number")
    if number.copy_abs() >= MAX_AMOUNT:  # (abs() would round to the context's 28 digits)
        raise ValueError(f"{number:f} has more than 30 digits before the point")
    beyond = places_beyond(number, t.currency or "") if t.kind == "money" else None
    if beyond is not None:
        places, allowed = beyond
        unit = "place" if places == 1 else "places"
        raise ValueError(f"{number:f} has {places} decimal {unit}; {t.currency} allows {allowed}")
    return number


# ---------------------------------------------------------------- the step


def _attempts(node: ir.Decide) -> str:
    """The variable that counts a decision's failed attempts while it retries (not a name a
    journey can write: it holds a '#')."""
    return f"#{node.id}"


def run_decide(interp: Interpreter, node: ir.Decide, step: Step) -> str | None:
    """The ``decide`` step: ask, keep the answer and go on; or retry, or take a failure exit."""
    ctx, inst, journey = step.ctx, step.inst, step.journey
    now = ctx.now
    attempt = int(step.variables.pop(_attempts(node), 0)) + 1
    visit = inst["visits"].get(node.id, 0)
    call = DecisionCall(
        function=node.function,
        args={k: e.fn(ctx, None) for k, e in node.args},
        customer_id=inst["customer_id"],
        journey=journey.id,
        key=f"{journey.id}:{journey.version}:{inst['id']}:{node.id}:{visit}",
        attempt=attempt,
        timeout=node.timeout,
        at=now,
    )
    decider = interp.decider
    outcome = (
        decider.ask(node, call)
        if decider is not None
        else Outcome("error", reason=f"no decision function '{node.function}' registered")
    )
    if outcome.status == "answer":
        step.variables[node.var] = outcome.value
        note(inst, now, node.id, "decide", name=node.function, value=plain(outcome.value))
        return node.next
    failed = {"name": node.function, "error": outcome.status, "reason": outcome.reason}
    note(inst, now, node.id, "decide", attempt=attempt, **failed)
    log.warning("decision_failed", journey=journey.id, customer=inst["customer_id"], **failed)
    if attempt <= node.retries and node.retry is not None:
        step.variables[_attempts(node)] = attempt
        return node.retry
    if outcome.status == "timeout" and node.timeout_exit:
        return node.on_timeout
    if node.error_exit:
        return node.on_error
    reason = f"decision '{node.function}' failed: {outcome.reason}"
    interp.fail(inst, journey, reason, now)
    return None
