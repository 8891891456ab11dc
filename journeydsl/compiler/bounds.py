"""How large each journey variable can be at each step: the sizes of ``set`` values, followed
through the steps, so that the checker sees ``set s = s + s`` grow and reports the ``set`` that
takes a value past a limit (JD308) at compile time instead of at run time.

A variable's *bound* is an upper bound of its size (see ``Typed.bound``): a string's length, or
the magnitude of a whole number or an amount. The walk follows the steps in reading order; after
a ``set`` the variable has that value's bound, where branches meet it has the largest of theirs,
and a ``repeat``'s block is followed round after round until the bounds stop growing (or
:data:`ROUNDS` rounds, after which what still grows is taken as unknown). Unknown sizes (a value
read from an event, the profile or a store) are checked at run time only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from journeydsl import ast as A
from journeydsl.diagnostics import Diagnostic, Diagnostics, Span
from journeydsl.expr.checker import Scope, check
from journeydsl.expr.limits import count_nodes
from journeydsl.expr.types import INT

__all__ = ["ROUNDS", "Bounds", "variable_bounds"]

#: What is known of each variable's size at one point: a name not listed is not set yet; None
#: is a size not known at compile time.
Env = Mapping[str, int | None]

#: The rounds of a ``repeat`` followed before a bound still growing is given up as unknown.
ROUNDS = 64
#: Expression nodes checked in all (repeats nested in repeats multiply the rounds); past it,
#: sizes are left to the run-time checks.
BUDGET = 100_000
#: The kinds of value that have a size.
_SIZED = ("string", "enum", "int", "decimal", "money", "list")


@dataclass(slots=True)
class Bounds:
    """The bounds before each step (by ``id()`` of the AST step) and the JD308 diagnostics that
    following the ``set`` statements found (the lowering reports the same ones again where it
    sees them; :meth:`add_to` keeps one of each)."""

    at: dict[int, Env] = field(default_factory=dict)
    found: dict[Span, Diagnostic] = field(default_factory=dict)

    def before(self, step: A.Step) -> Env:
        """The bounds of the variables just before ``step`` runs."""
        return self.at.get(id(step), {})

    def add_to(self, diags: Diagnostics) -> None:
        """Add the diagnostics found here that ``diags`` does not have yet."""
        have = {(d.code, d.span) for d in diags.items}
        diags.extend(d for d in self.found.values() if (d.code, d.span) not in have)


def _join(a: Env, b: Env) -> Env:
    out = dict(a)
    for name, bound in b.items():
        if name not in out:
            out[name] = bound
        else:
            mine = out[name]
            out[name] = None if mine is None or bound is None else max(mine, bound)
    return out


class _Walk:
    def __init__(self, scope: Scope) -> None:
        self.scope = scope
        self.out = Bounds()
        self.left = BUDGET
        self.sizes: dict[int, int] = {}

    def value(self, var: str, expr: A.Expr, env: Env) -> int | None:
        t = self.scope.variables.get(var)
        if t is None or t.kind not in _SIZED:
            return None
        cost = self.sizes.get(id(expr))
        if cost is None:
            cost = self.sizes[id(expr)] = count_nodes(expr)
        if cost > self.left:
            return None
        self.left -= cost
        diags = Diagnostics()
        bound = check(expr, replace(self.scope, diags=diags, bounds=env)).bound
        for d in diags.items:
            if d.code == "JD308":
                self.out.found.setdefault(d.span, d)
        return bound

    def block(self, steps: A.Steps, env: Env, record: bool) -> Env:
        for s in steps:
            env = self.step(s, env, record)
        return env

    def step(self, s: A.Step, env: Env, record: bool) -> Env:
        if record:
            self.out.at[id(s)] = env
        match s:
            case A.Set():
                return {**env, s.var.name: self.value(s.var.name, s.value, env)}
            case A.If():
                return _join(self.block(s.then, env, record), self.block(s.otherwise, env, record))
            case A.WaitFor():
                return _join(self.block(s.then, env, record), self.block(s.on_timeout, env, record))
            case A.WaitFirst():
                out = self.block(s.on_timeout, env, record)
                for b in s.branches:
                    out = _join(out, self.block(b.steps, env, record))
                return out
            case A.Switch():
                out = self.block(s.otherwise, env, record)
                for case in s.cases:
                    out = _join(out, self.block(case.steps, env, record))
                return out
            case A.Split():
                out = self.block(s.holdout.steps, env, record) if s.holdout else {}
                for arm in s.arms:
                    out = _join(out, self.block(arm.steps, env, record))
                return out
            case A.Repeat():
                return self.repeat(s, env, record)
        return env

    def repeat(self, s: A.Repeat, env: Env, record: bool) -> Env:
        counter = s.counter.name if s.counter is not None else None
        head = {**env, counter: s.max} if counter is not None else dict(env)
        outer = self.scope
        if counter is not None:
            self.scope = replace(outer, variables={**outer.variables, counter: INT})
        for _ in range(min(s.max, ROUNDS)):
            grown = _join(head, self.block(s.steps, head, False))
            if grown == head:
                break
            if self.left <= 0:
                head = {k: (v if head.get(k, v) == v else None) for k, v in grown.items()}
                break
            head = dict(grown)
        else:
            if s.max > ROUNDS:  # rounds not followed: what still grows may grow past anything
                grown = _join(head, self.block(s.steps, head, False))
                head = {k: (v if head.get(k, v) == v else None) for k, v in grown.items()}
        if record:
            self.out.at[id(s)] = head
            self.block(s.steps, head, True)
        self.scope = outer
        if counter is not None:
            head.pop(counter)
            if counter in env:
                head[counter] = env[counter]
        return head


def variable_bounds(steps: A.Steps, scope: Scope) -> Bounds:
    """Follow ``steps`` and give the bounds of the journey's variables before each step, with the
    JD308 diagnostics of ``set`` values past a limit. ``scope`` types the variables; its
    diagnostics are not written to."""
    walk = _Walk(scope)
    walk.block(steps, {}, True)
    return walk.out
