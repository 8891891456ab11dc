"""The DSL parser: ``.journey`` text (or one embedded expression) to :mod:`journeydsl.ast`.

Lark does the parsing (LALR, contextual lexer, grammar in ``journeydsl/grammar.lark``); this module
turns its tree into AST nodes with spans, checks the literals lark cannot (duration units, times of
day, whole-number split weights, string escapes), checks the header (one entry, no duplicates) and
translates lark's exceptions into diagnostics that a marketer can act on. Nothing here raises: every
problem, including input that is too deep or too large, ends up as a :class:`Diagnostic`.
"""

from __future__ import annotations

import functools
import importlib.resources
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Final, Literal, TypeAlias, TypeVar

from lark import Lark, Token, Tree
from lark.exceptions import LarkError, UnexpectedCharacters, UnexpectedInput, UnexpectedToken

from journeydsl import ast
from journeydsl.diagnostics import Diagnostic, Diagnostics, Span, did_you_mean

__all__ = [
    "HEADER_KEYWORDS",
    "STEP_KEYWORDS",
    "parse_expression",
    "parse_journey",
    "reserved_words",
]

_Node: TypeAlias = "Tree[Token] | Token | None"
_T = TypeVar("_T")

# fmt: off
#: Words that start a step, for "unknown step" hints.
STEP_KEYWORDS: Final = (
    "send", "wait", "if", "switch", "split", "repeat", "ticket", "update", "tag", "untag",
    "reward", "action", "set", "exit",
)
#: Words that start a header line, for "unknown header" hints.
HEADER_KEYWORDS: Final = (
    "version", "title", "uses", "timezone", "outcomes", "entry", "quiet", "fallback", "goal",
)
# fmt: on

_DURATION_UNITS: Final = frozenset("smhdw")
_ESCAPES: Final = {"\\": "\\", '"': '"', "'": "'", "n": "\n", "t": "\t"}
_ESCAPE_RE: Final = re.compile(r"\\(.)", re.DOTALL)
_DURATION_RE: Final = re.compile(r"(\d+)([a-zA-Z]+)")
#: Deeper nesting than this is never written by hand; refusing it keeps every later stage (which
#: walks the AST recursively) clear of Python's recursion limit.
_MAX_DEPTH: Final = 150
#: Real journeys are a few kilobytes; this bounds the time spent on pathological input.
_MAX_CHARS: Final = 1_000_000
#: Longer digit strings are refused rather than handed to int() (which caps at 4300 digits).
_MAX_INT_DIGITS: Final = 18


class _TooDeepError(Exception):
    """Raised inside the tree walk when nesting passes :data:`_MAX_DEPTH`."""


@functools.cache
def _lark() -> Lark:
    """The one Lark parser of the process, built on first use (lark's cache makes it ~20 ms)."""
    grammar = importlib.resources.files("journeydsl").joinpath("grammar.lark").read_text("utf-8")
    return Lark(
        grammar,
        parser="lalr",
        lexer="contextual",
        propagate_positions=True,
        cache=True,
        start=["start", "expr"],
    )


# --------------------------------------------------------------------------- public API


def parse_journey(text: str, file: str) -> tuple[ast.Journey | None, list[Diagnostic]]:
    """Parse a whole ``.journey`` file.

    Returns the journey (None when the text does not parse) and the diagnostics, sorted by
    position. A journey with header errors (no ``entry``, a duplicated header) is still returned so
    later stages can report their own problems; callers must check the diagnostics for errors.
    """
    diags = Diagnostics()
    builder = _Builder(file, 0, 0, diags, "JD101")
    tree = _parse(text, "start", builder)
    journey: ast.Journey | None = None
    if tree is not None:
        journey = _guarded(builder, lambda: builder.journey(_tree(tree.children[0])))
    return journey, diags.sorted()


def parse_expression(text: str, origin: Span) -> tuple[ast.Expr | None, list[Diagnostic]]:
    """Parse one expression embedded in a file (e.g. a YAML scalar).

    ``origin`` says where ``text[0]`` sits: spans on the text's first line are moved by its line
    and column, spans on later lines by its line only. Syntax errors are JD111.
    """
    diags = Diagnostics()
    builder = _Builder(origin.file, origin.line - 1, origin.column - 1, diags, "JD111")
    tree = _parse(text, "expr", builder)
    expr: ast.Expr | None = None
    if tree is not None:
        expr = _guarded(builder, lambda: builder.expr(tree))
    return expr, diags.sorted()


