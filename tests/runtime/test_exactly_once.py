"""Exactly once for real: what a host sink's failure, a journey's own instance key, a quarantined
event, a host's open batch and an engine missing a handler do to delivered effects."""

from __future__ import annotations

import errno
import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from journeydsl.compiler import compile_file, compile_source
from journeydsl.ir import Journey
from journeydsl.runtime.engine import Engine
from journeydsl.runtime.protocols import (
    DeliveryResult,
    DeliveryStatus,
    Message,
    Profile,
    SinkError,
    is_network_error,
)
from journeydsl.runtime.stores.memory import (
    MemoryEventStore,
    MemoryProfileStore,
    MemoryStateStore,
)
from journeydsl.runtime.stores.sqlite import SQLiteStore
from journeydsl.testing import RecordingChannel, SteppableClock

ICT = timezone(timedelta(hours=7))
T0 = datetime(2026, 1, 5, 10, 0, tzinfo=ICT)
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

KEYED = """
journey platinum_welcome version 1
entry on card_issued
  key trigger.product
  reentry always
send email welcome_activation_guide transactional {
  card_id: trigger.card_id, product: trigger.product
}
wait for card_activated until entered_at + 3d timeout {
  send email activation_reminder transactional { round: 1 }
}
"""


def _keyed_journey(tmp_path: Path) -> Journey:
    source = KEYED.replace(
        "entry on", 'uses events "events.yaml"\nuses templates "templates.yaml"\nentry on', 1
    )
    result = compile_source(source, str(tmp_path / "keyed.journey"), EXAMPLES)
    assert result.journey is not None, result.diagnostics
    return result.journey


def _onboarding() -> Journey:
    journey = compile_file(EXAMPLES / "onboarding_new_cardholder.journey").journey
    assert journey is not None
    return journey


def _issued(customer: str, card: str = "k1", product: str = "platinum", **extra: Any) -> Any:
    return {
        "customer_id": customer,
        "type": "card_issued",
        "at": T0.isoformat(),
        "data": {"card_id": card, "product": product},
        **extra,
    }


def _profile(customer: str) -> Profile:
    return Profile(customer, {}, dict.fromkeys(("email", "sms", "zns", "push"), True), "")


def _engine(journey: Journey, state: Any, channel: Any, **kw: Any) -> Engine:
    profiles = kw.pop("profiles", None) or MemoryProfileStore([_profile(c) for c in ("c1", "c2")])
    return Engine(
        [journey],
        events=kw.pop("events", None) or MemoryEventStore(),
        profiles=profiles,
        state=state,
        clock=kw.pop("clock", None) or SteppableClock(T0),
        channels={"email": channel},
        **kw,
    )


# --------------------------------------------------------------------------- host sinks


class _FullDisk:
    """A channel whose own storage fails (a full disk) for the first ``failures`` calls."""

    def __init__(self, failures: int, exc: BaseException) -> None:
        self.failures = failures
        self.exc = exc
        self.delivered: list[str] = []

    def send(self, message: Message) -> DeliveryResult:
        if self.failures > 0:
            self.failures -= 1
            raise self.exc
        if message.idempotency_key not in self.delivered:
            self.delivered.append(message.idempotency_key)
        return DeliveryResult(DeliveryStatus.DELIVERED)


def test_a_full_disk_in_a_channel_stops_the_work_and_leaves_the_effect_pending(
    tmp_path: Path,
) -> None:
    """An OSError that is not a network error (ENOSPC) reaches the host, the outbox entry
    stays pending, and the next call delivers it once: no retry, fallback or suppression."""
    state = MemoryStateStore()
    channel = _FullDisk(1, OSError(errno.ENOSPC, "No space left on device"))
    actions: list[dict[str, Any]] = []
    engine = _engine(_keyed_journey(tmp_path), state, channel, on_action=actions.append)
    with pytest.raises(OSError, match="No space left"):
        engine.ingest(_issued("c1"))
    (entry,) = state.outbox()
    assert (entry.status, entry.attempts) == ("pending", 0)
    assert actions == []
    engine.deliver()
    assert [e.status for e in state.outbox()] == ["done"]
    assert len(channel.delivered) == 1
    assert [a["kind"] for a in actions] == ["send"]


