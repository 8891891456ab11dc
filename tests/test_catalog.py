"""The catalog loader reads YAML as ``yaml.safe_load`` would, and says so when it cannot: a key
given twice is an error at the second one, and merge keys are applied."""

from __future__ import annotations

from pathlib import Path

from journeydsl.compiler import compile_file

JOURNEY = """journey opened version 1
uses events "events.yaml"
outcomes done
entry on message_opened
if trigger.extra == "x" and trigger.channel == "push" { exit done }
exit done
"""


def _compile(tmp_path: Path, events: str) -> list[str]:
    (tmp_path / "events.yaml").write_text(events, encoding="utf-8")
    (tmp_path / "j.journey").write_text(JOURNEY, encoding="utf-8")
    result = compile_file(tmp_path / "j.journey")
    return [f"{d.span.line}:{d.span.column} {d.code} {d.message}" for d in result.diagnostics]


def test_an_event_given_twice_in_the_events_catalog_is_an_error(tmp_path: Path) -> None:
    """An event or field named twice in a catalog is JD106 at the second one (the first's line
    in the hint), not the last definition silently replacing the first."""
    events = (
        "events:\n"
        "  message_opened:\n"
        "    extra: string\n"
        "    channel: string\n"
        "  message_opened:\n"
        "    channel: string\n"
    )
    assert _compile(tmp_path, events)[0] == "5:3 JD106 duplicate key 'message_opened'"
    result = compile_file(tmp_path / "j.journey")
    assert result.diagnostics[0].hint == "'message_opened' is first given at line 2; give it once"


def test_merge_keys_in_a_catalog_are_applied(tmp_path: Path) -> None:
    """`<<: *base` in an events catalog gives the event the base's fields (the mapping's own
    keys win), as in journeys, instead of "'<<' is not a valid name"."""
    events = (
        "events:\n"
        "  message_delivered: &message\n"
        "    channel: string\n"
        "    extra: int\n"
        "  message_opened:\n"
        "    <<: *message\n"
        "    extra: string\n"
    )
    assert _compile(tmp_path, events) == []
    bad = events.replace("<<: *message", "<<: 5")
    assert _compile(tmp_path, bad)[0].startswith("6:9 JD109 '<<' merges mappings only")