# --------------------------------------------------------------------------- driving lark


def _parse(text: str, start: str, b: _Builder) -> Tree[Token] | None:
    """Run lark, turning every failure into a diagnostic."""
    if len(text) > _MAX_CHARS:
        b.diags.error(
            "JD112",
            f"input too large ({len(text):,} characters; the limit is {_MAX_CHARS:,})",
            b.point(1, 1),
        )
        return None
    try:
        if start == "expr" and len(text) <= 1000:
            return _parse_tree(text, start)
        return _lark().parse(text, start=start)
    except UnexpectedInput as e:
        _report_syntax(e, text, start, b)
    except RecursionError:
        _report_too_deep(b, b.point(1, 1))
    except LarkError as e:  # a lark bug must still not take the caller down
        b.diags.error(b.syntax_code, f"cannot parse: {e}", b.point(1, 1))
    return None


def _report_syntax(e: UnexpectedInput, text: str, start: str, b: _Builder) -> None:
    """Describe a syntax error; a plain message if describing it goes wrong."""
    try:
        if isinstance(e, UnexpectedToken):
            _report_token(e, text, start, b)
        elif isinstance(e, UnexpectedCharacters):
            _report_characters(e, text, b)
        else:  # UnexpectedEOF; the LALR parser reports the end as a $END token instead
            b.diags.error(b.syntax_code, "unexpected end of input", _end_point(text, b))
    except Exception:  # the message is a nicety; the error itself must still be reported
        line = e.line if isinstance(e.line, int) and e.line > 0 else 1
        column = e.column if isinstance(e.column, int) and e.column > 0 else 1
        b.diags.error(b.syntax_code, "syntax error", b.point(line, column))


@functools.lru_cache(maxsize=2048)
def _parse_tree(text: str, start: str) -> Tree[Token]:
    """Lark's tree for ``text``; cached because YAML files repeat the same expressions and the
    trees are never modified (errors raise, so they are not cached)."""
    return _lark().parse(text, start=start)


def _guarded(b: _Builder, build: Callable[[], _T]) -> _T | None:
    """Run a tree walk, reporting runaway nesting instead of raising."""
    try:
        return build()
    except (_TooDeepError, RecursionError):
        _report_too_deep(b, b.point(1, 1))
        return None


def _report_too_deep(b: _Builder, span: Span) -> None:
    b.diags.error(
        "JD112",
        f"nested too deeply (more than {_MAX_DEPTH} levels)",
        span,
        hint="split the condition with `set` steps or flatten the blocks",
    )


def _end_point(text: str, b: _Builder) -> Span:
    line = text.count("\n") + 1
    column = len(text) - (text.rfind("\n") + 1) + 1
    return b.point(line, column)


# --------------------------------------------------------------------------- syntax errors

