"""Text that is not valid Unicode (a lone surrogate, which JSON's ``\\ud800`` escape carries into
Python) anywhere in an event — its data, its id, a field the contract does not name — is
quarantined with its reason and kept by the store, never an exception out of the engine, and the
events after it are taken; a rerun does the same."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from journeydsl.cli import main
from journeydsl.runtime.engine import Engine
from journeydsl.runtime.stores.sqlite import SQLiteStore
from journeydsl.testing import SteppableClock
from tests.runtime.scenario import example, local

T0 = local("2026-01-05 10:00")
VALID = {
    "customer_id": "c-2",
    "type": "card_issued",
    "at": T0.isoformat(),
    "data": {"card_id": "k-2", "product": "gold"},
}


def _engine(store: SQLiteStore) -> Engine:
    return Engine(
        [example("onboarding_new_cardholder")],
        events=store,
        profiles=store,
        state=store,
        clock=SteppableClock(T0),
        unhandled="withhold",
    )


_text = st.text(alphabet=st.sampled_from(["a", "é", "\ud800", "\udfff"]), max_size=4)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    where=st.sampled_from(["id", "card_id", "extra", "customer_id", "key"]),
    text=_text,
)
def test_an_event_with_invalid_text_anywhere_is_quarantined_or_taken_never_raised(
    where: str, text: str
) -> None:
    """Whatever field holds the text, ingest returns (quarantined or taken), the store keeps the
    quarantined event as JSON that reads back to the same event, and the next event is taken."""
    event: dict[str, Any] = json.loads(json.dumps(VALID | {"customer_id": "c-1"}))
    if where == "card_id":
        event["data"]["card_id"] = text
    elif where == "key":
        event["data"] = {text: "x", **event["data"]}
    else:
        event[where] = text or "x"
    with tempfile.TemporaryDirectory() as folder, SQLiteStore(Path(folder) / "s.db") as store:
        engine = _engine(store)
        result = engine.ingest(event)
        if result.quarantined is not None:
            (kept,) = store.quarantined()
            # (as JSON reads it: an escaped surrogate pair reads back as its one character)
            assert json.loads(kept.event) == json.loads(json.dumps(event))
        assert engine.ingest(VALID).quarantined is None
        assert engine.ingest(event).quarantined == result.quarantined  # (a rerun: the same)


def test_run_quarantines_a_line_with_a_lone_surrogate_and_takes_the_rest(tmp_path: Path) -> None:
    """`journeydsl run` over a file whose first line escapes a lone surrogate in its id and the
    second in its data: both quarantined with their reasons, the third taken; exit 0, and a
    rerun takes nothing twice."""
    lines = [
        json.dumps(VALID | {"id": "x\ud800", "customer_id": "c-1"}),
        json.dumps(VALID | {"customer_id": "c-3", "data": {"card_id": "\udc00", "product": "p"}}),
        json.dumps(VALID),
    ]
    events = tmp_path / "events.jsonl"
    events.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    journey = Path(__file__).resolve().parents[2] / "examples" / "onboarding_new_cardholder.journey"
    argv = ["run", str(journey), "--db", str(tmp_path / "s.db"), "--events", str(events)]
    argv += ["--actions", str(tmp_path / "actions.jsonl")]
    assert main(argv) == 0
    with SQLiteStore(tmp_path / "s.db") as store:
        reasons = sorted(q.reason for q in store.quarantined())
        assert reasons == [
            "'id' is not valid Unicode text (it holds a lone surrogate)",
            "a value in 'data' is not valid Unicode text (it holds a lone surrogate)",
        ]
        assert [i["customer_id"] for i in store.all_instances()] == ["c-2"]
    assert main(argv) == 0
