"""Every type error (JD3xx) carries a hint that says what to write instead.

Two views: the checker's source is read and every place that reports a JD3xx code (or a code
passed in by the caller) must pass a hint; and a table of small mistakes, one or more per JD3xx
code, compiles to that code with a hint.
"""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

import pytest

from journeydsl.compiler import compile_source
from journeydsl.diagnostics import CODES, Severity

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "journeydsl"
EXAMPLES = ROOT / "examples"
HEADER = """\
journey t version 1
uses events "events.yaml"
uses templates "templates.yaml"
outcomes done
entry on card_issued
"""

TYPE_CODES = sorted(c for c in CODES if c.startswith("JD3"))


def _report_calls() -> list[tuple[str, int, str, ast.Call]]:
    """(file, line, code, call) for every ``….error(CODE, …)`` / ``.warning`` of a JD3xx code,
    and every one in the expression checker whose code is a caller's (check_type's)."""
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text("utf-8"))
        for node in ast.walk(tree):
            if not (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("error", "warning")
                and node.args
            ):
                continue
            first = node.args[0]
            if isinstance(first, ast.Constant) and str(first.value).startswith("JD3"):
                out.append((path.name, node.lineno, str(first.value), node))
            elif path.parent.name == "expr" and isinstance(first, ast.Name) and first.id == "code":
                out.append((path.name, node.lineno, "code", node))
    return out


def _has_hint(call: ast.Call) -> bool:
    hint = call.args[3] if len(call.args) >= 4 else None
    for kw in call.keywords:
        if kw.arg == "hint":
            hint = kw.value
    return hint is not None and not (isinstance(hint, ast.Constant) and hint.value is None)


def test_every_type_error_site_passes_a_hint() -> None:
    """No place in the package reports a JD3xx code (or a caller's code) without a hint."""
    calls = _report_calls()
    assert len(calls) > 30  # the checker reports type errors in many places
    missing = [f"{f}:{line} {code}" for f, line, code, call in calls if not _has_hint(call)]
    assert not missing, missing


def test_every_type_code_is_reported_somewhere() -> None:
    """Each JD3xx code of the registry is reported by at least one site read above."""
    reported = {code for _, _, code, _ in _report_calls()}
    assert set(TYPE_CODES) <= reported, set(TYPE_CODES) - reported


#: One mistake per type error, with a word its hint must contain.
MISTAKES: list[tuple[str, str, str]] = [
    ('if profile.segment + 1 == "x" { exit done }', "JD301", "'+' and '-' take"),
    ("set x = -profile.segment", "JD301", "minus"),
    ('set x = if true then 1 else "a"', "JD301", "without quotes"),
    ('set x = [1, "a"]', "JD301", "without quotes"),
    ("if 1 in 2 { exit done }", "JD301", "brackets"),
    ("set x = sum(transaction in last 30d)", "JD301", "field"),
    ("set x = count(transaction.amount in last 30d)", "JD301", "event alone"),
    ("set x = count(transaction in last 1)", "JD301", "unit"),
    ("set x = sum(transaction.merchant in last 30d)", "JD301", "count()"),
    ("set x = count(transaction in last 30d else 1)", "JD301", "remove"),
    ("set x = max(transaction.amount in last 30d else 1)", "JD301", "VND"),
    ("set x = hour(1)", "JD301", "use a timestamp"),
    ("set x = hour()", "JD301", "call it as"),
    ("set x = default(profile.segment, 1)", "JD301", "quote"),
    ("set x = profile.loyalty_points.x", "JD301", "profile.NAME"),
    ("set x = sum(transaction.amount in last 30d) + 1 USD", "JD302", "currency"),
    ("if profile.credit_limit > 1 USD { exit done }", "JD302", "currency"),
    ("if profile.credit_limit > 1 { exit done }", "JD303", "currency"),
    (
        'if sum(transaction.amount in last 30d) >= "1000000" { exit done }',
        "JD305",
        "without quotes",
    ),
    ('if "1000000" <= sum(transaction.amount in last 30d) { exit done }', "JD305", "quotes"),
    ('if 1 in ["a"] { exit done }', "JD305", "quote"),
    ("if count(transaction in last 30d) { exit done }", "JD304", "> 0"),
    ("if not profile.segment { exit done }", "JD304", "compare"),
    ("if true and 1 { exit done }", "JD304", "compare"),
    (
        'if has(transaction where transaction.category == "nope" in last 30d) { exit done }',
        "JD306",
        "expected one of",
    ),
    ("set x = profile.spend_target", "JD309", "default("),
]


@pytest.mark.parametrize(("steps", "code", "word"), MISTAKES)
def test_type_error_has_a_hint(steps: str, code: str, word: str) -> None:
    """The mistake gives its JD3xx code with a hint that shows the fix."""
    text = HEADER + textwrap.dedent(steps) + "\nexit done\n"
    result = compile_source(text, "<test>.journey", base_dir=EXAMPLES)
    found = [d for d in result.diagnostics if d.code == code and d.severity is Severity.ERROR]
    assert found, [str(d) for d in result.diagnostics]
    assert all(d.hint for d in found), [str(d) for d in found]
    assert any(word in (d.hint or "") for d in found), [d.hint for d in found]


def test_the_mistakes_cover_the_type_errors_of_expressions() -> None:
    """The table holds at least one mistake per JD3xx code an expression alone can make."""
    not_from_expressions = {"JD307", "JD308"}  # a send's category; a value past a size limit
    assert {c for _, c, _ in MISTAKES} >= set(TYPE_CODES) - not_from_expressions