#: How named terminals read in a message.
_TERMINAL_WORDS: Final = {
    "NAME": "a name",
    "STRING": "a string",
    "NUMBER": "a number",
    "INT": "a whole number",
    "MONEY": "an amount such as 100_000 VND",
    "DURATION": "a duration such as 3d",
    "TIME": "a time of day such as 09:00",
    "PERCENT": "a percentage such as 50%",
    "COMP_OP": "a comparison",
    "ADD_OP": "'+' or '-'",
    "MUL_OP": "'*', '/' or '%'",
    "IN_LAST": "'in last'",
}
#: Terminals that can start an expression; listed together they read "an expression".
# fmt: off
_EXPR_START: Final = frozenset({
    "NUMBER", "MONEY", "DURATION", "TIME", "STRING", "TRUE", "FALSE", "NAME", "LPAR", "LSQB",
    "MINUS", "NOT", "IF", "COUNT", "HAS", "SUM", "MIN", "MAX", "LAST", "TOP",
})
# fmt: on
#: Terminals that continue an expression; listed together they read "an operator".
_OPERATORS: Final = frozenset({"COMP_OP", "ADD_OP", "MUL_OP", "IN", "AND", "OR", "DOT", "IN_LAST"})
_STEP_TERMINALS: Final = frozenset(k.upper() for k in STEP_KEYWORDS)
_HEADER_TERMINALS: Final = frozenset(k.upper() for k in HEADER_KEYWORDS)
#: What the name after a keyword stands for, for "expected a channel after 'send'".
_NAME_AFTER: Final = {
    "journey": "a journey name",
    "send": "a channel",
    "exit": "an outcome",
    "set": "a variable name",
    "update": "a profile attribute",
    "tag": "a tag",
    "untag": "a tag",
    "reward": "a reward name",
    "action": "an action name",
    "ticket": "a queue name",
    "outcomes": "an outcome name",
    "on": "an event name",
    "goal": "an outcome",
    "fallback": "a channel",
    "->": "a channel",
    "as": "a counter name",
    "for": "a channel",
    ".": "a field name",
}
#: Hints for characters people carry over from other languages.
_CHARACTER_HINTS: Final = {
    "&": "write `and` instead of `&&`",
    "|": "write `or` instead of `||`",
    "!": "write `not x` or `!=`",
    '"': "strings end on the line they start; close it with a matching quote",
    "'": "strings end on the line they start; close it with a matching quote",
    ";": "steps need no separator; start each on its own line",
}


def _terminal_words(name: str, end_words: str) -> str:
    if name == "$END":
        return end_words
    if name in _TERMINAL_WORDS:
        return _TERMINAL_WORDS[name]
    try:
        pattern = _lark().get_terminal(name).pattern
    except KeyError:
        return name
    return f"'{pattern.value}'" if pattern.type == "str" else name.lower()


def _token_words(tok: Token) -> str:
    if tok.type == "$END":
        return "end of file"
    value = str(tok.value)
    if len(value) > 30:
        value = value[:27] + "..."
    if tok.type == "STRING":
        return f"string {value}"
    return f"'{value}'"


def _expected_words(expected: Iterable[str], end_words: str, name_words: str = "a name") -> str:
    """A short, sorted, human list of what the parser would have accepted."""
    names = set(expected)
    words: set[str] = set()
    if names >= _STEP_TERMINALS:
        names -= _STEP_TERMINALS | {"NAME"}  # the NAME is a step label
        words.add("a step")
    if len(names & _HEADER_TERMINALS) > 2:
        names -= _HEADER_TERMINALS
        words.add("a header line")
    if len(names & _EXPR_START) > 4:
        names -= _EXPR_START
        words.add("an expression")
    if len(names & _OPERATORS) > 2:
        names -= _OPERATORS
        words.add("an operator")
    words |= {name_words if n == "NAME" else _terminal_words(n, end_words) for n in names}
    ordered = sorted(words, key=lambda w: (w.startswith("'"), w))
    if len(ordered) > 6:
        ordered = [*ordered[:5], "..."]
    if len(ordered) == 1:
        return ordered[0]
    return "one of: " + ", ".join(ordered)


@functools.cache
def reserved_words() -> frozenset[str]:
    """Every keyword of the DSL grammar (a step id cannot be one: it would read as the keyword)."""
    return _reserved_words()


def _reserved_words() -> frozenset[str]:
    """Every keyword of the grammar."""
    return frozenset(
        t.pattern.value
        for t in _lark().terminals
        if t.pattern.type == "str" and t.pattern.value.isidentifier()
    )


def _keyword_values(expected: Iterable[str]) -> list[str]:
    """The word-like keywords among ``expected`` terminals, for did-you-mean hints."""
    out = []
    for name in expected:
        if name in _TERMINAL_WORDS or name == "$END":
            continue
        try:
            pattern = _lark().get_terminal(name).pattern
        except KeyError:
            continue
        if pattern.type == "str" and pattern.value.isidentifier():
            out.append(pattern.value)
    return out


