"""Decision functions in simulations: the answers ``decide`` steps get from the behaviour model
(``decisions:`` of a behaviour file) or from a scenario test's stubs (``decisions:`` of a case),
and a failing one for a function that neither gives.

Every function here is :func:`~journeydsl.runtime.decide.immediate` and deterministic: a
behaviour model's draw is seeded by the run's seed and the call's idempotency key, so a replay
or a crash asks the same question and gets the same answer.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from journeydsl import ir
from journeydsl.expr.types import Type
from journeydsl.runtime.decide import DecisionCall, DecisionFunction, immediate
from journeydsl.runtime.protocols import Profile
from journeydsl.simulate.behaviour import Choice, DecisionModel

__all__ = [
    "DecisionFailedError",
    "Stub",
    "answer_types",
    "answer_value",
    "behaviour_functions",
    "stub_functions",
    "unanswered",
]


class DecisionFailedError(Exception):
    """A simulated decision failure (an error the behaviour model or a stub asks for)."""


def answer_types(journeys: Iterable[ir.Journey]) -> dict[str, Type]:
    """The answer type of every decision function the journeys' ``decide`` steps call."""
    return {
        node.function: node.answer
        for j in journeys
        for node in j.nodes.values()
        if isinstance(node, ir.Decide)
    }


def answer_value(raw: Any, t: Type) -> Any:
    """A value written in a YAML file (``20_000_000``, ``"20_000_000 VND"``, ``"true"``) in the
    form the engine checks against the answer type ``t``."""
    if t.kind == "record" and isinstance(raw, Mapping):
        types = dict(t.fields or ())
        return {k: answer_value(v, types[k]) if k in types else v for k, v in raw.items()}
    if t.kind == "bool" and raw in ("true", "false"):
        return raw == "true"
    if t.kind in ("money", "decimal", "int") and isinstance(raw, str):
        text = raw.strip()
        if t.kind == "money" and t.currency and text.endswith(t.currency):
            text = text[: -len(t.currency)].strip()
        try:
            number = Decimal(text.replace("_", "").replace(",", ""))
        except InvalidOperation:
            return raw
        return int(number) if t.kind == "int" and number == number.to_integral_value() else number
    return raw


def _seeded(seed: int, key: str) -> random.Random:
    digest = hashlib.sha256(f"{seed}\x1f{key}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def _text(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def _draw(spec: Any, t: Type, rng: random.Random) -> Any:
    """The answer ``spec`` gives: per field of a record, each a constant or a ``choice``."""
    if t.kind == "record" and isinstance(spec, Mapping):
        types = dict(t.fields or ())
        return {k: _draw(v, types.get(k, t), rng) for k, v in spec.items()}
    choice = Choice.model_validate(spec)
    return answer_value(choice.draw(rng), t)


def behaviour_functions(
    models: Mapping[str, DecisionModel],
    journeys: Sequence[ir.Journey],
    profiles: Iterable[Profile],
    seed: int,
) -> dict[str, DecisionFunction]:
    """A function per decision the behaviour model describes, drawing from it."""
    types = answer_types(journeys)
    attributes = {p.customer_id: p.attributes for p in profiles}
    out: dict[str, DecisionFunction] = {}
    for name, model in models.items():
        if name in types:
            out[name] = _from_model(name, model, types[name], attributes, seed)
    return out


def _from_model(
    name: str,
    model: DecisionModel,
    t: Type,
    attributes: Mapping[str, Mapping[str, Any]],
    seed: int,
) -> DecisionFunction:
    @immediate
    def decide(call: DecisionCall) -> Any:
        rng = _seeded(seed, call.key)
        r = rng.random()
        if r < model.errors:
            raise DecisionFailedError(f"{name}: a simulated error")
        if r < model.errors + model.timeouts:
            raise TimeoutError(f"{name}: a simulated timeout")
        spec = model.answer
        if model.by:
            found = attributes.get(call.customer_id, {})
            key = ", ".join(_text(found.get(a)) for a in model.by)
            spec = model.table.get(key, spec)
        if spec is None:
            raise DecisionFailedError(f"{name}: the behaviour model gives no answer here")
        return _draw(spec, t, rng)

    return decide


def unanswered(journeys: Sequence[ir.Journey], given: Mapping[str, Any]) -> dict[str, Any]:
    """A failing function for every decision the journeys call that ``given`` lacks."""
    out: dict[str, DecisionFunction] = {}
    for name in answer_types(journeys):
        if name not in given:

            def fails(call: DecisionCall, name: str = name) -> Any:
                raise DecisionFailedError(
                    f"no answer for {name} in this simulation: give its behaviour (decisions: "
                    "in the behaviour file) or a stub (decisions: in the test case)"
                )

            out[name] = immediate(fails)
    return out


# --------------------------------------------------------------------------- scenario tests


class Stub(BaseModel):
    """A scenario test's answer for a decision: for ``customer_id`` (any customer without
    it), the ``answer`` (after ``fail_first`` failed attempts), or every attempt failing with
    ``error`` (a message) or a ``timeout``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    customer_id: str | None = None
    answer: Any = None
    error: str | None = None
    timeout: bool = False
    fail_first: int = Field(default=0, ge=0)

    @model_validator(mode="after")
    def _one(self) -> Stub:
        given = [self.answer is not None, self.error is not None, self.timeout]
        if sum(given) != 1:
            raise ValueError("a stub gives one of 'answer', 'error' or 'timeout: true'")
        if self.fail_first and self.answer is None:
            raise ValueError("'fail_first' comes with an 'answer', given after those failures")
        return self


def stub_functions(
    stubs: Mapping[str, Sequence[Stub]], journeys: Sequence[ir.Journey]
) -> dict[str, DecisionFunction]:
    """A function per stubbed decision: the first stub for the customer (or for any) answers."""
    types = answer_types(journeys)
    out: dict[str, DecisionFunction] = {}
    for name, listed in stubs.items():
        if name in types:
            out[name] = _from_stubs(name, tuple(listed), types[name])
    return out


def _from_stubs(name: str, stubs: tuple[Stub, ...], t: Type) -> DecisionFunction:
    @immediate
    def decide(call: DecisionCall) -> Any:
        for stub in stubs:
            if stub.customer_id in (None, call.customer_id):
                if stub.error is not None:
                    raise DecisionFailedError(stub.error)
                if stub.timeout:
                    raise TimeoutError(f"{name}: a stubbed timeout")
                if call.attempt <= stub.fail_first:
                    raise DecisionFailedError(f"{name}: stubbed failure {call.attempt}")
                return answer_value(stub.answer, t)
        raise DecisionFailedError(f"no stub of {name} for customer {call.customer_id}")

    return decide
