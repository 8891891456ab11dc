"""The DSL tree walk: lark's parse tree to :mod:`journeydsl.ast` nodes.

:class:`Builder` places every node's span in the file (moved by an origin for expressions embedded
in YAML), checks what lark cannot (string escapes, whole-number split weights, absurdly long
numbers, the header's one entry and no repeats) and bounds the nesting depth so later stages,
which walk the AST recursively, stay clear of Python's recursion limit.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from typing import Final, Literal, TypeAlias

from lark import Token, Tree

from journeydsl import ast
from journeydsl.diagnostics import Diagnostics, Span
from journeydsl.syntax._choose import build_choose
from journeydsl.syntax._decide import build_decide
from journeydsl.syntax._enter import build_enter
from journeydsl.syntax._fragment import build_include
from journeydsl.syntax._numbers import recovered_weights, split_weight, whole_number
from journeydsl.syntax._rewards import budget_fields

__all__ = ["MAX_DEPTH", "Builder", "TooDeepError"]

_Node: TypeAlias = "Tree[Token] | Token | None"

_ESCAPES: Final = {"\\": "\\", '"': '"', "'": "'", "n": "\n", "t": "\t"}
_ESCAPE_RE: Final = re.compile(r"\\(.)", re.DOTALL)
#: Deeper nesting than this is never written by hand; refusing it keeps every later stage (which
#: walks the AST recursively) clear of Python's recursion limit.
MAX_DEPTH: Final = 150


class TooDeepError(Exception):
    """Raised inside the tree walk when nesting passes :data:`MAX_DEPTH`, at ``span``: the
    node one level too deep."""

    def __init__(self, span: Span) -> None:
        super().__init__(span)
        self.span = span


# --------------------------------------------------------------------------- tree walk


def _tree(node: _Node) -> Tree[Token]:
    assert isinstance(node, Tree), node
    return node


def _tok(node: _Node) -> Token:
    assert isinstance(node, Token), node
    return node


def _kids(t: Tree[Token]) -> list[Tree[Token] | Token]:
    """The children without the None placeholders lark leaves for an absent ``[...]``."""
    return [c for c in t.children if c is not None]


def _trees(t: Tree[Token], *names: str) -> list[Tree[Token]]:
    return [c for c in t.children if isinstance(c, Tree) and c.data in names]


def _one(t: Tree[Token], *names: str) -> Tree[Token] | None:
    found = _trees(t, *names)
    return found[0] if found else None


# fmt: off
#: The named sub-rules of steps and aggregates; every other child tree is an expression.
_SUB_RULES: Final = frozenset({
    "block", "on_timeout", "timeout_within", "timeout_until", "params", "category",
    "fallback_chain", "fallback_none", "label", "case", "arm", "holdout", "else_if",
    "entry_key", "reentry_once", "reentry_always", "reentry_after", "by_count", "by_sum",
    "agg_where", "window_since", "window_last", "agg_default", "agg_func",
    "send_tags", "draw_per_entry", "draw_per_customer", "first_on", "first_when",
    "first_timeout", "par_branch", "wait_bind", "goal_then", "during_on", "during_when",
    "ticket_accepted", "ticket_not_accepted",
    "enter_with", "enter_not_entered",  # enter: hand-off to another journey
})
# fmt: on


def _exprs(t: Tree[Token]) -> list[Tree[Token]]:
    """The children of ``t`` that are expressions (every other child is a named sub-rule)."""
    return [c for c in t.children if isinstance(c, Tree) and c.data not in _SUB_RULES]


_BOUNDS: Final = ("schedule_from", "schedule_until")


class Builder:
    """Turns lark trees into AST nodes, placing spans in the file and collecting diagnostics."""

    def __init__(self, file: str, dline: int, dcol: int, diags: Diagnostics, code: str) -> None:
        self.file = file
        self.dline = dline
        self.dcol = dcol
        self.diags = diags
        self.syntax_code = code
        self.depth = 0

    # ---------------------------------------------------------------- spans

    def place(self, line: int, column: int, end_line: int, end_column: int) -> Span:
        """A span at text position → the same span in the file (moved by the origin given to
        :func:`~journeydsl.syntax.parser.parse_expression`)."""
        if line == 1:
            column += self.dcol
        if end_line == 1:
            end_column += self.dcol
        return Span(self.file, line + self.dline, column, end_line + self.dline, end_column)

    def point(self, line: int, column: int) -> Span:
        """A one-character span at a text position."""
        return self.place(line, column, line, column + 1)

    def token_span(self, tok: Token) -> Span:
        """The span of a token."""
        line = tok.line or 1
        column = tok.column or 1
        return self.place(line, column, tok.end_line or line, tok.end_column or column + 1)

    def span(self, t: Tree[Token]) -> Span:
        """The span of a tree (lark's meta includes the keywords the tree filtered out)."""
        m = t.meta
        if m.empty:
            return self.point(1, 1)
        return self.place(m.line, m.column, m.end_line, m.end_column)

    def ident(self, node: _Node) -> ast.Ident:
        """An identifier from a NAME token."""
        tok = _tok(node)
        return ast.Ident(str(tok.value), self.token_span(tok))

    def int_of(self, digits: str, span: Span, what: str, instead: int) -> int:
        """A non-negative int from digits, reporting absurdly long ones (JD105, as YAML does:
        :func:`~journeydsl.syntax._numbers.whole_number`). A refused number reads as
        ``instead``, a value every later check accepts, so the mistake is reported once."""
        n = whole_number(digits, what, span, self.diags)
        return instead if n is None else n

    # ---------------------------------------------------------------- expressions

    def expr(self, node: _Node) -> ast.Expr:
        """An expression node."""
        if isinstance(node, Token):  # never produced by the grammar, but keep the walk total
            return ast.Name(str(node.value), self.token_span(node))
        t = _tree(node)
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise TooDeepError(self.span(t))
        try:
            return _EXPR_BUILDERS[str(t.data)](self, t, self.span(t))
        finally:
            self.depth -= 1

    def opt_expr(self, node: _Node | Tree[Token]) -> ast.Expr | None:
        """An expression, or None for an absent one."""
        return None if node is None else self.expr(node)

    def x_number(self, t: Tree[Token], s: Span) -> ast.Expr:
        return ast.NumberLit(str(_tok(t.children[0]).value), s)

    def x_money(self, t: Tree[Token], s: Span) -> ast.Expr:
        text = str(_tok(t.children[0]).value)
        return ast.MoneyLit(text[:-3].rstrip(), text[-3:], s)

    def x_duration(self, t: Tree[Token], s: Span) -> ast.Expr:
        # The unit is checked by the type checker (JD107), which sees both spellings.
        return ast.DurationLit(str(_tok(t.children[0]).value), s)

    def x_time(self, t: Tree[Token], s: Span) -> ast.Expr:
        return self.time_lit(_tok(t.children[0]))

    def x_date(self, t: Tree[Token], s: Span) -> ast.Expr:
        return ast.DateLit(str(_tok(t.children[0]).value), s)

    def x_timestamp(self, t: Tree[Token], s: Span) -> ast.Expr:
        return ast.TimestampLit(str(_tok(t.children[0]).value), s)

    def time_lit(self, tok: Token) -> ast.TimeLit:
        """A time of day; its range is checked by the type checker (JD108)."""
        return ast.TimeLit(str(tok.value), self.token_span(tok))

    def x_string(self, t: Tree[Token], s: Span) -> ast.Expr:
        return self.string_lit(_tok(t.children[0]))

    def string_lit(self, tok: Token) -> ast.StringLit:
        """A string literal without its quotes, escapes resolved."""
        span = self.token_span(tok)
        body = str(tok.value)[1:-1]
        if "\\" not in body:
            return ast.StringLit(body, span)

        def unescape(m: re.Match[str]) -> str:
            char = m.group(1)
            if char in _ESCAPES:
                return _ESCAPES[char]
            self.diags.error(
                self.syntax_code,
                f"unknown escape '\\{char}' in a string",
                span,
                "the escapes are \\\\ \\\" \\' \\n and \\t; write \\\\ for a backslash",
            )
            return m.group(0)

        return ast.StringLit(_ESCAPE_RE.sub(unescape, body), span)

    def x_true(self, t: Tree[Token], s: Span) -> ast.Expr:
        return ast.BoolLit(True, s)

    def x_false(self, t: Tree[Token], s: Span) -> ast.Expr:
        return ast.BoolLit(False, s)

    def x_name(self, t: Tree[Token], s: Span) -> ast.Expr:
        return ast.Name(str(_tok(t.children[0]).value), s)

    def x_entry_anchor(self, t: Tree[Token], s: Span) -> ast.Expr:
        return ast.Name("entry", s)

    def x_attr(self, t: Tree[Token], s: Span) -> ast.Expr:
        obj, name = t.children
        return ast.Attr(self.expr(obj), str(_tok(name).value), s)

    def x_call(self, t: Tree[Token], s: Span) -> ast.Expr:
        func, *args = _kids(t)
        return ast.Call(str(_tok(func).value), tuple(self.expr(a) for a in args), s)

    def x_list(self, t: Tree[Token], s: Span) -> ast.Expr:
        return ast.ListExpr(tuple(self.expr(a) for a in _kids(t)), s)

    def x_neg(self, t: Tree[Token], s: Span) -> ast.Expr:
        return ast.Unary("-", self.expr(t.children[0]), s)

    def x_not_(self, t: Tree[Token], s: Span) -> ast.Expr:
        return ast.Unary("not", self.expr(t.children[0]), s)

    def x_binop(self, t: Tree[Token], s: Span) -> ast.Expr:
        left, op, right = t.children
        return ast.Binary(str(_tok(op).value), self.expr(left), self.expr(right), s)

    x_compare = x_binop

    def _binary(self, op: str, t: Tree[Token], s: Span) -> ast.Expr:
        left, right = t.children
        return ast.Binary(op, self.expr(left), self.expr(right), s)

    def x_in_(self, t: Tree[Token], s: Span) -> ast.Expr:
        return self._binary("in", t, s)

    def x_and_(self, t: Tree[Token], s: Span) -> ast.Expr:
        return self._binary("and", t, s)

    def x_or_(self, t: Tree[Token], s: Span) -> ast.Expr:
        return self._binary("or", t, s)

    def x_cond(self, t: Tree[Token], s: Span) -> ast.Expr:
        test, then, otherwise = t.children
        return ast.Cond(self.expr(test), self.expr(then), self.expr(otherwise), s)

    def x_aggregate(self, t: Tree[Token], s: Span) -> ast.Expr:
        func = _tok(_tree(t.children[0]).children[0])
        by: ast.By | None = None
        if (b := _one(t, "by_count")) is not None:
            by = ast.By("count", None, self.span(b))
        elif (b := _one(t, "by_sum")) is not None:
            by = ast.By("sum", self.expr(b.children[0]), self.span(b))
        where = _one(t, "agg_where")
        default = _one(t, "agg_default")
        return ast.Aggregate(
            str(func.value),
            self.expr(t.children[1]),
            by=by,
            where=None if where is None else self.expr(where.children[0]),
            window=self.window(_one(t, "window_since", "window_last")),
            default=None if default is None else self.expr(default.children[0]),
            span=s,
        )

    def window(self, t: Tree[Token] | None) -> ast.Window | None:
        """``since ANCHOR [within D]`` or ``in last D``."""
        if t is None:
            return None
        if t.data == "window_last":
            return ast.Window("last", None, self.expr(t.children[1]), self.span(t))
        within = t.children[1] if len(t.children) > 1 else None
        return ast.Window("since", self.expr(t.children[0]), self.opt_expr(within), self.span(t))

    # ---------------------------------------------------------------- steps

    def block(self, t: Tree[Token] | None) -> ast.Steps:
        """The steps of a ``{ ... }`` block (none when the block is absent)."""
        if t is None:
            return ()
        return tuple(self.stmt(s) for s in _trees(t, "stmt"))

    def stmt(self, t: Tree[Token]) -> ast.Step:
        """A step with its optional label; its span covers the label too."""
        label = _one(t, "label")
        ident = None if label is None else self.ident(label.children[0])
        return self.step(_tree(t.children[-1]), ident, self.span(t))

    def step(self, t: Tree[Token], ident: ast.Ident | None, s: Span) -> ast.Step:
        """A step node of kind ``t.data``."""
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise TooDeepError(s)
        try:
            return _STEP_BUILDERS[str(t.data)](self, t, ident, s)
        finally:
            self.depth -= 1

    def params(self, t: Tree[Token] | None) -> tuple[ast.Param, ...]:
        """``{ name: expr, ... }``."""
        if t is None:
            return ()
        return tuple(
            ast.Param(self.ident(p.children[0]), self.expr(p.children[1]), self.span(p))
            for p in _trees(t, "param")
        )

    def s_send(self, t: Tree[Token], ident: ast.Ident | None, s: Span) -> ast.Step:
        category = _one(t, "category")
        tags = _one(t, "send_tags")
        fallback: tuple[ast.Ident, ...] | None = None
        if (chain := _one(t, "fallback_chain")) is not None:
            fallback = tuple(self.ident(c) for c in chain.children)
        elif _one(t, "fallback_none") is not None:
            fallback = ()  # `fallback none`: this send must not fall back at all
        return ast.Send(
            template=self.ident(t.children[1]),
            channel=self.ident(t.children[0]),
            category=None if category is None else self.ident(category.children[0]),
            params=self.params(_one(t, "params")),
            fallback=fallback,
            id=ident,
            tags=tuple(self.ident(c) for c in tags.children) if tags is not None else (),
            span=s,
        )

    def s_wait_first(self, t: Tree[Token], ident: ast.Ident | None, s: Span) -> ast.Step:
        branches = []
        for b in _trees(t, "first_on", "first_when"):
            steps = self.block(_one(b, "block"))
            if b.data == "first_on":
                where = _exprs(b)
                branches.append(
                    ast.FirstBranch(
                        event=self.ident(b.children[0]),
                        where=self.expr(where[0]) if where else None,
                        steps=steps,
                        span=self.span(b),
                    )
                )
            else:
                cond = self.expr(_exprs(b)[0])
                branches.append(ast.FirstBranch(condition=cond, steps=steps, span=self.span(b)))
        on_timeout = _one(t, "first_timeout")
        return ast.WaitFirst(
            tuple(branches),
            timeout=self.timeout(t),
            on_timeout=() if on_timeout is None else self.block(_one(on_timeout, "block")),
            id=ident,
            span=s,
        )

    def timeout(self, t: Tree[Token]) -> ast.Timeout | None:
        """The ``within`` / ``until`` of a wait, if it has one."""
        if (tt := _one(t, "timeout_within", "timeout_until")) is None:
            return None
        kind: Literal["within", "until"] = "within" if tt.data == "timeout_within" else "until"
        return ast.Timeout(kind, self.expr(tt.children[0]), self.span(tt))

    def s_wait(self, t: Tree[Token], ident: ast.Ident | None, s: Span) -> ast.Step:
        return ast.Wait(self.expr(t.children[0]), ident, s)

    def s_wait_until(self, t: Tree[Token], ident: ast.Ident | None, s: Span) -> ast.Step:
        return ast.WaitUntil(self.expr(t.children[0]), ident, s)

    def s_wait_for(self, t: Tree[Token], ident: ast.Ident | None, s: Span) -> ast.Step:
        target, *where = _exprs(t)
        timeout = self.timeout(t)
        on_timeout = _one(t, "on_timeout")
        bind = _one(t, "wait_bind")
        return ast.WaitFor(
            bind=None if bind is None else self.ident(bind.children[0]),
            target=self.expr(target),
            where=self.expr(where[0]) if where else None,
            timeout=timeout,
            then=self.block(_one(t, "block")),
            on_timeout=() if on_timeout is None else self.block(_tree(on_timeout.children[0])),
            id=ident,
            span=s,
        )

    def s_if_stmt(self, t: Tree[Token], ident: ast.Ident | None, s: Span) -> ast.Step:
        otherwise: ast.Steps = ()
        if len(t.children) > 2:
            other = _tree(t.children[2])
            if other.data == "else_if":
                inner = _tree(other.children[0])
                otherwise = (self.step(inner, None, self.span(inner)),)
            else:
                otherwise = self.block(other)
        return ast.If(
            self.expr(t.children[0]), self.block(_tree(t.children[1])), otherwise, ident, s
        )

    def s_switch(self, t: Tree[Token], ident: ast.Ident | None, s: Span) -> ast.Step:
        cases = tuple(
            ast.Case(
                tuple(self.expr(v) for v in c.children[:-1]),
                self.block(_tree(c.children[-1])),
                self.span(c),
            )
            for c in _trees(t, "case")
        )
        return ast.Switch(self.expr(t.children[0]), cases, self.block(_one(t, "block")), ident, s)

    def s_split(self, t: Tree[Token], ident: ast.Ident | None, s: Span) -> ast.Step:
        arms = _trees(t, "arm")
        h = _one(t, "holdout")
        tokens = [_tok(a.children[0]) for a in [*arms, *([h] if h is not None else [])]]
        weights = recovered_weights(
            [split_weight(str(tok.value), self.token_span(tok), self.diags) for tok in tokens]
        )
        built = tuple(
            ast.Arm(w, self.block(_one(a, "block")), self.span(a))
            for w, a in zip(weights[: len(arms)], arms, strict=True)
        )
        holdout = None
        if h is not None:
            holdout = ast.Arm(weights[-1], self.block(_one(h, "block")), self.span(h))
        draw: Literal["customer", "entry"] = "customer"
        if _one(t, "draw_per_entry") is not None:
            draw = "entry"
        return ast.Split(built, holdout, ident, draw, s)

    def s_repeat(self, t: Tree[Token], ident: ast.Ident | None, s: Span) -> ast.Step:
        tokens = [c for c in t.children if isinstance(c, Token)]
        counter = next((self.ident(c) for c in tokens if c.type == "NAME"), None)
        limit = next(c for c in tokens if c.type == "INT")
        until = _exprs(t)
        return ast.Repeat(
            max=self.int_of(str(limit.value), self.token_span(limit), "repeat max", 1),
            steps=self.block(_one(t, "block")),
            counter=counter,
            until=self.expr(until[0]) if until else None,
            id=ident,
            span=s,
        )

    # ------------------------------------------------------------ parallel (concurrent paths)

    def s_parallel(self, t: Tree[Token], ident: ast.Ident | None, s: Span) -> ast.Step:
        join: Literal["all", "first"] = "first" if str(t.children[0]) == "first" else "all"
        branches = tuple(
            ast.ParallelBranch(self.block(_one(b, "block")), self.span(b))
            for b in _trees(t, "par_branch")
        )
        return ast.Parallel(join, branches, ident, s)

    # ------------------------------------------------------------ during (interrupting handlers)

    def s_during(self, t: Tree[Token], ident: ast.Ident | None, s: Span) -> ast.Step:
        handlers = []
        for h in _trees(t, "during_on", "during_when"):
            span, steps = self.span(h), self.block(_one(h, "block"))
            if h.data == "during_on":
                bind, where = _one(h, "wait_bind"), _exprs(h)
                event = self.ident(h.children[0])
                wait = ast.WaitFor(
                    ast.Name(event.name, event.span),
                    where=self.expr(where[0]) if where else None,
                    then=steps,
                    span=span,
                    bind=None if bind is None else self.ident(bind.children[0]),
                )
                handlers.append(ast.DuringHandler(wait, False, span))
            else:
                wait = ast.WaitFor(self.expr(_exprs(h)[0]), then=steps, span=span)
                handlers.append(ast.DuringHandler(wait, True, span))
        return ast.During(self.block(_one(t, "block")), tuple(handlers), ident, s)

    def s_ticket(self, t: Tree[Token], ident: ast.Ident | None, s: Span) -> ast.Step:
        priority = _exprs(t)
        return ast.Ticket(
            queue=self.ident(t.children[0]),
            priority=self.expr(priority[0]) if priority else None,
            payload=self.params(_one(t, "params")),
            id=ident,
            span=s,
            accepted=self.exit_block(_one(t, "ticket_accepted")),
            not_accepted=self.exit_block(_one(t, "ticket_not_accepted")),
        )

    def exit_block(self, t: Tree[Token] | None) -> ast.Steps | None:
        """A ticket's ``accepted { … }`` or ``not accepted { … }`` block (None when absent)."""
        return None if t is None else self.block(_one(t, "block"))

    def s_update(self, t: Tree[Token], ident: ast.Ident | None, s: Span) -> ast.Step:
        return ast.Update(self.ident(t.children[0]), self.expr(t.children[1]), ident, s)

    def s_tag(self, t: Tree[Token], ident: ast.Ident | None, s: Span) -> ast.Step:
        return ast.Tag(self.ident(t.children[0]), False, ident, s)

    def s_untag(self, t: Tree[Token], ident: ast.Ident | None, s: Span) -> ast.Step:
        return ast.Tag(self.ident(t.children[0]), True, ident, s)

    def s_reward(self, t: Tree[Token], ident: ast.Ident | None, s: Span) -> ast.Step:
        name = self.ident(t.children[0])
        params = self.params(_one(t, "params"))
        return ast.Action("reward", name, params, ident, s, **budget_fields(self, t))  # budgets

    def s_action(self, t: Tree[Token], ident: ast.Ident | None, s: Span) -> ast.Step:
        name = self.ident(t.children[0])
        return ast.Action("action", name, self.params(_one(t, "params")), ident, s)

    def s_set(self, t: Tree[Token], ident: ast.Ident | None, s: Span) -> ast.Step:
        return ast.Set(self.ident(t.children[0]), self.expr(t.children[1]), ident, s)

    def s_exit(self, t: Tree[Token], ident: ast.Ident | None, s: Span) -> ast.Step:
        return ast.Exit(self.ident(t.children[0]), ident, s)

    # exit with a computed outcome
    def s_exit_with(self, t: Tree[Token], ident: ast.Ident | None, s: Span) -> ast.Step:
        return ast.ExitWith(self.expr(_exprs(t)[0]), ident, s)

    # break and continue in a repeat
    def s_loop_break(self, t: Tree[Token], ident: ast.Ident | None, s: Span) -> ast.Step:
        return ast.Break("break", ident, s)

    def s_loop_continue(self, t: Tree[Token], ident: ast.Ident | None, s: Span) -> ast.Step:
        return ast.Break("continue", ident, s)

    # decide: a decision call (journeydsl/syntax/_decide.py)
    s_decide = build_decide
    # enter: hand-off to another journey (journeydsl/syntax/_enter.py)
    s_enter = build_enter
    s_include = build_include  # fragments (journeydsl/syntax/_fragment.py)

    s_choose_offer = build_choose  # choose: the offer catalogue (syntax/_choose.py)

    # ---------------------------------------------------------------- journey

    def journey(self, t: Tree[Token]) -> ast.Journey:
        """The whole journey: name, version, header lines and steps."""
        name = self.ident(t.children[0])
        version = 1
        if (v := _one(t, "version")) is not None:
            tok = _tok(v.children[0])
            version = self.int_of(str(tok.value), self.token_span(tok), "version", 1)
        h = _Header()
        for child in t.children:
            if isinstance(child, Tree) and child.data in _HEADER_BUILDERS:
                _HEADER_BUILDERS[str(child.data)](self, child, h)
        if h.entry is None:
            self.diags.error(
                "JD104",
                f"journey '{name.name}' has no entry; add e.g. `entry on card_issued`",
                name.span,
                "`entry on EVENT`, `entry segment CONDITION daily at 09:00` or `entry manual`",
            )
        return ast.Journey(
            name=name,
            version=version,
            # A stand-in keeps the journey usable for later checks; JD104 is already reported.
            entry=h.entry or ast.Entry("manual", span=name.span),
            steps=self.block(t),
            title=h.title,
            events_catalog=h.events,
            templates_catalog=h.templates,
            timezone=h.timezone,
            outcomes=h.outcomes,
            quiet_hours=tuple(h.quiet_hours),
            fallback=tuple(h.fallback),
            goals=tuple(h.goals),
            stale_after=h.stale_after,
            send_windows=tuple(h.send_windows),
            params=tuple(h.params),
            span=self.span(t),
        )

    def once(self, h: _Header, key: str, t: Tree[Token]) -> bool:
        """Record a header that may appear once; report a repeat (JD106) and return False."""
        first = h.seen.get(key)
        if first is None:
            h.seen[key] = self.span(t)
            return True
        self.diags.error(
            "JD106",
            f"'{key}' is given twice",
            self.span(t),
            f"a journey has one '{key}'; the first is at line {first.line}",
        )
        return False

    def h_title(self, t: Tree[Token], h: _Header) -> None:
        if self.once(h, "title", t):
            h.title = self.string_lit(_tok(t.children[0])).value

    def h_uses(self, t: Tree[Token], h: _Header) -> None:
        kind = str(_tok(_tree(t.children[0]).children[0]).value)
        if self.once(h, f"uses {kind}", t):
            catalog = self.string_lit(_tok(t.children[1]))
            if kind == "events":
                h.events = catalog
            else:
                h.templates = catalog

    def h_timezone(self, t: Tree[Token], h: _Header) -> None:
        if self.once(h, "timezone", t):
            h.timezone = self.string_lit(_tok(t.children[0]))

    def h_outcomes(self, t: Tree[Token], h: _Header) -> None:
        if self.once(h, "outcomes", t):
            h.outcomes = tuple(self.ident(c) for c in t.children)

    def h_entry(self, t: Tree[Token], h: _Header) -> None:
        if not self.once(h, "entry", t):
            return
        how = _tree(t.children[0])
        s = self.span(t)
        key_tree = _one(t, "entry_key")
        key = None if key_tree is None else self.expr(key_tree.children[0])
        reentry = self.reentry(_one(t, "reentry_once", "reentry_always", "reentry_after"), s)
        if how.data == "entry_event":
            where = how.children[1] if len(how.children) > 1 else None
            event = self.ident(how.children[0])
            h.entry = ast.Entry(
                "event", event=event, where=self.opt_expr(where), reentry=reentry, key=key, span=s
            )
        elif how.data == "entry_segment":
            condition = self.expr(how.children[0])
            at, schedule = self.schedule(_tree(how.children[1]))
            h.entry = ast.Entry(
                "segment",
                condition=condition,
                at=at,
                reentry=reentry,
                key=key,
                schedule=schedule,
                span=s,
            )
        elif how.data == "entry_when":
            condition = self.expr(how.children[0])
            h.entry = ast.Entry("when", condition=condition, reentry=reentry, key=key, span=s)
        else:  # (hand-off: the values the journey expects, `entry manual with { … }`)
            inputs = self.params(_one(how, "params"))
            h.entry = ast.Entry("manual", reentry=reentry, key=key, span=s, inputs=inputs)

    def reentry(self, t: Tree[Token] | None, entry: Span) -> ast.Reentry:
        """``reentry once | always | after D``; once, spanning the entry line, when absent."""
        if t is None:
            return ast.Reentry("once", None, entry)
        s = self.span(t)
        if t.data == "reentry_after":
            return ast.Reentry("after", self.expr(t.children[0]), s)
        return ast.Reentry("always" if t.data == "reentry_always" else "once", None, s)

    def h_quiet_hours(self, t: Tree[Token], h: _Header) -> None:
        start, end, *channels = t.children
        h.quiet_hours.append(
            ast.QuietHours(
                tuple(self.ident(c) for c in channels),
                self.time_lit(_tok(start)),
                self.time_lit(_tok(end)),
                self.span(t),
            )
        )

    # ---------------------------------------------------------------- calendars and windows

    def schedule(self, t: Tree[Token]) -> tuple[ast.TimeLit, ast.Schedule | None]:
        """A segment's ``schedule`` rule: its time of day, and its calendar (None for a plain
        ``daily``, which both spellings also write as ``daily at``)."""
        days = _tree(t.children[0])
        at = self.time_lit(_tok(t.children[1]))
        bounds = {str(c.data): self.date_lit(_tok(c.children[0])) for c in _trees(t, *_BOUNDS)}
        start, end = bounds.get("schedule_from"), bounds.get("schedule_until")
        kind = str(days.data)
        if kind == "sched_daily" and start is None and end is None:
            return at, None
        s = self.span(t)
        sched: ast.Schedule
        if kind == "sched_weekly":
            sched = ast.Schedule("weekly", days=self.day_names(days.children[0]), span=s)
        elif kind == "sched_monthly":
            tok = _tok(days.children[0])
            day = self.int_of(str(tok.value), self.token_span(tok), "a day of the month", 1)
            sched = ast.Schedule("monthly", day=str(day), span=s)
        elif kind == "sched_monthly_last":
            sched = ast.Schedule("monthly", day="last", span=s)
        elif kind == "sched_every":
            tok = _tok(days.children[0])
            # (None, for a refused number: the schedule's other checks still run)
            n = whole_number(str(tok.value), "a number of days", self.token_span(tok), self.diags)
            sched = ast.Schedule("every", every=n, span=s)
        elif kind.endswith("_anniversary"):
            period: Literal["monthly", "yearly"] = "yearly" if "yearly" in kind else "monthly"
            of = self.expr(days.children[0])
            sched = ast.Schedule("anniversary", period=period, of=of, span=s)
        else:
            sched = ast.Schedule("daily", span=s)
        return at, dataclasses.replace(sched, start=start, end=end)

    def date_lit(self, tok: Token) -> ast.DateLit:
        """A DATE token."""
        return ast.DateLit(str(tok.value), self.token_span(tok))

    def day_names(self, node: _Node) -> tuple[ast.Ident, ...]:
        """The names of a ``day_names`` rule (checked by the compiler, JD110)."""
        return tuple(self.ident(c) for c in _tree(node).children)

    def s_wait_until_next(self, t: Tree[Token], ident: ast.Ident | None, s: Span) -> ast.Step:
        at = self.time_lit(_tok(t.children[1]))
        return ast.WaitUntil(at, ident, s, next=self.day_names(t.children[0]))

    def h_send_window(self, t: Tree[Token], h: _Header) -> None:
        days, start, end, *channels = t.children
        h.send_windows.append(
            ast.SendWindow(
                tuple(self.ident(c) for c in channels),
                self.day_names(days),
                self.time_lit(_tok(start)),
                self.time_lit(_tok(end)),
                self.span(t),
            )
        )

    def h_fallback(self, t: Tree[Token], h: _Header) -> None:
        h.fallback.append(ast.FallbackChain(tuple(self.ident(c) for c in t.children), self.span(t)))

    def h_goal(self, t: Tree[Token], h: _Header) -> None:
        target, *where = _exprs(t)
        then = _one(t, "goal_then")
        h.goals.append(
            ast.Goal(
                self.ident(t.children[0]),
                self.expr(target),
                self.expr(where[0]) if where else None,
                self.span(t),
                () if then is None else self.block(_one(then, "block")),
            )
        )

    def h_stale(self, t: Tree[Token], h: _Header) -> None:
        if self.once(h, "stale after", t):
            h.stale_after = self.expr(_exprs(t)[0])

    def h_param_decl(self, t: Tree[Token], h: _Header) -> None:
        name = self.ident(t.children[0])
        if self.once(h, f"param {name.name}", t):
            h.params.append(ast.Param(name, self.expr(_exprs(t)[0]), self.span(t)))


class _Header:
    """The header lines of a journey, gathered before the Journey node is built."""

    def __init__(self) -> None:
        self.seen: dict[str, Span] = {}
        self.title: str | None = None
        self.events: ast.StringLit | None = None
        self.templates: ast.StringLit | None = None
        self.timezone: ast.StringLit | None = None
        self.outcomes: tuple[ast.Ident, ...] = ()
        self.entry: ast.Entry | None = None
        self.quiet_hours: list[ast.QuietHours] = []
        self.fallback: list[ast.FallbackChain] = []
        self.goals: list[ast.Goal] = []
        self.stale_after: ast.Expr | None = None
        self.send_windows: list[ast.SendWindow] = []
        self.params: list[ast.Param] = []


_ExprBuilder: TypeAlias = Callable[[Builder, Tree[Token], Span], ast.Expr]
_EXPR_BUILDERS: Final[dict[str, _ExprBuilder]] = {
    name[2:]: getattr(Builder, name) for name in dir(Builder) if name.startswith("x_")
}


_StepBuilder: TypeAlias = Callable[[Builder, Tree[Token], "ast.Ident | None", Span], ast.Step]
_STEP_BUILDERS: Final[dict[str, _StepBuilder]] = {
    name[2:]: getattr(Builder, name) for name in dir(Builder) if name.startswith("s_")
}
_HeaderBuilder: TypeAlias = Callable[[Builder, Tree[Token], _Header], None]
_HEADER_BUILDERS: Final[dict[str, _HeaderBuilder]] = {
    name[2:]: getattr(Builder, name) for name in dir(Builder) if name.startswith("h_")
}