def _after(stack: Sequence[object]) -> tuple[str, str]:
    """What was just read before the error: ("send", "'send'") after a keyword, ("send _",
    "'send email'") after a keyword and a name, else ("", "")."""
    if not stack or not isinstance(stack[-1], Token):
        return "", ""
    last = stack[-1]
    if last.type == "NAME":
        before = stack[-2] if len(stack) >= 2 else None
        if isinstance(before, Token) and str(before.value).isidentifier() and before.type != "NAME":
            return f"{before.value} _", f"'{before.value} {last.value}'"
        return "", ""
    if last.type in _TERMINAL_WORDS:  # a literal, not a keyword
        return "", ""
    return str(last.value), f"'{last.value}'"


def _choices_before(tok: Token, text: str, start: str) -> set[str]:
    """The terminals the parser would have taken in place of ``tok``.

    By the time an error surfaces, LALR has already reduced on the token after ``tok``, so this
    re-parses up to ``tok`` and asks the parser before it is fed.
    """
    ip = _lark().parse_interactive(text, start=start)
    try:
        for seen in ip.iter_parse():
            if seen.start_pos == tok.start_pos:
                state = ip.parser_state
                return {
                    k for k in state.parse_conf.parse_table.states[state.position] if k.isupper()
                }
    except LarkError:
        pass
    return set()


def _report_token(e: UnexpectedToken, text: str, start: str, b: _Builder) -> None:
    tok: Token = e.token
    stack: list[object] = list(e.interactive_parser.parser_state.value_stack)
    # In the accepting state of a start rule lark lists nothing: only the end could follow.
    expected = set(e.accepts or e.expected) or {"$END"}
    end_words = "end of file" if b.syntax_code == "JD101" else "end of expression"

    # A name where a step may start was taken as a label ("sned:"); the next token then did not
    # fit, but the real mistake is the name itself.
    if expected == {"COLON"} and stack and isinstance(stack[-1], Token):
        name = stack[-1]
        if name.type == "NAME":
            choices = _choices_before(name, text, start)
            if "SEND" in choices:
                _report_unknown_word(name, _keyword_values(choices), b)
                return

    if tok.type == "$END":
        span = b.point(tok.end_line or 1, tok.end_column or 1)
        found = end_words
    else:
        span = b.token_span(tok)
        found = _token_words(tok)

    keyword, after_words = _after(stack)
    name_words = _NAME_AFTER.get(keyword, "a name")
    if keyword.startswith("send "):
        name_words = "a template name"
    elif keyword == "repeat as":
        name_words = "a counter name"
    what = _expected_words(expected, end_words, name_words)
    hint = None
    if "NAME" in expected and tok.type not in ("NAME", "$END") and str(tok.value).isidentifier():
        hint = f"'{tok.value}' is a reserved word; choose another name"
    elif str(tok.value).isidentifier():
        hint = did_you_mean(str(tok.value), _keyword_values(expected))
    if tok.type == "EQUAL" and "COMP_OP" in expected:
        hint = "compare with `==`; `=` only assigns in `set` and `update`"
    message = f"unexpected {found} — expected {what}"
    if after_words and not what.startswith("one of"):
        message += f" after {after_words}"
    b.diags.error(b.syntax_code, message, span, hint)


def _report_unknown_word(name: Token, keywords: Sequence[str], b: _Builder) -> None:
    span = b.token_span(name)
    word = str(name.value)
    headers = [k for k in HEADER_KEYWORDS if k in keywords]
    if word in _reserved_words() and word not in keywords:
        # A keyword out of place (`else` after a finished if, `entry` after the first step): the
        # contextual lexer read it as a name, but it is no typo.
        kinds = "a step or header line" if headers else "a step"
        hint = None
        if word in HEADER_KEYWORDS:
            hint = "header lines (title, uses, entry, ...) come before the first step"
        b.diags.error(b.syntax_code, f"unexpected '{word}' — expected {kinds}", span, hint)
        return
    best = did_you_mean(word, keywords)
    matched = best.split("'")[1] if best else ""
    if matched in HEADER_KEYWORDS:
        b.diags.error("JD102", f"unknown header '{word}'", span, best)
    elif matched in STEP_KEYWORDS:
        b.diags.error("JD102", f"unknown step '{word}'", span, best)
    elif best:
        b.diags.error(b.syntax_code, f"unexpected '{word}'", span, best)
    elif headers:
        hint = (
            f"header lines start with {', '.join(headers)}; steps with {', '.join(STEP_KEYWORDS)}"
        )
        b.diags.error("JD102", f"unknown header or step '{word}'", span, hint)
    else:
        hint = f"steps start with {', '.join(STEP_KEYWORDS)}; a label is written `name: step`"
        b.diags.error("JD102", f"unknown step '{word}'", span, hint)


