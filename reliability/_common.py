"""What the campaigns share: paths, a recorded stream generator, drawing hypothesis examples
without a test, the in-process driver, the command line that prints one JSON line of figures."""

from __future__ import annotations

import argparse
import json
import logging
import random
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import structlog
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

from journeydsl import ir
from journeydsl.compiler import compile_file
from journeydsl.runtime.engine import Engine, IngestResult
from journeydsl.runtime.events import coerce_event, event_id
from journeydsl.runtime.protocols import EventStore
from journeydsl.testing import SteppableClock

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
ONBOARDING = EXAMPLES / "onboarding_new_cardholder.journey"
DORMANT = EXAMPLES / "dormant_reactivation.journey"
JOURNEYS = (ONBOARDING, DORMANT)
ICT = timezone(timedelta(hours=7))
#: Where every generated stream starts: new cards are issued over the following days.
START = datetime(2026, 1, 5, 8, 0, tzinfo=ICT)

Event = dict[str, Any]

_MERCHANTS = [
    ("Tiki", "shopping"),
    ("Vietjet", "travel"),
    ("Pho 24", "dining"),
    ("Coop", "groceries"),
]


def compiled(path: Path) -> ir.Journey:
    """A journey that must compile (the examples do, with the examples folder as their root:
    examples/upgrade uses the catalogs one folder up)."""
    result = compile_file(path, root=EXAMPLES)
    if result.journey is None:
        raise RuntimeError(f"{path} does not compile: {[str(d) for d in result.diagnostics]}")
    return result.journey


def profile_line(cid: str, app: bool, consent: Mapping[str, bool]) -> dict[str, Any]:
    """A profile in the DESIGN.md JSON contract."""
    return {
        "customer_id": cid,
        "attributes": {"has_digital_app": app, "segment": "mass"},
        "consent": dict(consent),
        "timezone": "Asia/Ho_Chi_Minh",
    }


def event(cid: str, etype: str, at: datetime, **data: Any) -> Event:
    """An event in the DESIGN.md JSON contract."""
    return {"customer_id": cid, "type": etype, "at": at.isoformat(), "data": data}


def stream(
    customers: int,
    seed: int,
    *,
    days: int = 40,
    dormant_every: int = 6,
    prefix: str = "c-",
    start: datetime = START,
) -> tuple[list[Event], list[dict[str, Any]]]:
    """A recorded stream for both example journeys: ``(events in time order, profiles)``.

    New cardholders get ``card_issued`` over the first five days; three in four activate within
    18 days, some install the app, most then spend a few times. Every ``dormant_every``-th
    customer is instead an old cardholder whose last spending was 120-300 days before ``start``
    (history that makes the dormant journey's daily segment pick them up; ``dormant_every=0``:
    none). Every event is off the whole minute, so none ties with a scheduled 09:00 evaluation.
    The same arguments give the same stream.
    """
    rng = random.Random(seed)
    events: list[Event] = []
    profiles: list[dict[str, Any]] = []

    def jitter(t: datetime) -> datetime:
        return t + timedelta(seconds=rng.randrange(1, 59))

    def spend(cid: str, t: datetime, low: int, high: int) -> None:
        merchant, category = rng.choice(_MERCHANTS)
        amount = rng.randrange(low, high) * 1000
        events.append(
            event(
                cid,
                "transaction",
                t,
                amount=amount,
                currency="VND",
                merchant=merchant,
                category=category,
            )
        )

    for n in range(customers):
        cid = f"{prefix}{n:05d}"
        app = rng.random() < 0.4
        consent = {"email": True, "sms": rng.random() < 0.8, "zns": rng.random() < 0.7, "push": app}
        profiles.append(profile_line(cid, app, consent))
        if dormant_every and n % dormant_every == dormant_every - 1:
            old = jitter(start - timedelta(days=rng.randrange(120, 300), hours=rng.randrange(10)))
            events.append(event(cid, "card_activated", old, card_id=f"k{n}"))
            for i in range(rng.randrange(1, 4)):
                spend(cid, jitter(old + timedelta(days=i + 1, hours=rng.randrange(8))), 100, 20_000)
            continue
        issued = jitter(start + timedelta(days=rng.randrange(5), minutes=rng.randrange(720)))
        product = rng.choice(["gold", "platinum"])
        events.append(event(cid, "card_issued", issued, card_id=f"k{n}", product=product))
        if rng.random() < 0.25:
            continue  # never activates
        activated = jitter(issued + timedelta(days=rng.randrange(18), hours=rng.randrange(10)))
        events.append(event(cid, "card_activated", activated, card_id=f"k{n}"))
        if app or rng.random() < 0.3:
            events.append(
                event(cid, "app_installed", jitter(activated + timedelta(hours=rng.randrange(48))))
            )
        t = activated
        for _ in range(rng.randrange(8)):
            t = jitter(t + timedelta(days=rng.randrange(1, 6), hours=rng.randrange(9)))
            if t > start + timedelta(days=days):
                break
            spend(cid, t, 50, 900)
    events.sort(key=lambda e: datetime.fromisoformat(e["at"]))
    return events, profiles


