"""A delivery round over the SQLite store saves its outcomes in one transaction: one sync for the
round, and a sink that fails midway keeps what was settled before it."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from journeydsl.runtime.protocols import DeliveryResult, DeliveryStatus, Message, SinkError
from journeydsl.runtime.stores.sqlite import SQLiteStore
from tests.runtime.scenario import Event, Run, build, ev, example, local, profile

CUSTOMERS = ["c-1", "c-2", "c-3"]


def _issued(customer: str) -> Event:
    return ev(customer, "card_issued", local("2026-01-05 09:00"), card_id="k", product="gold")


def _run(store: SQLiteStore, fail_for: str | None, first_transient: bool = False) -> Run:
    tried: set[str] = set()

    def script(message: Message) -> DeliveryResult:
        if first_transient and message.customer_id not in tried:
            tried.add(message.customer_id)  # (a gateway timeout: retried a minute later)
            return DeliveryResult(DeliveryStatus.FAILED_TRANSIENT, "timeout")
        if message.customer_id == fail_for:
            raise SinkError("the actions file cannot be written")
        return DeliveryResult(DeliveryStatus.DELIVERED)

    return build(
        [example("onboarding_new_cardholder")],
        (),
        start=local("2026-01-05 09:00"),
        scripts={"email": script},
        state=store,
        events=store,
        profile_store=store,
    )


def _statuses(db: Path) -> dict[str, str]:
    """The outbox as another connection sees it: what was committed."""
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT customer_id, status FROM outbox").fetchall()
    return dict(rows)


@pytest.mark.parametrize("batched", [True, False], ids=["host-batch", "tick"])
def test_a_failing_sink_keeps_the_outcomes_settled_before_it(tmp_path: Path, batched: bool) -> None:
    """Three welcome e-mails due in one round, the second customer's sink raising: the first
    is committed as done, the others stay pending, and a rerun hands over only those."""
    db = tmp_path / "s.sqlite"
    with SQLiteStore(db) as store:
        for c in CUSTOMERS:
            store.add(profile(c))
        run = _run(store, fail_for="c-2", first_transient=not batched)
        if batched:  # deliveries wait for the host's commit, then run as one round

            def ingest_in_one_batch() -> None:
                with store.batch():
                    for c in CUSTOMERS:
                        run.engine.ingest(_issued(c))

            with pytest.raises(SinkError):  # (raised once the batch has committed)
                ingest_in_one_batch()
        else:  # the first attempts fail for a while: the retries come in one round
            for c in CUSTOMERS:
                run.engine.ingest(_issued(c))
            assert set(_statuses(db).values()) == {"pending"}
            with pytest.raises(SinkError):
                run.engine.deliver(local("2026-01-05 09:05"))
        assert _statuses(db) == {"c-1": "done", "c-2": "pending", "c-3": "pending"}
        delivered = [m.customer_id for m in run.channels["email"].delivered]
        assert delivered == ["c-1"]
    with SQLiteStore(db) as store:
        rerun = _run(store, fail_for=None)
        rerun.engine.deliver(local("2026-01-05 09:05"))
        assert sorted(m.customer_id for m in rerun.channels["email"].delivered) == ["c-2", "c-3"]
        assert _statuses(db) == dict.fromkeys(CUSTOMERS, "done")


def test_a_round_is_one_transaction(tmp_path: Path) -> None:
    """The outcomes of three messages handed over in one round are written in one
    transaction, committed after the last hand-over."""
    db = tmp_path / "s.sqlite"
    with SQLiteStore(db) as store:
        for c in CUSTOMERS:
            store.add(profile(c))
        run = _run(store, fail_for=None)
        statements: list[str] = []
        email = run.channels["email"]
        send = email.send

        def marked(message: Message) -> DeliveryResult:
            statements.append("-- send")
            return send(message)

        email.send = marked  # type: ignore[method-assign]
        with store.batch():
            for c in CUSTOMERS:
                run.engine.ingest(_issued(c))
            store._conn.set_trace_callback(statements.append)
        round_ = statements[statements.index("COMMIT") + 1 :]
        assert [s for s in round_ if s.startswith(("BEGIN", "COMMIT", "-- send"))] == [
            "BEGIN IMMEDIATE",
            *["-- send"] * 3,
            "COMMIT",
        ]


def test_a_delivery_at_a_time_without_an_offset_is_a_clear_error() -> None:
    """`engine.deliver(datetime.now())`, a time without a UTC offset, is a ValueError that
    says so, not a silent round at no instant."""
    from datetime import datetime

    r = build(
        [example("onboarding_new_cardholder")], [profile("c1")], start=local("2026-01-05 10:00")
    )
    with pytest.raises(ValueError, match="aware time"):
        r.engine.deliver(datetime(2026, 1, 6, 10, 0))
