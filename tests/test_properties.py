"""Pipeline properties: spellings round-trip to the same IR; no input makes check raise."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from journeydsl.ast import Journey
from journeydsl.compiler import CompileResult, compile_source
from journeydsl.diagnostics import Severity
from journeydsl.syntax.printer import print_dsl, print_yaml
from tests.strategies import journeys, scheduled_journeys

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
EXAMPLE_FILES = sorted(
    p
    for p in EXAMPLES.iterdir()
    if p.suffix in (".journey", ".yaml") and p.stem not in ("events", "templates")
)

_SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _compile(text: str, name: str) -> CompileResult:
    return compile_source(text, name, base_dir=EXAMPLES)


def _ir_json(result: CompileResult) -> str:
    assert result.journey is not None, [str(d.message) for d in result.diagnostics]
    return json.dumps(result.journey.to_json(), sort_keys=True)


@_SETTINGS
@given(journeys())
def test_generated_journeys_survive_yaml_dsl_yaml_with_unchanged_ir(journey: Journey) -> None:
    """A generated journey printed as YAML, converted to DSL and back to YAML compiles to the
    same IR at every stage, with no errors."""
    yaml1 = print_yaml(journey)
    first = _compile(yaml1, "gen.yaml")
    errors = [d for d in first.diagnostics if d.severity is Severity.ERROR]
    assert not errors, [f"{d.code} {d.message}" for d in errors]
    assert first.ast is not None
    dsl = print_dsl(first.ast)
    second = _compile(dsl, "gen.journey")
    assert second.ast is not None
    yaml2 = print_yaml(second.ast)
    third = _compile(yaml2, "gen.yaml")
    assert _ir_json(first) == _ir_json(second) == _ir_json(third)


@_SETTINGS
@given(scheduled_journeys())
def test_scheduled_journeys_round_trip_through_both_spellings(journey: Journey) -> None:
    """A segment journey on any calendar (with send windows and `wait until next`) prints to
    YAML and DSL that parse back to the same AST and compile, clean, to the same graph."""
    yaml1, dsl = print_yaml(journey), print_dsl(journey)
    first, second = _compile(yaml1, "gen.yaml"), _compile(dsl, "gen.journey")
    for result in (first, second):
        errors = [d for d in result.diagnostics if d.severity is Severity.ERROR]
        assert not errors, [f"{d.code} {d.message}" for d in errors]
    assert first.ast == second.ast == journey
    assert _ir_json(first) == _ir_json(second)


def _never_raises(text: str, name: str) -> None:
    result = _compile(text, name)
    assert isinstance(result, CompileResult)
    for d in result.diagnostics:
        assert d.span.line >= 1
        assert d.span.column >= 1
        assert d.code.startswith("JD")


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=300), st.sampled_from(["x.journey", "x.yaml"]))
def test_random_text_never_raises(text: str, name: str) -> None:
    """Any text, in either spelling, ends in a result with positioned diagnostics."""
    _never_raises(text, name)


_yaml_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "journey",
                    "steps",
                    "send",
                    "channel",
                    "entry",
                    "event",
                    "if",
                    "then",
                    "wait_for",
                    "repeat",
                    "outcomes",
                    "params",
                    "uses",
                    "x",
                ]
            ),
            children,
            max_size=5,
        )
    ),
    max_leaves=20,
)


@settings(max_examples=150, deadline=None)
@given(_yaml_values)
def test_random_yaml_structures_never_raise(value: object) -> None:
    """Random YAML documents built from journey-ish keys never make check raise."""
    _never_raises(yaml.safe_dump(value), "x.yaml")


@settings(max_examples=80, deadline=None)
@given(st.sampled_from(EXAMPLE_FILES), st.floats(min_value=0, max_value=1))
def test_truncated_examples_never_raise(path: Path, cut: float) -> None:
    """Every prefix of a real journey file gives diagnostics, never a traceback."""
    text = path.read_text(encoding="utf-8")
    _never_raises(text[: int(len(text) * cut)], path.name)
