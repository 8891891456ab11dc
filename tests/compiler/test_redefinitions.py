"""One journey id and version defined in two files (journeydsl/compiler/redefinitions.py): a
different graph is a conflict (JD106 at the later file), the same graph (the other spelling) is
not."""

from __future__ import annotations

from pathlib import Path

from journeydsl import ir
from journeydsl.compiler import compile_source
from journeydsl.compiler.redefinitions import Definitions, redefinitions
from journeydsl.diagnostics import Span

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
TEXT = 'journey same{version}\nuses events "events.yaml"\nentry on card_issued\ntag {tag}\n'


def _journey(tag: str, version: str = "") -> ir.Journey:
    result = compile_source(TEXT.format(tag=tag, version=version), "x.journey", EXAMPLES)
    assert result.journey is not None, result.diagnostics
    return result.journey


def _at(file: str) -> Span:
    return Span(file, 1, 9, 1, 13)


def test_a_different_graph_under_the_same_id_and_version_is_reported_at_the_later_file() -> None:
    """a.journey and b.journey both define `same` v1 differently: one JD106, at b, naming a."""
    found = redefinitions(
        [
            ("a.journey", _journey("a"), _at("a.journey")),
            ("b.journey", _journey("b"), _at("b.journey")),
        ]
    )
    assert [(d.code, d.span.file, d.message, d.hint) for d in found] == [
        (
            "JD106",
            "b.journey",
            "journey same version 1 is also defined, differently, in a.journey",
            "give one of them a new version",
        )
    ]


def test_the_same_graph_or_another_version_is_no_conflict() -> None:
    """The same graph twice (its two spellings) and another version of it are both fine."""
    journeys = [
        ("a.journey", _journey("a"), _at("a.journey")),
        ("a.yaml", _journey("a"), _at("a.yaml")),
        ("b.journey", _journey("b", " version 2"), _at("b.journey")),
    ]
    assert redefinitions(journeys) == []


def test_the_first_definition_is_kept() -> None:
    """`Definitions.add` records the first file of an id and version and gives it back later."""
    definitions = Definitions()
    first, second = _journey("a"), _journey("b")
    assert definitions.add("a.journey", first) is None
    earlier = definitions.add("b.journey", second)
    assert earlier is not None
    assert earlier.file == "a.journey"
    assert earlier.conflicts_with(second)
    assert not earlier.conflicts_with(first)
