"""State-format stability: the golden instance states of every state format load and resume on
both built-in stores, and the current engine still writes records of the current format's shape.

Changing what an instance record or an outbox entry holds means a new STATE_FORMAT, a golden for
it (``python -m reliability.state_format --write tests/fixtures/state/format-N``, run with the
release's code) and a migration that lets the older goldens resume; see docs/reliability.md.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from journeydsl.runtime.codec import STATE_FORMAT
from reliability import state_format

GOLDENS = state_format.goldens()


def _type(value: Any) -> str:
    if isinstance(value, dict) and len(value) == 1 and next(iter(value)).startswith("$"):
        return str(next(iter(value)))  # an encoded runtime value: {"$ts": ...}
    return type(value).__name__


def shape(state: dict[str, Any]) -> dict[str, Any]:
    """What a state holds, without the values: the keys (and value types) of instance records,
    of their waits and log entries, and of outbox entries and payloads, per kind."""
    records = state["instances"]
    instance = sorted({(k, _type(v)) for r in records for k, v in r.items() if v is not None})
    wait = sorted({k for r in records if r.get("wait") for k in r["wait"]})
    log_base = sorted(set.intersection(*({*e} for r in records for e in r["log"])))
    outbox: dict[str, list[str]] = {}
    for e in state["outbox"]:
        outbox.setdefault(e["kind"], [])
        outbox[e["kind"]] = sorted({*outbox[e["kind"]], *e["payload"], *(f"entry.{k}" for k in e)})
    return {"instance": instance, "wait": wait, "log": log_base, "outbox": outbox}


def test_every_state_format_up_to_the_current_one_has_a_golden() -> None:
    """A golden exists for each state format from 1 to STATE_FORMAT, and none for a later one."""
    assert [fmt for fmt, _ in GOLDENS] == list(range(1, STATE_FORMAT + 1))


@pytest.mark.parametrize(("fmt", "folder"), GOLDENS, ids=[f"format-{f}" for f, _ in GOLDENS])
def test_golden_records_are_of_their_format(fmt: int, folder: Path) -> None:
    """Every record of a golden carries the format of its folder."""
    state = json.loads((folder / "state.json").read_text(encoding="utf-8"))
    assert state["state_format"] == fmt
    assert {r["format"] for r in state["instances"]} == {fmt}


@pytest.mark.parametrize(("fmt", "folder"), GOLDENS, ids=[f"format-{f}" for f, _ in GOLDENS])
def test_golden_state_loads_and_resumes_as_recorded_on_both_stores(fmt: int, folder: Path) -> None:
    """A golden (waits of every kind, a message held by quiet hours, one due for a retry) loads
    into the SQLite store and the in-memory stores and resumes to the recorded actions and
    outcomes."""
    figures = state_format.check(folder)
    for store in ("sqlite", "memory"):
        assert figures[store]["instances"] == 6
        assert figures[store]["actions_differing"] == 0, store
        assert figures[store]["outcomes_differing"] == 0, store


def test_the_engine_writes_records_of_the_current_formats_shape(tmp_path: Path) -> None:
    """The records the current engine persists still hold every key of the current format's
    golden, with the same types (removing, renaming or retyping one needs a new STATE_FORMAT)."""
    # A key may be added within a format when the engine reads it with a default: the golden
    # test above resumes records that lack it.
    golden = dict(GOLDENS)[STATE_FORMAT]
    expected = shape(json.loads((golden / "state.json").read_text(encoding="utf-8")))
    produced = shape(state_format.produce(tmp_path / "now"))
    missing = {
        "instance": sorted(set(map(tuple, expected["instance"])) - set(produced["instance"])),
        "wait": sorted(set(expected["wait"]) - set(produced["wait"])),
        "log": sorted(set(expected["log"]) - set(produced["log"])),
        "outbox": {
            kind: sorted(set(keys) - set(produced["outbox"].get(kind, [])))
            for kind, keys in expected["outbox"].items()
            if set(keys) - set(produced["outbox"].get(kind, []))
        },
    }
    assert missing == {"instance": [], "wait": [], "log": [], "outbox": {}}, (
        "the persisted state lost or retyped keys without a new state format: bump STATE_FORMAT "
        "in journeydsl/runtime/codec.py, write tests/fixtures/state/format-N, migrate old records"
    )
