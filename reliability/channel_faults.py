"""Channel-fault campaign: every channel fails transiently, permanently, times out and answers
slowly, and still every message reaches the customer at most once, and no instance gets stuck.

    python -m reliability.channel_faults --size 2000

Both example journeys run in process (the engine over an SQLite store, as ``journeydsl run``
drives it: see :class:`reliability._common.Driver`) over a stream of ``size`` customers, twice:
once with perfect channels (the baseline) and once with each channel behind a
:class:`FaultyGateway`. Per attempt a gateway times out (5 %, raising :class:`TimeoutError`; half of
those after the provider did send the message, so the answer alone was lost), fails transiently
(30 %) or answers slowly (5 %); 5 % of messages fail permanently on a given channel (a blocked
number). Like a real provider, a gateway remembers the idempotency keys it has sent and
acknowledges a repeat without sending again.

Figures: ``messages`` (sends the journeys made), ``delivered_exactly_once``, ``duplicates``
(messages that reached the customer more than once, target 0), ``lost`` (messages neither
delivered nor suppressed with a reason, or marked done without a delivery, target 0),
``suppressed`` (by policy: no consent or no app; and after every channel failed), ``retries``
(transient answers and timeouts, each retried), ``fallbacks`` (delivered on a later channel of
the fallback chain), ``host_exceptions`` (timeouts that reached the host), ``stuck`` (instances
neither ended nor waiting for a future time, target 0) and ``outcomes_differing`` (instances
whose outcome differs from the baseline's, target 0: faults change how a message travels, never
the customer's path).
"""

from __future__ import annotations

import argparse
import hashlib
import random
import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from journeydsl.ast import CHANNELS
from journeydsl.runtime.engine import Engine
from journeydsl.runtime.protocols import DeliveryResult, DeliveryStatus, Message
from journeydsl.runtime.stores.sqlite import SQLiteStore, parse_profile
from journeydsl.testing import RecordingActions, RecordingTickets, SteppableClock
from reliability._common import JOURNEYS, START, Driver, compiled, load_history, main_for, stream

#: The run goes on this long after the last event, so every wait has timed out.
TAIL = timedelta(days=60)
_OK = DeliveryResult(DeliveryStatus.DELIVERED)


@dataclass
class Ledger:
    """What reached customers, across every channel: logical message → channel keys."""

    deliveries: dict[str, list[str]] = field(default_factory=dict)

    def record(self, message: Message) -> None:
        """A message was sent to the customer."""
        logical = message.idempotency_key.rsplit(":", 1)[0]
        self.deliveries.setdefault(logical, []).append(message.idempotency_key)


@dataclass
class FaultyGateway:
    """A message provider with faults (see the module docstring); deduplicates on the key."""

    name: str
    seed: int
    ledger: Ledger
    transient: float = 0.30
    permanent: float = 0.05
    timeout: float = 0.05
    slow: float = 0.05
    slow_seconds: float = 0.0005
    counts: Counter[str] = field(default_factory=Counter)
    _sent: set[str] = field(default_factory=set)
    _rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(f"{self.seed}:{self.name}")

    def _blocked(self, key: str) -> bool:
        digest = hashlib.sha256(f"{self.seed}:{key}".encode()).digest()
        return int.from_bytes(digest[:4], "big") / 2**32 < self.permanent

    def _send(self, message: Message) -> None:
        self._sent.add(message.idempotency_key)
        self.ledger.record(message)

    def send(self, message: Message) -> DeliveryResult:
        """One attempt (Channel protocol)."""
        self.counts["attempts"] += 1
        key = message.idempotency_key
        if key in self._sent:
            self.counts["repeats_acknowledged"] += 1
            return DeliveryResult(DeliveryStatus.DELIVERED, "already sent")
        if self._blocked(key):
            self.counts["permanent"] += 1
            return DeliveryResult(DeliveryStatus.FAILED_PERMANENT, "number blocked")
        draw = self._rng.random()
        if draw < self.timeout:
            self.counts["timeouts"] += 1
            if self._rng.random() < 0.5:
                self.counts["timeouts_after_sending"] += 1
                self._send(message)
            raise TimeoutError(f"{self.name} gateway did not answer in time")
        if draw < self.timeout + self.transient:
            self.counts["transient"] += 1
            return DeliveryResult(DeliveryStatus.FAILED_TRANSIENT, "provider busy")
        if draw < self.timeout + self.transient + self.slow:
            self.counts["slow"] += 1
            time.sleep(self.slow_seconds)
        self._send(message)
        return _OK


@dataclass
class _Outcome:
    instances: dict[str, dict[str, Any]]
    outbox: list[Any]
    ledger: Ledger
    gateways: dict[str, FaultyGateway]
    driver: Driver
    end: datetime
    suppressed: list[dict[str, Any]]


