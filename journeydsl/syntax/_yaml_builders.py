"""The last step of reading YAML: the fields read from a mapping become an AST node.

The reader (:mod:`._yaml_reader`) checks each mapping against its shape in
:mod:`journeydsl.syntax.shapes` and collects the values it read as :class:`Fields`; the tables
here say how each step kind and each record shape turns those into its node.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, Literal

from journeydsl import ast
from journeydsl.diagnostics import Span
from journeydsl.syntax._choose import choose_from_fields
from journeydsl.syntax._decide import decide_from_fields
from journeydsl.syntax._enter import enter_from_fields
from journeydsl.syntax._fragment import include_from_fields
from journeydsl.syntax._rewards import reward_from_fields
from journeydsl.syntax.shapes import ENTRY_SHAPES, STEP_SHAPES

__all__ = ["ENTRY_KINDS", "RECORD_BUILDERS", "STEP_BUILDERS", "Fields"]


@dataclass(slots=True)
class Fields:
    """The values read from one mapping, by key, with the span of each ``key: value`` pair."""

    values: dict[str, Any]
    pairs: dict[str, Span]
    span: Span

    def __getitem__(self, name: str) -> Any:
        return self.values[name]

    def __contains__(self, name: str) -> bool:
        return name in self.values

    def get(self, name: str, default: Any = None) -> Any:
        return self.values.get(name, default)


ENTRY_KINDS: Final[dict[str, Literal["event", "segment", "manual", "when"]]] = {
    "event": "event",
    "segment": "segment",
    "manual": "manual",
    "when": "when",
}
assert set(ENTRY_KINDS) == set(ENTRY_SHAPES), "every entry shape needs a kind"


def _timeout(f: Fields) -> ast.Timeout | None:
    if "within" in f:
        return ast.Timeout("within", f["within"], f.pairs["within"])
    if "until" in f:
        return ast.Timeout("until", f["until"], f.pairs["until"])
    return None


def _wait_for(f: Fields) -> ast.WaitFor:
    return ast.WaitFor(
        f["wait_for"],
        bind=f.get("as"),
        where=f.get("where"),
        timeout=_timeout(f),
        then=f.get("then", ()),
        on_timeout=f.get("timeout", ()),
        id=f.get("id"),
        span=f.span,
    )


def _action(kind: Literal["reward", "action"]) -> Callable[[Fields], ast.Step]:
    return lambda f: ast.Action(
        kind,
        f[kind],
        params=f.get("params", ()),
        id=f.get("id"),
        span=f.span,
    )


def _tag(kind: str) -> Callable[[Fields], ast.Step]:
    return lambda f: ast.Tag(f[kind], remove=kind == "untag", id=f.get("id"), span=f.span)


#: How each step kind's fields become its AST node.
STEP_BUILDERS: Final[dict[str, Callable[[Fields], ast.Step]]] = {
    "send": lambda f: ast.Send(
        f["send"],
        f["channel"],
        category=f.get("category"),
        params=f.get("params", ()),
        fallback=f.get("fallback"),
        id=f.get("id"),
        tags=f.get("tags", ()),
        span=f.span,
    ),
    "wait": lambda f: ast.Wait(f["wait"], id=f.get("id"), span=f.span),
    "wait_until": lambda f: ast.WaitUntil(
        f["wait_until"], id=f.get("id"), span=f.span, next=f.get("next", ())
    ),
    "wait_for": _wait_for,
    "if": lambda f: ast.If(
        f["if"], f.get("then", ()), f.get("else", ()), id=f.get("id"), span=f.span
    ),
    "switch": lambda f: ast.Switch(
        f["switch"], f["cases"], f.get("else", ()), id=f.get("id"), span=f.span
    ),
    "split": lambda f: ast.Split(
        f["split"], f.get("holdout"), id=f.get("id"), draw=f.get("draw", "customer"), span=f.span
    ),
    "wait_first": lambda f: ast.WaitFirst(
        f["wait_first"],
        timeout=_timeout(f),
        on_timeout=f.get("timeout", ()),
        id=f.get("id"),
        span=f.span,
    ),
    "repeat": lambda f: ast.Repeat(
        f["repeat"],
        f["steps"],
        counter=f.get("as"),
        until=f.get("until"),
        id=f.get("id"),
        span=f.span,
    ),
    "parallel": lambda f: ast.Parallel(f["parallel"], f["branches"], f.get("id"), f.span),
    "during": lambda f: ast.During(f["during"], f["handlers"], f.get("id"), f.span),
    "ticket": lambda f: ast.Ticket(
        f["ticket"],
        priority=f.get("priority"),
        payload=f.get("payload", ()),
        id=f.get("id"),
        span=f.span,
        accepted=f.get("accepted"),  # ticket exits (accepted / not accepted)
        not_accepted=f.get("not_accepted"),
    ),
    "update": lambda f: ast.Update(f["update"], f["value"], id=f.get("id"), span=f.span),
    "tag": _tag("tag"),
    "untag": _tag("untag"),
    "reward": reward_from_fields,  # reward budgets (syntax/_rewards.py)
    "action": _action("action"),
    "set": lambda f: ast.Set(f["set"], f["value"], id=f.get("id"), span=f.span),
    "exit": lambda f: ast.Exit(f["exit"], id=f.get("id"), span=f.span),
    "exit_with": lambda f: ast.ExitWith(f["exit_with"], id=f.get("id"), span=f.span),
    # decide: a decision call
    "decide": decide_from_fields,
    # enter: hand-off to another journey
    "enter": enter_from_fields,
    "include": include_from_fields,  # fragments
    "choose": choose_from_fields,  # choose: the offer catalogue
}
assert set(STEP_BUILDERS) == set(STEP_SHAPES), "every step shape needs a builder"

#: How each record shape's fields become a value.
RECORD_BUILDERS: Final[dict[str, Callable[[Fields], Any]]] = {
    "case": lambda f: ast.Case(f["case"], f["steps"], f.span),
    "split arm": lambda f: ast.Arm(f["weight"], f["steps"], f.span),
    "parallel branch": lambda f: ast.ParallelBranch(f["steps"], f.span),
    "during handler": lambda f: _during_handler(f),
    "holdout": lambda f: ast.Arm(f["weight"], f.get("steps", ()), f.span),
    "quiet_hours item": lambda f: ast.QuietHours(f["channels"], f["from"], f["to"], f.span),
    "goal": lambda f: ast.Goal(f["outcome"], f["when"], f.get("where"), f.span, f.get("steps", ())),
    "send_windows item": lambda f: ast.SendWindow(
        f["channels"], f["days"], f["from"], f["to"], f.span
    ),
}


# ---------------------------------------------------------------- during (interrupting handlers)


def _during_handler(f: Fields) -> ast.DuringHandler:
    """A handler as the wait it is: an event's name (with ``as`` and ``where``) or a condition."""
    event: ast.Ident | None = f.get("event")
    if event is None:  # (`as` and `where` are refused on a condition, as for `wait for`)
        wait = ast.WaitFor(
            f["when"],
            where=f.get("where"),
            then=f.get("steps", ()),
            span=f.span,
            bind=f.get("as"),
        )
        return ast.DuringHandler(wait, True, f.span)
    wait = ast.WaitFor(
        ast.Name(event.name, event.span),
        where=f.get("where"),
        then=f.get("steps", ()),
        span=f.span,
        bind=f.get("as"),
    )
    return ast.DuringHandler(wait, False, f.span)
