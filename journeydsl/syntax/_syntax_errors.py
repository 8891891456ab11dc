"""Syntax errors in words: lark's exceptions turned into diagnostics a marketer can act on.

Each message says what was found and what the parser expected there, in words ("expected a
template name after 'send email'"), and a hint where one helps: did-you-mean over the keywords
that fit, a reserved word used as a name, `=` for `==`, characters carried over from other
languages. A misspelt step or header keyword is its own code (JD102), as in YAML.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from typing import Final

from lark import Token
from lark.exceptions import LarkError, UnexpectedCharacters, UnexpectedInput, UnexpectedToken

from journeydsl.diagnostics import Span, did_you_mean
from journeydsl.syntax._dsl_builder import Builder
from journeydsl.syntax._grammar import (
    HEADER_KEYWORDS,
    STEP_KEYWORDS,
    keyword_values,
    lark_parser,
    reserved_words,
    word_choices,
)

__all__ = ["report_syntax"]


def report_syntax(e: UnexpectedInput, text: str, start: str, b: Builder) -> None:
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


def _end_point(text: str, b: Builder) -> Span:
    line = text.count("\n") + 1
    column = len(text) - (text.rfind("\n") + 1) + 1
    return b.point(line, column)


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
    "DATE": "a date such as 2026-01-15",
    "TIMESTAMP": "a timestamp such as 2026-01-15T09:00",
}
#: Terminals that can start an expression; listed together they read "an expression".
# fmt: off
_EXPR_START: Final = frozenset({
    "NUMBER", "MONEY", "DURATION", "TIME", "STRING", "TRUE", "FALSE", "NAME", "LPAR", "LSQB",
    "DATE", "TIMESTAMP", "MINUS", "NOT", "IF", "COUNT", "HAS", "SUM", "MIN", "MAX", "LAST", "TOP",
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
# Quotes a word processor curls, and the full-width punctuation of a Chinese input method.
for _curly in "\u201c\u201d\u201e\u201f\u00ab\u00bb":
    _CHARACTER_HINTS[_curly] = 'write straight quotes "…" (a word processor curls them)'
for _curly in "\u2018\u2019\u201a\u201b":
    _CHARACTER_HINTS[_curly] = "write straight quotes '…' (a word processor curls them)"
for _plain in ":,()[]{};=\"'":
    _wide = chr(ord(_plain) + 0xFEE0)  # (the full-width form of an ASCII character)
    _CHARACTER_HINTS[_wide] = f"'{_wide}' is full-width (a Chinese input method): write '{_plain}'"

#: A name around a character, for the hint on letters a name cannot hold.
_WORD: Final = re.compile(r"\w+")


def _letter_hint(text: str, pos: int) -> str:
    """The hint for a letter outside a-z in code: names are ASCII; the name without its marks."""
    word = next(
        (
            m.group()
            for m in _WORD.finditer(text, max(0, pos - 64), pos + 64)
            if m.start() <= pos < m.end()
        ),
        text[pos],
    )
    plain = "".join(
        c
        for c in unicodedata.normalize("NFD", word.replace("đ", "d").replace("Đ", "D"))
        if not unicodedata.combining(c)
    )
    names = "names (labels, variables, outcomes) use the letters a-z, A-Z, digits and '_' only"
    if plain.isascii() and plain != word:
        return f"{names}: write '{plain}'"
    return f'{names}; other text goes in a string literal, "{word}"'


def _terminal_words(name: str, end_words: str) -> str:
    if name == "$END":
        return end_words
    if name in _TERMINAL_WORDS:
        return _TERMINAL_WORDS[name]
    try:
        pattern = lark_parser().get_terminal(name).pattern
    except KeyError:
        return name
    if pattern.type == "str":
        return f"'{pattern.value}'"
    words = word_choices(pattern.value)
    return " or ".join(f"'{w}'" for w in words) if words else name.lower()


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


def _keyword_values(expected: Iterable[str]) -> list[str]:
    """The word-like keywords among ``expected`` terminals, for did-you-mean hints."""
    return keyword_values(name for name in expected if name not in _TERMINAL_WORDS)


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
    ip = lark_parser().parse_interactive(text, start=start)
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


def _report_token(e: UnexpectedToken, text: str, start: str, b: Builder) -> None:
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
    # After a label (`welcome: sned ...`) only a step can follow, so a name there is a misspelt
    # step, exactly as it is without the label.
    if tok.type == "NAME" and "NAME" not in expected and expected >= _STEP_TERMINALS:
        _report_unknown_word(tok, _keyword_values(expected), b)
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
    if keyword == "exit":  # `exit with EXPR` is the rarer form: name the outcome that is missing
        expected.discard("WITH")
    what = _expected_words(expected, end_words, name_words)
    hint = None
    label_only = expected >= _STEP_TERMINALS  # (a name there would be a step's label)
    if tok.type == "AS" and {"THEN", "WHERE"} <= expected:  # only after a goal's event
        hint = (
            "a goal does not name its event: `as` is for `wait for EVENT as NAME` and a during "
            "block's `on EVENT as NAME`"
        )
    elif (
        "NAME" in expected
        and not label_only
        and tok.type not in ("NAME", "$END")
        and str(tok.value).isidentifier()
    ):
        hint = f"'{tok.value}' is a reserved word; choose another name"
    elif str(tok.value).isidentifier():
        hint = did_you_mean(str(tok.value), _keyword_values(expected))
    if tok.type == "EQUAL" and "COMP_OP" in expected:
        hint = "compare with `==`; `=` only assigns in `set` and `update`"
    if tok.type == "LBRACE" and {"THEN", "WHERE"} <= expected:  # only after a goal
        hint = "a goal's steps follow `then`: `goal NAME when EVENT then { … }`"
    message = f"unexpected {found} — expected {what}"
    if after_words and not what.startswith("one of"):
        message += f" after {after_words}"
    if tok.type == "$END":
        message, hint = _unclosed(stack, message, hint)
    b.diags.error(b.syntax_code, message, span, hint)


#: Keywords that open a block, for "the block of 'if' opened at line 4".
_OPENERS: Final = frozenset(
    {
        "IF",
        "ELSE",
        "SWITCH",
        "CASE",
        "SPLIT",
        "REPEAT",
        "TIMEOUT",
        "SEND",
        "TICKET",
        "REWARD",
        "ACTION",
        "GOAL",
    }
)


def _unclosed(stack: Sequence[object], message: str, hint: str | None) -> tuple[str, str | None]:
    """At the end of the file inside a block: the message names the line where the innermost
    open ``{`` is, and the keyword that opened it."""
    opens = [i for i, v in enumerate(stack) if isinstance(v, Token) and v.type == "LBRACE"]
    if not opens:
        return message, hint
    brace: Token = stack[opens[-1]]  # type: ignore[assignment]
    opener = next(
        (
            str(v.value)
            for v in reversed(stack[: opens[-1]])
            if isinstance(v, Token) and v.type in _OPENERS
        ),
        None,
    )
    what = f"the block of '{opener}'" if opener else "the block"
    where = f"line {brace.line}, column {brace.column}"
    return (
        f"unexpected end of file — {what} opened at {where} is not closed",
        f"add the missing `}}` to close the `{{` of line {brace.line}",
    )


def _report_unknown_word(name: Token, keywords: Sequence[str], b: Builder) -> None:
    span = b.token_span(name)
    word = str(name.value)
    headers = [k for k in HEADER_KEYWORDS if k in keywords]
    if word in reserved_words() and word not in keywords:
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


def _report_characters(e: UnexpectedCharacters, text: str, b: Builder) -> None:
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
    hint = _CHARACTER_HINTS.get(char)
    if hint is None and char.isalpha() and not char.isascii() and pos is not None:
        hint = _letter_hint(text, pos)
    b.diags.error(b.syntax_code, message, b.point(line, column), hint)