def _run(
    work: Path, size: int, seed: int, faults: bool, events: list[Any], profiles: list[Any]
) -> _Outcome:
    journeys = [compiled(p) for p in JOURNEYS]
    ledger = Ledger()
    scale = 1.0 if faults else 0.0
    gateways = {
        c: FaultyGateway(
            c,
            seed,
            ledger,
            transient=0.30 * scale,
            permanent=0.05 * scale,
            timeout=0.05 * scale,
            slow=0.05 * scale,
        )
        for c in CHANNELS
    }
    suppressed: list[dict[str, Any]] = []

    def on_action(record: dict[str, Any]) -> None:
        if record["kind"] == "suppressed":
            suppressed.append(record)

    db = work / ("faulty.sqlite" if faults else "baseline.sqlite")
    with SQLiteStore(db, synchronous="OFF") as store:
        store.add_profiles(parse_profile(p) for p in profiles)
        clock = SteppableClock(START)
        engine = Engine(
            journeys,
            events=store,
            profiles=store,
            state=store,
            clock=clock,
            channels=gateways,
            tickets=RecordingTickets(),
            actions={"annual_fee_waiver": RecordingActions()},
            on_action=on_action,
        )
        later = load_history(store, engine, events, START)
        driver = Driver(engine, clock)
        end = datetime.fromisoformat(later[-1]["at"]) + TAIL
        driver.feed(later, until=end)
        instances = {r["id"]: r for r in store.all_instances()}
        outbox = store.outbox()
    return _Outcome(instances, outbox, ledger, gateways, driver, end, suppressed)


def _stuck(inst: dict[str, Any], end: datetime) -> bool:
    if inst["status"] == "ended":
        return False
    if inst["status"] != "waiting":
        return True
    due = inst.get("due")
    return due is None or datetime.fromisoformat(due) <= end


def run(size: int, seed: int, workdir: str | None = None) -> dict[str, Any]:
    """Run the campaign for ``size`` customers; returns the figures."""
    work = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="jd-faults-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        events, profiles = stream(size, seed)
        base = _run(work, size, seed, False, events, profiles)
        got = _run(work, size, seed, True, events, profiles)
    finally:
        if workdir is None:
            shutil.rmtree(work, ignore_errors=True)
    sends = [e for e in got.outbox if e.kind == "send"]
    delivered = got.ledger.deliveries
    status = Counter(e.status for e in sends)
    in_retry = [e for e in sends if e.status == "pending" and e.not_before > got.end]
    lost = [
        e
        for e in sends
        if (e.status == "done" and e.key not in delivered)
        or e.status == "failed"
        or (e.status == "pending" and e.not_before <= got.end)
    ]
    fallbacks = sum(
        1
        for e in sends
        if e.key in delivered and delivered[e.key][0].rsplit(":", 1)[1] != e.payload["chain"][0]
    )
    after_failures = sum(1 for r in got.suppressed if "failed" in str(r.get("reason", "")))
    counts: Counter[str] = Counter()
    for g in got.gateways.values():
        counts.update(g.counts)
    outcomes = {k: (v["status"], v["outcome"]) for k, v in got.instances.items()}
    baseline = {k: (v["status"], v["outcome"]) for k, v in base.instances.items()}
    return {
        "customers": size,
        "instances": len(got.instances),
        "messages": len(sends),
        "delivered_exactly_once": sum(1 for e in sends if len(delivered.get(e.key, ())) == 1),
        "duplicates": sum(1 for keys in delivered.values() if len(keys) > 1),
        "lost": len(lost),
        "still_in_retry_at_end": len(in_retry),
        "suppressed": status["suppressed"],
        "suppressed_by_policy": status["suppressed"] - after_failures,
        "suppressed_after_failures": after_failures,
        "baseline_delivered": len(base.ledger.deliveries),
        "attempts": counts["attempts"],
        "retries": counts["transient"] + counts["timeouts"],
        "transient_failures": counts["transient"],
        "timeouts": counts["timeouts"],
        "timeouts_after_sending": counts["timeouts_after_sending"],
        "permanent_failures": counts["permanent"],
        "slow_answers": counts["slow"],
        "repeats_acknowledged": counts["repeats_acknowledged"],
        "fallbacks": fallbacks,
        "host_exceptions": got.driver.host_exceptions,
        "host_gave_up": got.driver.gave_up,
        "stuck": sum(1 for i in got.instances.values() if _stuck(i, got.end)),
        "outcomes_differing": sum(
            1 for k in baseline.keys() | outcomes.keys() if baseline.get(k) != outcomes.get(k)
        ),
    }


#: The figures that must be zero.
MUST_BE_ZERO = ("duplicates", "lost", "stuck", "outcomes_differing", "host_gave_up")


def _extra(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--workdir", help="keep the state files here (default: a temporary folder)")


def main(argv: Sequence[str] | None = None) -> int:
    """The command line; exit 1 when a must-be-zero figure is not zero."""
    figures = main_for("channel_faults", run, argv, default_size=2000, extra=_extra)
    return 1 if any(figures[k] for k in MUST_BE_ZERO) else 0


if __name__ == "__main__":
    sys.exit(main())
