"""`journeydsl rule CODE`: every code of the registry has an explanation, an example and a fix,
and each example that is a journey gives its code when compiled."""

from __future__ import annotations

import pytest

from journeydsl.cli import main
from journeydsl.compiler import compile_source
from journeydsl.diagnostics import CODES
from journeydsl.rules import HEADER, RULES
from tests.test_docs_language import EXAMPLES


def test_every_code_has_a_rule() -> None:
    """The rules cover exactly the codes of the registry."""
    assert set(RULES) == set(CODES)


COMPILED = sorted(code for code, rule in RULES.items() if rule.kind != "text")


def test_most_examples_are_compiled() -> None:
    """Every code the compiler reports on a journey alone has an example that is compiled."""
    assert {c for c in CODES if "JD201" <= c <= "JD506"} - set(COMPILED) == set()


@pytest.mark.parametrize("code", COMPILED)
def test_the_example_gives_its_code(code: str) -> None:
    """Compiled against the example catalogs, the rule's example reports the rule's code."""
    rule = RULES[code]
    if rule.kind == "steps":
        text, name = HEADER + rule.example + "exit done\n", "x.journey"
    else:
        text, name = rule.example, "x.journey" if rule.kind == "journey" else "x.yaml"
    result = compile_source(text, name, base_dir=EXAMPLES)
    codes = {d.code for d in result.diagnostics}
    assert code in codes, [str(d) for d in result.diagnostics]


def test_rule_command_prints_meaning_example_and_fix(capsys: pytest.CaptureFixture[str]) -> None:
    """`journeydsl rule jd205` (any case) prints the code's meaning, its example and the fix."""
    assert main(["rule", "jd205"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("JD205: undefined template\n")
    assert "send email welcome_activaton_guide" in out
    assert "Fix: " in out


def test_rule_command_lists_every_code(capsys: pytest.CaptureFixture[str]) -> None:
    """Without a code, every code is listed with its meaning."""
    assert main(["rule"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == list(CODES)


def test_rule_command_refuses_an_unknown_code(capsys: pytest.CaptureFixture[str]) -> None:
    """An unknown code is a usage error with a did-you-mean."""
    assert main(["rule", "JD2O5"]) == 2
    assert "did you mean 'JD205'?" in capsys.readouterr().err