def test_a_sink_error_is_never_taken_for_a_channel_answer(tmp_path: Path) -> None:
    """SinkError from a channel propagates and is not recorded as a failure or suppression."""
    state = MemoryStateStore()
    channel = _FullDisk(5, SinkError("actions.jsonl: cannot write"))
    engine = _engine(_keyed_journey(tmp_path), state, channel)
    for _ in range(3):
        with pytest.raises(SinkError):
            engine.deliver() if state.outbox() else engine.ingest(_issued("c1"))
    assert [(e.status, e.attempts) for e in state.outbox()] == [("pending", 0)]


@pytest.mark.parametrize(
    ("exc", "network"),
    [
        (TimeoutError("gateway"), True),
        (ConnectionResetError(errno.ECONNRESET, "reset"), True),
        (OSError(errno.EHOSTUNREACH, "no route"), True),
        (OSError(errno.ENOSPC, "full"), False),
        (OSError(errno.EIO, "I/O error"), False),
        (PermissionError(errno.EACCES, "denied"), False),
    ],
)
def test_only_network_errors_count_as_a_transient_channel_failure(
    exc: OSError, network: bool
) -> None:
    """is_network_error tells a gateway's network failure from the host's own disk."""
    assert is_network_error(exc) is network


# --------------------------------------------------------------------------- instance keys


def test_a_journey_key_scopes_instances_within_one_customer(tmp_path: Path) -> None:
    """Two customers issued a card of the same product (the journey's key) get an instance and
    effects each; neither overwrites the other's."""
    state = MemoryStateStore()
    channel = RecordingChannel("email")
    engine = _engine(_keyed_journey(tmp_path), state, channel)
    engine.ingest(_issued("c1", "k1"))
    engine.ingest(_issued("c2", "k2"))
    ids = {i["customer_id"]: i["id"] for c in ("c1", "c2") for i in state.instances_of(c)}
    assert ids == {"c1": "platinum_welcome/c1/1#platinum", "c2": "platinum_welcome/c2/1#platinum"}
    assert sorted(m.customer_id for m in channel.delivered) == ["c1", "c2"]
    engine.tick(T0 + timedelta(days=3))
    reminders = [m.customer_id for m in channel.delivered if m.template == "activation_reminder"]
    assert sorted(reminders) == ["c1", "c2"]


def test_a_second_entry_of_one_customer_and_key_is_numbered(tmp_path: Path) -> None:
    """Re-entry under the same key counts the customer's own earlier instances."""
    state = MemoryStateStore()
    engine = _engine(_keyed_journey(tmp_path), state, RecordingChannel("email"))
    engine.ingest(_issued("c1", "k1"))
    engine.ingest({**_issued("c1", "k1"), "type": "card_activated", "data": {"card_id": "k1"}})
    engine.ingest({**_issued("c1", "k2"), "at": (T0 + timedelta(hours=1)).isoformat()})
    assert [i["id"] for i in state.instances_of("c1")] == [
        "platinum_welcome/c1/1#platinum",
        "platinum_welcome/c1/2#platinum",
    ]


# --------------------------------------------------------------------------- quarantine


POSTGRES = pytest.param("postgres", marks=pytest.mark.postgres)


