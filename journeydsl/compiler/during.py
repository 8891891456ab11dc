"""Lowering of ``during { body } on EVENT { handler } …``: an interrupting handler.

A ``during`` block is a ``parallel first`` block in the graph and at run time: its leading
branches are the handlers, each a ``wait for`` of its event (or condition) whose ``then`` is the
handler's steps, and its last branch is the body. So it inherits the fork and join of
``parallel``: durable per-branch waits, exactly-once effects, migration branch by branch.

What that gives, and the checks that make it hold:

- The handlers are written first in the fork, so at one instant a handler's event is offered to
  the handlers before the body: a handler wins over a body that waits for the same event.
- A handler's steps run at the instant its event arrives and cannot wait (JD105): the handler
  reaches the join at that same instant, and the body is cancelled where it waits. So "the body
  is cancelled when the handler's event arrives, right after the handler's steps ran".
- The body ending first drops the handlers. A body that never waits ends at once, so its
  handlers could never run (JD802).
- No ``parallel`` or ``during`` inside (JD804), as for ``parallel``.
- A handler's wait has no timeout by design: it lasts as long as the body (no JD503).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from journeydsl import ast as A
from journeydsl import ir
from journeydsl.expr.checker import Scope

if TYPE_CHECKING:
    from journeydsl.compiler.lower import _Lowerer

__all__ = ["handler_head", "lower_during"]

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
    from journeydsl.syntax._print_expr import print_expr

    return f"{'when' if h.condition else 'on'} {print_expr(h.wait.target)}"


def _check(lw: _Lowerer, s: A.During, scope: Scope) -> None:
    from journeydsl.compiler.steps import _walk

    events = lw.catalog.events
    for h in s.handlers:
        target = h.wait.target
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
            if isinstance(step, _WAITING):
                lw.diags.error(
                    "JD105",
                    "a handler's steps run at the instant its event arrives, and then the body "
                    "is cancelled: they cannot wait",
                    step.span,
                    "set a variable in the handler and wait after the during block",
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
        elif isinstance(step, A.Break):
            lw.diags.error(
                "JD105",
                f"`{step.kind}` cannot leave a during block",
                step.span,
                "set a variable, and break after the during block",
            )
    if not any(isinstance(x, _WAITING) for x in _walk(s.body)):
        lw.diags.error(
            "JD802",
            "the handlers of this during block can never run: its body never waits, so it "
            "ends at once and the handlers are dropped",
            s.span,
            "give the body a wait (e.g. `wait 30d`), or write its steps without `during`",
        )
