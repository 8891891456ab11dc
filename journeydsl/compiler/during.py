"""Lowering of ``during { body } on EVENT { handler } …``: an interrupting handler.

A ``during`` block is a ``parallel first`` block in the graph and at run time: its leading
branches are the handlers, each a ``wait for`` of its event (or condition) whose ``then`` is the
handler's steps, and its last branch is the body. So it inherits the fork and join of
``parallel``: durable per-branch waits, exactly-once effects, migration branch by branch.

What that gives, and the checks that make it hold:

- The handlers are written first in the fork, so at one instant a handler's event is offered to
  the handlers before the body: a handler wins over a body that waits for the same event.
- A handler's steps run at the instant its event arrives and cannot wait (JD105; nor ask a
  decision that may retry, nor open a ticket with exits, which wait too): the handler
  reaches the join at that same instant, and the body is cancelled where it waits. So "the body
  is cancelled when the handler's event arrives, right after the handler's steps ran".
- The body ending first drops the handlers. A body that never waits ends at once, so its
  handlers could never run (JD802).
- No ``parallel`` or ``during`` inside (JD804), and no ticket with exits in the body (JD805),
  as for ``parallel``.
- A handler that repeats an earlier one (the same event and ``where``, or the same condition)
  could never run (JD507), as for the branches of ``wait first``.
- A handler's wait has no timeout by design: it lasts as long as the body (no JD503).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from journeydsl import ast as A
from journeydsl import ir
from journeydsl.expr.checker import Scope
from journeydsl.syntax._print_expr import print_expr

if TYPE_CHECKING:
    from journeydsl.compiler.lower import _Lowerer

__all__ = ["handler_head", "hidden_wait", "lower_during"]

_WAITING = (A.Wait, A.WaitUntil, A.WaitFor, A.WaitFirst)


def lower_during(lw: _Lowerer, s: A.During, nid: str, nxt: str | None, scope: Scope) -> str:
    """The :class:`ir.Parallel` fork of ``s`` (handlers first, then the body) and its join."""
    join_id = f"{nid}.join"
    _check(lw, s, scope)
    starts = [lw.lower_step(h.wait, join_id, scope) or join_id for h in s.handlers]
    body = lw.lower_steps(s.body, join_id, scope) or join_id
    lw.add(ir.Join(join_id, s.span, nid, "first", nxt))
    heads = tuple(handler_head(h) for h in s.handlers)
    return lw.add(ir.Parallel(nid, s.span, "first", (*starts, body), join_id, heads))


def handler_head(h: A.DuringHandler) -> str:
    """``on EVENT`` or ``when CONDITION``: how the graph labels a handler's edge."""
    return f"{'when' if h.condition else 'on'} {print_expr(h.wait.target)}"


def hidden_wait(step: A.Step) -> str | None:
    """Why ``step`` may wait though it is no wait step, or None: a ticket with exits waits for
    its queue's decision, and a decision that may retry waits between its attempts."""
    if isinstance(step, A.Ticket) and step.waits:
        return "a ticket with `accepted` / `not accepted` exits waits for its queue's decision"
    if isinstance(step, A.Decide) and step.retry != 0:
        return "a `decide` that may retry waits between its attempts, and it retries by default"
    return None


def _check(lw: _Lowerer, s: A.During, scope: Scope) -> None:
    from journeydsl.compiler.steps import _walk

    events = lw.catalog.events
    seen: dict[str, int] = {}
    for n, h in enumerate(s.handlers, 1):
        target = h.wait.target
        where = f" where {print_expr(h.wait.where)}" if h.wait.where is not None else ""
        key = f"{handler_head(h)}{where}"
        if key in seen:
            lw.diags.error(
                "JD507",
                f"this handler repeats handler {seen[key]} (`{key}`): the earlier one always "
                "wins, so it can never run",
                h.span,
                "remove it, or give it another event, `where` or condition",
            )
        seen.setdefault(key, n)
        if not h.condition and isinstance(target, A.Name) and target.name in scope.variables:
            lw.diags.error(
                "JD201",
                f"`on` takes an event; '{target.name}' is a variable",
                target.span,
                f"to wait for it to be true, write `when {target.name}`",
            )
        elif h.condition and isinstance(target, A.Name) and target.name in events:
            lw.diags.error(
                "JD105",
                f"`when` takes a condition; '{target.name}' is an event",
                target.span,
                f"write `on {target.name}`",
            )
        for step in _walk(h.wait.then):
            why = hidden_wait(step)
            if isinstance(step, _WAITING) or why:
                lw.diags.error(
                    "JD105",
                    "a handler's steps run at the instant its event arrives, and then the body "
                    "is cancelled: they cannot wait" + (f" ({why})" if why else ""),
                    step.span,
                    "set a variable in the handler and wait after the during block"
                    if not isinstance(step, A.Decide)
                    else "ask once in a handler (`retry 0`), or decide after the during block",
                )
    for step in _walk(s.body):
        if isinstance(step, A.Ticket) and step.waits:
            lw.diags.error(
                "JD805",
                "a ticket with `accepted` / `not accepted` exits cannot be inside a during block "
                "(it waits for its queue's decision, and a handler would cancel the body there "
                "while the ticket still goes to the queue)",
                step.span,
                "open the ticket before the block or after it, or drop its exits",
            )
    for step in _walk((*s.body, *(h.wait for h in s.handlers))):
        if isinstance(step, A.Parallel | A.During):
            kind = "parallel" if isinstance(step, A.Parallel) else "during"
            lw.diags.error(
                "JD804",
                f"a {kind} block cannot be inside a during block",
                step.span,
                "run it before or after the during block",
            )
    if not any(isinstance(x, _WAITING) for x in _walk(s.body)):
        lw.diags.error(
            "JD802",
            "the handlers of this during block can never run: its body never waits, so it "
            "ends at once and the handlers are dropped",
            s.span,
            "give the body a wait (e.g. `wait 30d`), or write its steps without `during`",
        )