def write_jsonl(path: Path, rows: Iterable[Any]) -> Path:
    """Rows as JSON Lines (strings are written as they are)."""
    with path.open("w", encoding="utf-8") as f:
        for r in rows:
            f.write((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n")
    return path


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """The objects of a JSON Lines file."""
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def load_history(
    store: EventStore, engine: Engine, events: Sequence[Event], before: datetime
) -> list[Event]:
    """Put the events dated before ``before`` into ``store`` as history (they trigger nothing,
    as in ``journeydsl simulate``) and return the others, still in time order."""
    later: list[Event] = []
    for raw in events:
        if datetime.fromisoformat(raw["at"]) < before:
            store.append(event_id(raw), coerce_event(raw, engine.schemas))
        else:
            later.append(raw)
    return later


def run_examples(
    strategy: st.SearchStrategy[Any], n: int, rng_seed: int, body: Callable[[Any], None]
) -> None:
    """Call ``body`` on ``n`` examples drawn from ``strategy`` (no shrinking: body never raises)."""

    @settings(
        max_examples=n,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.generate],
    )
    @seed(rng_seed)
    @given(strategy)
    def drive(value: Any) -> None:
        body(value)

    drive()


# --------------------------------------------------------------------------- the driver


@dataclass
class Driver:
    """Feeds a stream to an engine the way ``journeydsl run`` does: before each event, everything
    due (timers, scheduled entries, deliveries) fires at its own time, then the event is ingested.

    An exception a channel raises (a timeout) passes through the engine to the host; the driver
    is a careful host: it counts it and calls again. Each call gets further (the messages before
    the one that raised are saved), so it only gives up when ``patience`` calls in a row raise
    without the backlog of due messages shrinking: a channel that always raises. The delivery is
    then left pending, and the campaign counts it as lost or stuck.
    """

    engine: Engine
    clock: SteppableClock
    patience: int = 50
    host_exceptions: int = 0
    gave_up: int = 0
    exceptions: dict[str, int] = field(default_factory=dict)

    def _backlog(self) -> int:
        return len(self.engine.state.pending_outbox(self.clock.now(), limit=1_000_000))

    def _guarded(self, call: Callable[[], Any]) -> bool:
        stalled, last = 0, None
        while True:
            try:
                call()
            except (TimeoutError, ConnectionError) as exc:
                self.host_exceptions += 1
                name = type(exc).__name__
                self.exceptions[name] = self.exceptions.get(name, 0) + 1
                backlog = self._backlog()
                stalled = stalled + 1 if last is not None and backlog >= last else 0
                last = backlog
                if stalled >= self.patience:
                    self.gave_up += 1
                    return False
                continue
            return True

    def advance(self, t: datetime) -> None:
        """Fire everything due up to ``t``, each at its own time, then move the clock to ``t``."""
        while (wake := self.engine.next_wakeup()) is not None and wake <= t:
            self.clock.set(wake)
            if not self._guarded(lambda: self.engine.tick(wake)):
                break
            after = self.engine.next_wakeup()
            if after is not None and after <= wake:
                break  # nothing more can happen at this instant
        self.clock.set(t)

    def _ingest(self, raw: Event) -> bool:
        """Ingest one event; True when it was quarantined. A retry after a channel exception
        finds the event processed (a duplicate): the first result tells what it did."""
        results: list[IngestResult] = []
        self._guarded(lambda: results.append(self.engine.ingest(raw)))
        return bool(results) and results[0].quarantined is not None

    def feed(self, events: Iterable[Event], until: datetime | None = None) -> int:
        """Ingest ``events`` in order (advancing to each), then run on to ``until``; returns how
        many events were quarantined."""
        quarantined = 0
        for raw in events:
            self.advance(datetime.fromisoformat(raw["at"]))
            quarantined += self._ingest(raw)
        if until is not None:
            self.advance(until)
            self._guarded(lambda: self.engine.deliver(until))
        return quarantined


# --------------------------------------------------------------------------- command line


def main_for(
    name: str,
    run: Callable[..., dict[str, Any]],
    argv: Sequence[str] | None,
    *,
    default_size: int,
    extra: Callable[[argparse.ArgumentParser], None] | None = None,
) -> dict[str, Any]:
    """``python -m reliability.NAME --size N [--seed S] ...``: run and print one JSON line."""
    parser = argparse.ArgumentParser(prog=f"python -m reliability.{name}")
    parser.add_argument("--size", type=int, default=default_size, help="the campaign's size")
    parser.add_argument("--seed", type=int, default=20260105, help="the random seed")
    if extra is not None:
        extra(parser)
    args = vars(parser.parse_args(argv))
    # The engine logs every step; a campaign reports through its figures.
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.ERROR))
    started = time.monotonic()
    figures = {"campaign": name, **run(**args)}
    figures["seconds"] = round(time.monotonic() - started, 1)
    print(json.dumps(figures), flush=True)
    return figures
