"""Journey parameters (``param NAME = literal`` / ``params: {NAME: literal}``): both spellings,
fmt round trips, graph equality, type checks, and values given at compile time."""

from __future__ import annotations

import json
from pathlib import Path

from journeydsl.compiler import CompileResult, compile_source
from journeydsl.syntax.printer import print_dsl, print_yaml

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

DSL = """journey params_demo version 1
uses events "events.yaml"
uses templates "templates.yaml"
outcomes spent, quiet
param gap = 3d
param threshold = 1_000_000 VND
param tag = "spring"
entry on card_issued
wait gap
wait until entered_at + gap * 2
if sum(transaction.amount since entry) >= threshold {
  send email welcome_activation_guide transactional { card_id: trigger.card_id, product: tag }
  exit spent
}
exit quiet
"""

YAML = """journey: params_demo
version: 1
uses: {events: events.yaml, templates: templates.yaml}
outcomes: [spent, quiet]
params:
  gap: 3d
  threshold: 1_000_000 VND
  tag: '"spring"'
entry: {event: card_issued}
steps:
  - wait: gap
  - wait_until: entered_at + gap * 2
  - if: sum(transaction.amount since entry) >= threshold
    then:
      - send: welcome_activation_guide
        channel: email
        category: transactional
        params: {card_id: trigger.card_id, product: tag}
      - exit: spent
  - exit: quiet
"""


def _compile(text: str, name: str, **params: str) -> CompileResult:
    return compile_source(text, name, base_dir=EXAMPLES, params=params or None)


def _errors(result: CompileResult) -> list[tuple[str, str]]:
    return [(d.code, d.message) for d in result.diagnostics if d.severity.value == "error"]


def _graph(result: CompileResult) -> str:
    assert result.journey is not None, _errors(result)
    return json.dumps(result.journey.to_json(), sort_keys=True)


def test_both_spellings_compile_to_the_same_graph_with_the_params() -> None:
    """The DSL and YAML spellings give the same graph JSON, which lists the params with their
    values and keeps the names in the expressions that use them."""
    dsl, yml = _compile(DSL, "p.journey"), _compile(YAML, "p.yaml")
    assert _errors(dsl) == _errors(yml) == []
    assert _graph(dsl) == _graph(yml)
    graph = json.loads(_graph(dsl))
    assert graph["params"] == {"gap": "3d", "threshold": "1_000_000 VND", "tag": '"spring"'}
    assert "entered_at + gap * 2" in _graph(dsl)


def test_fmt_round_trips_keep_the_params() -> None:
    """DSL → YAML → DSL prints the same text and the same graph at each step."""
    first = _compile(DSL, "p.journey")
    assert first.ast is not None
    yaml_text = print_yaml(first.ast)
    assert "params:\n  gap: 3d\n" in yaml_text
    second = _compile(yaml_text, "p.yaml")
    assert second.ast is not None
    dsl_text = print_dsl(second.ast)
    assert "param gap = 3d\nparam threshold = 1_000_000 VND\n" in dsl_text
    assert _graph(first) == _graph(second) == _graph(_compile(dsl_text, "p.journey"))


def test_a_param_is_typed_by_its_literal() -> None:
    """A duration param used where money is expected is a type error at the use."""
    bad = DSL.replace(">= threshold", ">= gap")
    codes = [c for c, _ in _errors(_compile(bad, "p.journey"))]
    assert codes
    assert codes[0].startswith("JD3")


def test_a_param_must_be_a_literal_and_unique() -> None:
    """A param computed from the customer is JD105; a name declared twice, or also set as a
    journey variable, is JD106."""
    computed = DSL.replace('param tag = "spring"', "param tag = trigger.product")
    assert (
        "JD105",
        "param 'tag' must be a literal, found an expression that depends on the "
        "customer or the time",
    ) in _errors(_compile(computed, "p.journey"))
    twice = DSL.replace('param tag = "spring"', 'param tag = "spring"\nparam tag = "autumn"')
    assert "JD106" in [c for c, _ in _errors(_compile(twice, "p.journey"))]
    clash = DSL.replace("wait gap\n", 'wait gap\nset tag = "x"\n')
    assert ("JD106", "'tag' is both a param and a journey variable") in _errors(
        _compile(clash, "p.journey")
    )


def test_values_given_at_compile_time_replace_the_declared_ones() -> None:
    """A value of the declared type replaces it in the graph; another type is JD301 at the
    value; an unknown name is JD204 with a did-you-mean; neither cascades into the uses."""
    two = _compile(DSL, "p.journey", gap="2d")
    assert json.loads(_graph(two))["params"]["gap"] == "2d"
    assert _graph(two) != _graph(_compile(DSL, "p.journey"))
    wrong = _compile(DSL, "p.journey", gap="2")
    assert _errors(wrong) == [
        ("JD301", "param 'gap' is a duration in the journey, the value given for it is an int")
    ]
    assert wrong.diagnostics[0].span.file == "<gap=2>"
    unknown = _compile(DSL, "p.journey", gapp="2d")
    assert _errors(unknown) == [("JD204", "the journey declares no param 'gapp'")]
    assert unknown.diagnostics[0].hint == "did you mean 'gap'?"


def test_a_text_param_given_as_a_bare_word_is_that_text() -> None:
    """`--param tag=autumn` (the shell took any quotes away) gives the text `autumn`, as
    `tag='"autumn"'` does; it was read as an undefined variable. Other types are unchanged."""
    bare = _compile(DSL, "p.journey", tag="autumn")
    quoted = _compile(DSL, "p.journey", tag='"autumn"')
    assert _errors(bare) == []
    assert _graph(bare) == _graph(quoted)
    assert json.loads(_graph(bare))["params"]["tag"] == '"autumn"'
    assert [code for code, _ in _errors(_compile(DSL, "p.journey", gap="soon"))] == ["JD204"]