def _store(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> Any:
    """A new durable store of ``kind`` (``sqlite`` or ``postgres``), closed after the test."""
    if kind == "postgres":
        from journeydsl.runtime.stores.postgres import PostgresStore

        store: Any = PostgresStore(request.getfixturevalue("pg_dsn"))
    else:
        store = SQLiteStore(tmp_path / "s.db")
    request.addfinalizer(store.close)
    return store


def _committed_rows(store: Any, key: str) -> int:
    """How many outbox rows with idempotency key ``key`` another connection sees committed."""
    if isinstance(store, SQLiteStore):
        other = sqlite3.connect(store.path)
        try:
            (rows,) = other.execute(
                "SELECT COUNT(*) FROM outbox WHERE key || ':email' = ?", (key,)
            ).fetchone()
        finally:
            other.close()
        return int(rows)
    import psycopg

    with psycopg.connect(store.dsn) as conn:
        found = conn.execute(
            "SELECT COUNT(*) FROM outbox WHERE key || ':email' = %s", (key,)
        ).fetchone()
    return int(found[0]) if found else 0


@pytest.mark.parametrize("store", ["memory", "sqlite", POSTGRES])
def test_a_quarantined_event_is_kept_and_its_correction_is_processed(
    tmp_path: Path, store: str, request: pytest.FixtureRequest
) -> None:
    """A bad event goes to the store's quarantine, not into the processed set: the corrected
    event with the same id is processed, and leaves the quarantine."""
    state: Any = MemoryStateStore() if store == "memory" else _store(store, tmp_path, request)
    channel = RecordingChannel("email")
    engine = _engine(_keyed_journey(tmp_path), state, channel)
    bad = _issued("c1", extra_field=None)
    bad["data"] = {"card_id": 7, "product": "platinum"}  # card_id must be a string
    bad["id"] = "ev-1"
    first = engine.ingest(bad)
    assert first.quarantined is not None
    assert "card_id" in first.quarantined
    (kept,) = state.quarantined()
    assert (kept.event_id, kept.count) == ("ev-1", 1)
    assert '"card_id": 7' in kept.event
    again = engine.ingest(bad)
    assert again.quarantined is not None
    assert state.quarantined()[0].count == 2
    fixed = {**bad, "data": {"card_id": "k7", "product": "platinum"}}
    result = engine.ingest(fixed)
    assert (result.duplicate, result.quarantined, len(result.entered)) == (False, None, 1)
    assert state.quarantined() == []
    assert [m.params["card_id"] for m in channel.delivered] == ["k7"]


def test_replay_takes_quarantined_events_again_after_the_catalog_is_fixed(tmp_path: Path) -> None:
    """replay_quarantined runs kept events through an engine whose catalog now accepts them:
    those are processed and leave the quarantine; the rest stay, counted again."""
    catalog = (EXAMPLES / "events.yaml").read_text(encoding="utf-8")
    (tmp_path / "templates.yaml").write_text(
        (EXAMPLES / "templates.yaml").read_text(encoding="utf-8"), encoding="utf-8"
    )

    def journey(products: str) -> Journey:
        (tmp_path / "events.yaml").write_text(
            catalog.replace(
                "    product: string", f"    product: {{type: enum, values: [{products}]}}", 1
            ),
            encoding="utf-8",
        )
        source = KEYED.replace(
            "entry on", 'uses events "events.yaml"\nuses templates "templates.yaml"\nentry on', 1
        )
        result = compile_source(source, str(tmp_path / "keyed.journey"))
        assert result.journey is not None, result.diagnostics
        return result.journey

    state = SQLiteStore(tmp_path / "s.db")
    old = _engine(journey("gold"), state, RecordingChannel("email"))
    numbered = {**_issued("c1"), "id": "ev-9", "data": {"card_id": "k9", "product": "platinum"}}
    wrong = {**_issued("c2"), "id": "ev-10", "data": {"card_id": "k1", "product": "tin"}}
    assert old.ingest(numbered).quarantined is not None
    assert old.ingest(wrong).quarantined is not None
    channel = RecordingChannel("email")
    fixed = _engine(journey("gold, platinum"), state, channel)
    results = {r.event_id: r for r in fixed.replay_quarantined()}
    assert results["ev-9"].quarantined is None
    assert results["ev-9"].entered
    assert results["ev-10"].quarantined is not None
    assert [(q.event_id, q.count) for q in state.quarantined()] == [("ev-10", 2)]
    assert [m.customer_id for m in channel.delivered] == ["c1"]


@pytest.mark.parametrize("text", ["not json", "[1, 2]", '{"customer_id": "c1", "type": '])
def test_text_that_is_no_event_is_kept_as_it_came_through_replays(
    tmp_path: Path, text: str
) -> None:
    """A line that is not an event is kept with its own text and reason, and replaying it
    (twice) leaves both as they were (it was rewritten as {"raw": …} and then refused for a
    missing customer_id)."""
    state = SQLiteStore(tmp_path / "s.db")
    engine = _engine(_keyed_journey(tmp_path), state, RecordingChannel("email"))
    reason = engine.ingest(text).quarantined
    assert reason is not None
    (kept,) = state.quarantined()
    assert (kept.event, kept.reason) == (text, reason)
    for _ in range(2):
        (again,) = engine.replay_quarantined()
        assert again.quarantined == reason
    (kept,) = state.quarantined()
    assert (kept.event, kept.reason, kept.count) == (text, reason, 3)
    state.close()


# --------------------------------------------------------------------------- after the commit


@pytest.mark.parametrize("kind", ["sqlite", POSTGRES])
def test_no_message_leaves_before_the_hosts_batch_has_committed(
    tmp_path: Path, kind: str, request: pytest.FixtureRequest
) -> None:
    """Inside a host's batch the engine holds deliveries back: when the channel is called, a
    second connection already sees the outbox entry committed, and nothing is sent before."""
    store = _store(kind, tmp_path, request)
    seen_committed: list[int] = []

    def committed(message: Message) -> DeliveryResult:
        seen_committed.append(_committed_rows(store, message.idempotency_key))
        return DeliveryResult(DeliveryStatus.DELIVERED)

    channel = RecordingChannel("email", committed)
    store.add(_profile("c1"))
    engine = _engine(
        _onboarding(), store, channel, profiles=store, events=store, unhandled="withhold"
    )
    with store.batch():
        engine.ingest(_issued("c1"))
        assert channel.attempts == []  # held back: the batch has not committed
    assert [m.template for m in channel.delivered] == ["welcome_activation_guide"]
    assert seen_committed == [1]


@pytest.mark.parametrize("kind", ["sqlite", POSTGRES])
def test_a_tick_loop_inside_a_batch_ends_and_delivers_at_the_commit(
    tmp_path: Path, kind: str, request: pytest.FixtureRequest
) -> None:
    """A host loop `while next_wakeup() <= t: tick()` inside a batch ends: the held deliveries
    are no work for tick until the commit, which then hands them out once."""
    channel = RecordingChannel("email")
    store = _store(kind, tmp_path, request)
    store.add(_profile("c1"))
    engine = _engine(
        _onboarding(), store, channel, profiles=store, events=store, unhandled="withhold"
    )
    at = T0
    with store.batch():
        engine.ingest(_issued("c1"))
        ticks = 0
        while (wake := engine.next_wakeup()) is not None and wake <= at and ticks < 5:
            engine.tick(wake)
            ticks += 1
        assert ticks == 0
    assert [m.template for m in channel.delivered] == ["welcome_activation_guide"]
    after = engine.next_wakeup()
    assert after is None or after > at


@pytest.mark.parametrize("kind", ["sqlite", POSTGRES])
def test_a_rolled_back_batch_sends_nothing(
    tmp_path: Path, kind: str, request: pytest.FixtureRequest
) -> None:
    """A batch that rolls back drops the deliveries it held: no message for a state change that
    was never committed."""
    channel = RecordingChannel("email")
    store = _store(kind, tmp_path, request)
    store.add(_profile("c1"))
    engine = _engine(
        _onboarding(), store, channel, profiles=store, events=store, unhandled="withhold"
    )

    def host_work() -> None:
        with store.batch():
            engine.ingest(_issued("c1"))
            raise RuntimeError("the host's own work failed")

    with pytest.raises(RuntimeError):
        host_work()
    engine.deliver()
    assert channel.attempts == []
    assert store.outbox() == []


# --------------------------------------------------------------------------- handlers


def test_an_engine_refuses_journeys_whose_channels_have_no_gateway() -> None:
    """Engine(...) names every channel, the ticket sink and the reward the journey uses that
    nothing handles, instead of falling back silently."""
    with pytest.raises(ValueError, match="no handler registered") as caught:
        _engine(_onboarding(), MemoryStateStore(), RecordingChannel("email"))
    text = str(caught.value)
    for what in (
        "channel 'push'",
        "channel 'zns'",
        "channel 'sms'",
        "a ticket sink",
        "reward handler 'annual_fee_waiver'",
    ):
        assert what in text


def test_a_declared_withhold_is_listed_by_explain() -> None:
    """unhandled="withhold" is the declared choice, and explain says what is unhandled."""
    state = MemoryStateStore()
    engine = _engine(_onboarding(), state, RecordingChannel("email"), unhandled="withhold")
    engine.ingest(_issued("c1"))
    (explained,) = engine.explain("c1")
    assert any(u.startswith("channel 'push'") for u in explained["unhandled"])
