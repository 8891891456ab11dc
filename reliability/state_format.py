"""State-format stability: golden files of persisted instance state, per state format, that must
still load and resume.

    python -m reliability.state_format                 # check every golden (the figures)
    python -m reliability.state_format --write DIR     # write a golden of the current format

A golden is a folder ``tests/fixtures/state/format-N/`` written by the engine of state format N
(:data:`journeydsl.runtime.codec.STATE_FORMAT`): a scenario (:data:`PROFILES`, :data:`EVENTS`) of
both example journeys is run on the SQLite store up to :data:`CUT`, a moment when instances wait
in every way a journey can wait (a reminder round, a telesales deadline, a timer, a condition, an
offer), one message is held by quiet hours and one is due for a retry, and others have ended. The
folder holds

* ``state.sqlite``: the store as it was at the cut;
* ``state.json``: the same instance records and outbox entries as JSON (what a host's own store
  would hold), with the engine bookkeeping (``meta``);
* ``events.jsonl`` (before the cut), ``resume.jsonl`` (after it) and ``profiles.jsonl``;
* ``expected.json``: the actions and outcomes the resumed run gave when the golden was written.

:func:`check` loads each golden into the SQLite store (a copy of ``state.sqlite``) and into the
in-memory stores (from ``state.json``), resumes it to :data:`UNTIL` and compares with
``expected.json``. tests/runtime/test_state_format.py also fails when the records the current
engine writes no longer have the shape of the current format's golden: changing the shape means
a new format, a new golden and a migration for the old records.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import sys
import tempfile
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from journeydsl import __version__
from journeydsl.ast import CHANNELS
from journeydsl.runtime.codec import STATE_FORMAT
from journeydsl.runtime.engine import Engine
from journeydsl.runtime.events import coerce_event, event_id
from journeydsl.runtime.protocols import (
    DeliveryResult,
    DeliveryStatus,
    Message,
    OutboxEntry,
    ProfileStore,
    StateStore,
)
from journeydsl.runtime.stores.sqlite import SQLiteStore, parse_profile
from journeydsl.testing import (
    MemoryEventStore,
    MemoryProfileStore,
    MemoryStateStore,
    RecordingActions,
    RecordingChannel,
    RecordingTickets,
    SteppableClock,
)
from reliability._common import ICT, JOURNEYS, ROOT, Driver, compiled, main_for, profile_line

GOLDEN = ROOT / "tests" / "fixtures" / "state"


def _t(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=ICT)


#: The moment the state is kept, and how far the resumed run goes.
CUT = _t("2026-01-11T22:30:00")
UNTIL = _t("2026-03-15T00:00:00")

PROFILES = [
    profile_line("g-app", True, {"email": True, "sms": True, "zns": True, "push": True}),
    profile_line("g-noapp", False, {"email": True, "sms": True, "zns": True}),
    profile_line("g-late", False, {"email": True, "sms": True, "zns": False}),
    profile_line("g-spender", True, {"email": True, "zns": True, "push": True}),
    profile_line("g-dormant", False, {"email": True, "zns": True}),
    profile_line("g-retry", False, {"email": True, "sms": True}),
]


def _ev(cid: str, etype: str, at: str, **data: Any) -> dict[str, Any]:
    return {"customer_id": cid, "type": etype, "at": _t(at).isoformat(), "data": data}


def _tx(cid: str, at: str, amount: int, merchant: str = "Tiki") -> dict[str, Any]:
    return _ev(
        cid,
        "transaction",
        at,
        amount=amount,
        currency="VND",
        merchant=merchant,
        category="shopping",
    )


EVENTS = [
    # g-dormant: last spent in October, picked up by the daily segment on 2026-01-10; waits for
    # the offer to be registered at the cut.
    _ev("g-dormant", "card_activated", "2025-06-01T10:00:00", card_id="kd"),
    _tx("g-dormant", "2025-10-11T12:00:00", 2_000_000, merchant="Vietjet"),
    # g-app: never activates: waits in the reminder rounds at the cut.
    _ev("g-app", "card_issued", "2026-01-05T10:00:00", card_id="ka", product="gold"),
    # g-late: issued in the evening: its SMS reminder falls in quiet hours, held at the cut.
    _ev("g-late", "card_issued", "2026-01-09T21:10:00", card_id="kl", product="gold"),
    # g-noapp: activates, waits for the first-spend timer at the cut.
    _ev("g-noapp", "card_issued", "2026-01-05T14:00:00", card_id="kn", product="classic"),
    _ev("g-noapp", "card_activated", "2026-01-06T10:00:00", card_id="kn"),
    # g-spender: activated early, waits for the spend condition (fee waiver) at the cut.
    _ev("g-spender", "card_issued", "2026-01-01T09:00:00", card_id="ks", product="platinum"),
    _ev("g-spender", "card_activated", "2026-01-01T11:00:00", card_id="ks"),
    _tx("g-spender", "2026-01-03T12:00:00", 300_000),
    # g-retry: its welcome e-mail fails once: due for a retry at the cut.
    _ev("g-retry", "card_issued", "2026-01-11T22:00:00", card_id="kr", product="gold"),
    # After the cut.
    _tx("g-spender", "2026-01-20T12:00:00", 800_000),
    _ev("g-late", "card_activated", "2026-01-14T09:00:00", card_id="kl"),
    _ev("g-dormant", "offer_registered", "2026-01-12T10:00:00", offer="general_cashback"),
    _tx("g-noapp", "2026-01-12T12:00:00", 150_000, merchant="Coop"),
]


def _flaky_welcome(message: Message) -> DeliveryResult:
    if message.customer_id == "g-retry" and message.template == "welcome_activation_guide":
        return DeliveryResult(DeliveryStatus.FAILED_TRANSIENT, "mail server busy")
    return DeliveryResult(DeliveryStatus.DELIVERED)


class _Sinks:
    def __init__(self, flaky: bool) -> None:
        script = _flaky_welcome if flaky else None
        self.channels = {c: RecordingChannel(c, script) for c in CHANNELS}
        self.tickets = RecordingTickets()
        self.actions = RecordingActions()

    def actions_seen(self) -> list[list[Any]]:
        sent = [
            ["send", m.customer_id, m.node, m.channel, m.template, m.at.isoformat()]
            for c in self.channels.values()
            for m in c.delivered
        ]
        sent += [
            ["ticket", t.customer_id, t.node, t.queue, t.priority, t.at.isoformat()]
            for t in self.tickets.opened
        ]
        sent += [
            ["action", cid, key.split(":")[3], "", "", ""] for key, cid, _ in self.actions.calls
        ]
        return sorted(sent)


def _engine(
    events: Any, profiles: ProfileStore, state: StateStore, clock: SteppableClock, sinks: _Sinks
) -> Engine:
    return Engine(
        [compiled(j) for j in JOURNEYS],
        events=events,
        profiles=profiles,
        state=state,
        clock=clock,
        channels=sinks.channels,
        tickets=sinks.tickets,
        actions={"annual_fee_waiver": sinks.actions},
    )


def _split() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    ordered = sorted(EVENTS, key=lambda e: datetime.fromisoformat(e["at"]))
    before = [e for e in ordered if datetime.fromisoformat(e["at"]) <= CUT]
    after = [e for e in ordered if datetime.fromisoformat(e["at"]) > CUT]
    return before, after


def _resume(
    events: Any, profiles: ProfileStore, state: StateStore, resume: Sequence[dict[str, Any]]
) -> tuple[list[list[Any]], dict[str, list[Any]]]:
    sinks = _Sinks(flaky=False)
    clock = SteppableClock(CUT)
    engine = _engine(events, profiles, state, clock, sinks)
    Driver(engine, clock).feed(resume, until=UNTIL)
    scan: Any = state
    outcomes = {r["id"]: [r["status"], r["outcome"]] for r in scan.all_instances()}
    return sinks.actions_seen(), outcomes


def _meta(db: Path) -> dict[str, str]:
    """Engine bookkeeping and processed-event markers, read from the file (the store keeps
    them for the engine and has no listing method)."""
    conn = sqlite3.connect(db)
    try:
        meta = dict(conn.execute("SELECT key, value FROM engine_meta ORDER BY key").fetchall())
    finally:
        conn.close()
    return meta


def _processed(db: Path) -> list[str]:
    conn = sqlite3.connect(db)
    try:
        return [r[0] for r in conn.execute("SELECT id FROM processed_events ORDER BY id")]
    finally:
        conn.close()


def _entry_json(e: OutboxEntry) -> dict[str, Any]:
    return {
        "key": e.key,
        "kind": e.kind,
        "customer_id": e.customer_id,
        "payload": e.payload,
        "not_before": e.not_before.isoformat(),
        "attempts": e.attempts,
        "status": e.status,
    }


def produce(folder: Path) -> dict[str, Any]:
    """Run the scenario to the cut with the current engine into ``folder`` (``state.sqlite``,
    ``state.json``, the JSON Lines inputs); returns ``state.json``'s content."""
    folder.mkdir(parents=True, exist_ok=True)
    before, after = _split()
    db = folder / "state.sqlite"
    db.unlink(missing_ok=True)
    with SQLiteStore(db) as store:
        store.add_profiles(parse_profile(p) for p in PROFILES)
        clock = SteppableClock(datetime.fromisoformat(before[0]["at"]))
        engine = _engine(store, store, store, clock, _Sinks(flaky=True))
        Driver(engine, clock).feed(before, until=CUT)
        state = {
            "state_format": STATE_FORMAT,
            "written_by": f"journeydsl {__version__}",
            "cut": CUT.isoformat(),
            "instances": store.all_instances(),
            "outbox": [_entry_json(e) for e in store.outbox()],
        }
    state["meta"] = _meta(db)
    state["processed"] = _processed(db)
    (folder / "state.json").write_text(
        json.dumps(state, indent=1, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    for name, rows in (("events", before), ("resume", after), ("profiles", PROFILES)):
        (folder / f"{name}.jsonl").write_text(
            "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
        )
    return state


def write(folder: Path) -> None:
    """Write a golden of the current state format into ``folder``: the state at the cut and
    what resuming it gives today."""
    produce(folder)
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "state.sqlite"
        shutil.copyfile(folder / "state.sqlite", copy)
        with SQLiteStore(copy) as store:
            actions, outcomes = _resume(store, store, store, _read(folder / "resume.jsonl"))
    expected = {"until": UNTIL.isoformat(), "actions": actions, "outcomes": outcomes}
    (folder / "expected.json").write_text(
        json.dumps(expected, indent=1, ensure_ascii=False) + "\n", encoding="utf-8"
    )


def _read(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def load_memory(
    folder: Path,
) -> tuple[MemoryEventStore, MemoryProfileStore, MemoryStateStore]:
    """A golden's ``state.json`` (and its events and profiles) in the in-memory stores, as a host
    that keeps the records in its own database would load them."""
    state = json.loads((folder / "state.json").read_text(encoding="utf-8"))
    journeys = [compiled(j) for j in JOURNEYS]
    schemas: dict[str, Mapping[str, Any]] = {}
    for j in journeys:
        for name, fields in j.event_types.items():
            schemas.setdefault(name, fields)
    events = MemoryEventStore()
    for raw in _read(folder / "events.jsonl"):
        events.append(event_id(raw), coerce_event(raw, schemas))
    profiles = MemoryProfileStore([parse_profile(p) for p in _read(folder / "profiles.jsonl")])
    store = MemoryStateStore()
    outbox = [
        OutboxEntry(
            e["key"],
            e["kind"],
            e["customer_id"],
            e["payload"],
            datetime.fromisoformat(e["not_before"]),
            e["attempts"],
            e["status"],
        )
        for e in state["outbox"]
    ]
    store.commit(state["instances"], outbox, meta=state["meta"])
    for eid in state["processed"]:
        store.commit([], [], processed_event=eid)
    return events, profiles, store


def check(folder: Path) -> dict[str, Any]:
    """Resume one golden on both stores; what differs from its ``expected.json``."""
    expected = json.loads((folder / "expected.json").read_text(encoding="utf-8"))
    resume = _read(folder / "resume.jsonl")
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "state.sqlite"
        shutil.copyfile(folder / "state.sqlite", copy)
        with SQLiteStore(copy) as store:
            out["sqlite"] = _resume(store, store, store, resume)
    events, profiles, state = load_memory(folder)
    out["memory"] = _resume(events, profiles, state, resume)
    figures: dict[str, Any] = {}
    for store_name, (actions, outcomes) in out.items():
        figures[store_name] = {
            "instances": len(outcomes),
            "actions": len(actions),
            "actions_differing": len(
                {tuple(a) for a in actions} ^ {tuple(a) for a in expected["actions"]}
            ),
            "outcomes_differing": sum(
                1
                for k in outcomes.keys() | expected["outcomes"].keys()
                if outcomes.get(k) != expected["outcomes"].get(k)
            ),
        }
    return figures


def goldens() -> list[tuple[int, Path]]:
    """Every golden folder, ``(format, folder)``, oldest format first."""
    found = []
    for folder in sorted(GOLDEN.glob("format-*")):
        suffix = folder.name.removeprefix("format-")
        if suffix.isdigit():
            found.append((int(suffix), folder))
    return sorted(found)


def run(size: int, seed: int, write_to: str | None = None) -> dict[str, Any]:
    """Check every golden (``size`` resumes of each, on both stores; ``seed`` is unused: the
    goldens are fixed); or, with ``write_to``, write a golden of the current format."""
    if write_to:
        write(Path(write_to))
        return {"written": write_to, "state_format": STATE_FORMAT}
    figures: dict[str, Any] = {"state_format": STATE_FORMAT, "goldens": {}}
    for fmt, folder in goldens():
        per = [check(folder) for _ in range(max(1, size))]
        figures["goldens"][f"format-{fmt}"] = per[-1] | {"resumes": len(per) * 2}
    figures["differing"] = sum(
        g[s]["actions_differing"] + g[s]["outcomes_differing"]
        for g in figures["goldens"].values()
        for s in ("sqlite", "memory")
    )
    figures["missing_golden_for_current_format"] = int(
        STATE_FORMAT not in {f for f, _ in goldens()}
    )
    return figures


def _extra(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--write",
        dest="write_to",
        metavar="DIR",
        help=f"write a golden of the current format (e.g. {GOLDEN}/format-{STATE_FORMAT})",
    )


def main(argv: Sequence[str] | None = None) -> int:
    """The command line; exit 1 when a golden does not resume as recorded."""
    figures = main_for("state_format", run, argv, default_size=1, extra=_extra)
    return 1 if figures.get("differing") or figures.get("missing_golden_for_current_format") else 0


if __name__ == "__main__":
    sys.exit(main())