def _report_characters(e: UnexpectedCharacters, text: str, b: _Builder) -> None:
    line, column = e.line, e.column
    if line < 1 or column < 1:
        line, column = 1, 1
    pos = e.pos_in_stream
    char = text[pos] if pos is not None and 0 <= pos < len(text) else " "
    if char in ("'", '"'):
        message = "unterminated string"
    elif char.isprintable():
        message = f"unexpected character '{char}'"
    else:
        message = f"unexpected character U+{ord(char):04X}"
    b.diags.error(b.syntax_code, message, b.point(line, column), _CHARACTER_HINTS.get(char))


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
})
# fmt: on


def _exprs(t: Tree[Token]) -> list[Tree[Token]]:
    """The children of ``t`` that are expressions (every other child is a named sub-rule)."""
    return [c for c in t.children if isinstance(c, Tree) and c.data not in _SUB_RULES]


class _Builder:
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
        """A span at text position → the same span in the file (see :func:`parse_expression`)."""
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

    def int_of(self, digits: str, span: Span, what: str) -> int:
        """A non-negative int from digits, reporting absurdly long ones (JD105)."""
        if len(digits) > _MAX_INT_DIGITS:
            self.diags.error("JD105", f"{what} {digits[:12]}... is too large", span)
            return 0
        return int(digits)

    # ---------------------------------------------------------------- expressions

    def expr(self, node: _Node) -> ast.Expr:
        """An expression node."""
        if isinstance(node, Token):  # never produced by the grammar, but keep the walk total
            return ast.Name(str(node.value), self.token_span(node))
        t = _tree(node)
        self.depth += 1
        if self.depth > _MAX_DEPTH:
            raise _TooDeepError
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
        if self.depth > _MAX_DEPTH:
            raise _TooDeepError
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
            span=s,
        )

    def s_wait(self, t: Tree[Token], ident: ast.Ident | None, s: Span) -> ast.Step:
        return ast.Wait(self.expr(t.children[0]), ident, s)

    def s_wait_until(self, t: Tree[Token], ident: ast.Ident | None, s: Span) -> ast.Step:
        return ast.WaitUntil(self.expr(t.children[0]), ident, s)

    def s_wait_for(self, t: Tree[Token], ident: ast.Ident | None, s: Span) -> ast.Step:
        target, *where = _exprs(t)
        timeout = None
        if (tt := _one(t, "timeout_within", "timeout_until")) is not None:
            kind: Literal["within", "until"] = "within" if tt.data == "timeout_within" else "until"
            timeout = ast.Timeout(kind, self.expr(tt.children[0]), self.span(tt))
        on_timeout = _one(t, "on_timeout")
        return ast.WaitFor(
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

    def weight(self, tok: Token) -> int:
        """A split weight from a PERCENT token; ``12.5%`` is an error."""
        text = str(tok.value)[:-1]
        whole, dot, _ = text.partition(".")
        if dot:
            self.diags.error(
                "JD105",
                f"split weights are whole percentages, not '{tok.value}'",
                self.token_span(tok),
                "round the weights so they still add up to 100",
            )
        return self.int_of(whole, self.token_span(tok), "split weight")

    def s_split(self, t: Tree[Token], ident: ast.Ident | None, s: Span) -> ast.Step:
        arms = tuple(
            ast.Arm(self.weight(_tok(a.children[0])), self.block(_one(a, "block")), self.span(a))
            for a in _trees(t, "arm")
        )
        holdout = None
        if (h := _one(t, "holdout")) is not None:
            holdout = ast.Arm(
                self.weight(_tok(h.children[0])), self.block(_one(h, "block")), self.span(h)
            )
        return ast.Split(arms, holdout, ident, s)

    def s_repeat(self, t: Tree[Token], ident: ast.Ident | None, s: Span) -> ast.Step:
        tokens = [c for c in t.children if isinstance(c, Token)]
        counter = next((self.ident(c) for c in tokens if c.type == "NAME"), None)
        limit = next(c for c in tokens if c.type == "INT")
        until = _exprs(t)
        return ast.Repeat(
            max=self.int_of(str(limit.value), self.token_span(limit), "repeat max"),
            steps=self.block(_one(t, "block")),
            counter=counter,
            until=self.expr(until[0]) if until else None,
            id=ident,
            span=s,
        )

    def s_ticket(self, t: Tree[Token], ident: ast.Ident | None, s: Span) -> ast.Step:
        priority = _exprs(t)
        return ast.Ticket(
            queue=self.ident(t.children[0]),
            priority=self.expr(priority[0]) if priority else None,
            payload=self.params(_one(t, "params")),
            id=ident,
            span=s,
        )

    def s_update(self, t: Tree[Token], ident: ast.Ident | None, s: Span) -> ast.Step:
        return ast.Update(self.ident(t.children[0]), self.expr(t.children[1]), ident, s)

    def s_tag(self, t: Tree[Token], ident: ast.Ident | None, s: Span) -> ast.Step:
        return ast.Tag(self.ident(t.children[0]), False, ident, s)

    def s_untag(self, t: Tree[Token], ident: ast.Ident | None, s: Span) -> ast.Step:
        return ast.Tag(self.ident(t.children[0]), True, ident, s)

    def s_reward(self, t: Tree[Token], ident: ast.Ident | None, s: Span) -> ast.Step:
        name = self.ident(t.children[0])
        return ast.Action("reward", name, self.params(_one(t, "params")), ident, s)

    def s_action(self, t: Tree[Token], ident: ast.Ident | None, s: Span) -> ast.Step:
        name = self.ident(t.children[0])
        return ast.Action("action", name, self.params(_one(t, "params")), ident, s)

    def s_set(self, t: Tree[Token], ident: ast.Ident | None, s: Span) -> ast.Step:
        return ast.Set(self.ident(t.children[0]), self.expr(t.children[1]), ident, s)

    def s_exit(self, t: Tree[Token], ident: ast.Ident | None, s: Span) -> ast.Step:
        return ast.Exit(self.ident(t.children[0]), ident, s)

    # ---------------------------------------------------------------- journey

    def journey(self, t: Tree[Token]) -> ast.Journey:
        """The whole journey: name, version, header lines and steps."""
        name = self.ident(t.children[0])
        version = 1
        if (v := _one(t, "version")) is not None:
            version = self.int_of(str(_tok(v.children[0]).value), self.span(v), "version")
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
            at = self.time_lit(_tok(how.children[1]))
            h.entry = ast.Entry(
                "segment", condition=condition, at=at, reentry=reentry, key=key, span=s
            )
        else:
            h.entry = ast.Entry("manual", reentry=reentry, key=key, span=s)

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

    def h_fallback(self, t: Tree[Token], h: _Header) -> None:
        h.fallback.append(ast.FallbackChain(tuple(self.ident(c) for c in t.children), self.span(t)))

    def h_goal(self, t: Tree[Token], h: _Header) -> None:
        target, *where = _exprs(t)
        h.goals.append(
            ast.Goal(
                self.ident(t.children[0]),
                self.expr(target),
                self.expr(where[0]) if where else None,
                self.span(t),
            )
        )


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


_ExprBuilder: TypeAlias = Callable[[_Builder, Tree[Token], Span], ast.Expr]
_EXPR_BUILDERS: Final[dict[str, _ExprBuilder]] = {
    name[2:]: getattr(_Builder, name) for name in dir(_Builder) if name.startswith("x_")
}


_StepBuilder: TypeAlias = Callable[[_Builder, Tree[Token], "ast.Ident | None", Span], ast.Step]
_STEP_BUILDERS: Final[dict[str, _StepBuilder]] = {
    name[2:]: getattr(_Builder, name) for name in dir(_Builder) if name.startswith("s_")
}
_HeaderBuilder: TypeAlias = Callable[[_Builder, Tree[Token], _Header], None]
_HEADER_BUILDERS: Final[dict[str, _HeaderBuilder]] = {
    name[2:]: getattr(_Builder, name) for name in dir(_Builder) if name.startswith("h_")
}
