"""The asyncio facade: `await worker.ingest(event)` hands the event to the worker's own thread,
answers once its step is committed (processed or quarantined; or accepted, without waiting),
never blocks the event loop, and carries the worker's start and stop; the HTTP service of
docs/embedding.md answers POSTed events that way against a real PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import re
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from journeydsl.compiler import compile_file
from journeydsl.runtime.aio import AsyncWorker, IngestReceipt
from journeydsl.runtime.file_channel import FileChannel
from journeydsl.runtime.protocols import Profile
from journeydsl.runtime.stores.postgres import PostgresStore
from journeydsl.runtime.worker import SystemClock, Worker, WorkerHealth

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "embedding.md"


def _issued(customer: str, n: int = 1) -> dict[str, Any]:
    at = datetime.now(UTC) - timedelta(seconds=30)
    return {
        "id": f"{customer}-{n}",
        "customer_id": customer,
        "type": "card_issued",
        "at": at.isoformat(),
        "data": {"card_id": "k", "product": "gold"},
    }


def _opener(dsn: str, actions: Path) -> Any:
    journey = compile_file(ROOT / "examples" / "onboarding_new_cardholder.journey").journey
    assert journey is not None

    def open_worker() -> Worker:
        store = PostgresStore(dsn, buckets=4)
        store.add_profiles(
            Profile(f"c-{n}", {"has_digital_app": False}, {"email": True}) for n in range(5)
        )
        sink = FileChannel(actions)
        return Worker(
            [journey],
            store=store,
            channels=dict.fromkeys(["email", "sms", "zns", "push"], sink),
            tickets=sink,
            actions={"annual_fee_waiver": sink.named("annual_fee_waiver", "reward")},
            clock=SystemClock(),
            poll=0.05,
        )

    return open_worker


@pytest.mark.postgres
def test_ingest_answers_once_committed_without_blocking_the_loop(
    tmp_path: Path, pg_dsn: str
) -> None:
    """Three events awaited at once come back processed (their instances are in the
    database), a line that is not JSON comes back quarantined, the same event again is
    processed at once, wait=False answers accepted; a coroutine beside them kept running."""
    events = [_issued(f"c-{n}") for n in range(3)]

    async def main() -> tuple[list[IngestReceipt], IngestReceipt, IngestReceipt, int, Any]:
        ticks = 0
        done = asyncio.Event()

        async def beside() -> None:
            nonlocal ticks
            while not done.is_set():
                ticks += 1
                await asyncio.sleep(0)

        async with AsyncWorker(_opener(pg_dsn, tmp_path / "a.jsonl")) as worker:
            running = asyncio.create_task(beside())
            receipts = list(await asyncio.gather(*(worker.ingest(e) for e in events)))
            bad = await worker.ingest("this is not json")
            again = await worker.ingest(json.dumps(events[0]))
            health = worker.health()  # (before the event not awaited, which it may count)
            accepted = await worker.ingest(_issued("c-4"), wait=False)
            done.set()
            await running
        return [*receipts, again], bad, accepted, ticks, health

    receipts, bad, accepted, ticks, health = asyncio.run(main())
    assert [(r.event_id, r.state) for r in receipts] == [
        ("c-0-1", "processed"),
        ("c-1-1", "processed"),
        ("c-2-1", "processed"),
        ("c-0-1", "processed"),
    ]
    assert bad.state == "quarantined"
    assert bad.reason
    assert (accepted.event_id, accepted.state) == ("c-4-1", "accepted")
    assert ticks > 0
    assert isinstance(health, WorkerHealth)
    assert health.events == 3
    with PostgresStore(pg_dsn) as store:
        assert all(store.instances_of(f"c-{n}") for n in range(3))
    sent = [json.loads(x) for x in (tmp_path / "a.jsonl").read_text().splitlines()]
    assert {a["customer_id"] for a in sent} >= {"c-0", "c-1", "c-2"}


def test_a_worker_that_cannot_start_says_why() -> None:
    """The factory's error reaches `await start()`; ingest before a start is refused."""

    def broken() -> Worker:
        raise ValueError("no such database")

    async def main() -> None:
        worker = AsyncWorker(broken)
        with pytest.raises(RuntimeError, match="not running"):
            await worker.ingest({"id": "e"})
        with pytest.raises(ValueError, match="no such database"):
            await worker.start()

    asyncio.run(main())


def _service_block() -> str:
    blocks: list[str] = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    return next(b for b in blocks if "async def serve_events" in b)


@pytest.mark.postgres
def test_the_http_service_of_the_embedding_guide_answers_posted_events(
    tmp_path: Path, pg_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """docs/embedding.md's asyncio HTTP service: POST /events answers processed, with the
    event id, once committed; a bad event answers quarantined; another path 404."""
    monkeypatch.chdir(ROOT)
    namespace: dict[str, Any] = {"__name__": "embedding_service"}
    exec(compile(_service_block(), f"{DOC}:service", "exec"), namespace)
    with PostgresStore(pg_dsn, buckets=4) as store:
        store.add(Profile("c-1", {"has_digital_app": False}, {"email": True}))

    def post(port: int, path: str, body: bytes) -> tuple[int, dict[str, Any]]:
        request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=body)
        try:
            with urllib.request.urlopen(request, timeout=60) as page:
                return page.status, json.loads(page.read())
        except urllib.error.HTTPError as refused:
            return refused.code, json.loads(refused.read())

    async def main() -> list[tuple[int, dict[str, Any]]]:
        actions = str(tmp_path / "a.jsonl")
        async with AsyncWorker(lambda: namespace["open_worker"](pg_dsn, actions)) as worker:
            server = await namespace["serve_events"](worker, 0)
            port = server.sockets[0].getsockname()[1]
            async with server:
                good = json.dumps(_issued("c-1")).encode()
                return [
                    await asyncio.to_thread(post, port, "/events", good),
                    await asyncio.to_thread(post, port, "/events", b'{"id": "x"}'),
                    await asyncio.to_thread(post, port, "/other", b""),
                ]

    answers = asyncio.run(main())
    assert answers[0] == (200, {"event_id": "c-1-1", "state": "processed"})
    assert answers[1][0] == 200
    assert answers[1][1]["state"] == "quarantined"
    assert answers[2] == (404, {"error": "POST /events"})
