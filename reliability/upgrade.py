"""Live-upgrade campaign: version 2 of the onboarding journey is deployed while about ``size``
version-1 instances are in flight, under both upgrade policies.

    python -m reliability.upgrade --size 10000

New cardholders get their cards in four waves, five days apart (:func:`reliability._common.stream`,
no dormant customers); on day 21, with instances waiting at every step of version 1 (reminder
rounds, the telesales deadline, the first-spend nudge, the spend goal), the deploy happens, and
more cardholders keep arriving for five more days (a tenth as many). The state at the deploy is
kept, and the rest of the stream runs three times from it, each on its own copy:

* ``control``: version 1 only, as if nothing had been deployed;
* ``finish_on_v1`` (the default policy): versions 1 and 2 loaded; in-flight instances finish on
  version 1, new entrants take version 2;
* ``migrate``: the waiting version-1 instances are moved to version 2 through
  examples/upgrade/onboarding_v1_to_v2.yaml (:func:`journeydsl.runtime.migrate.migrate`, one
  commit), then versions 1 and 2 loaded.

Figures, per policy: ``lost`` (an instance in flight at the deploy that neither ended nor waits
for a future time at the end, or that disappeared, or an outbox entry never delivered nor
suppressed), ``double_messaged`` (instances that got one message twice: the same key, or the same
template, channel and params), and for ``finish_on_v1`` ``differing_from_control`` (in-flight
instances whose actions after the deploy differ from the control's: finishing on version 1 must
change nothing for them) and the version new entrants got; for ``migrate`` how many moved, from
which step, and that none of their later steps ran on version 1. ``lost_or_double_messaged`` sums
them (target 0).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from journeydsl import ir
from journeydsl.ast import CHANNELS
from journeydsl.runtime.engine import Engine
from journeydsl.runtime.migrate import MigrationReport, migrate, read_mapping
from journeydsl.runtime.protocols import Message
from journeydsl.runtime.stores.sqlite import SQLiteStore, parse_profile
from journeydsl.testing import RecordingActions, RecordingChannel, RecordingTickets, SteppableClock
from reliability._common import (
    EXAMPLES,
    ONBOARDING,
    START,
    Driver,
    Event,
    compiled,
    main_for,
    stream,
)

V2 = EXAMPLES / "upgrade" / "onboarding_new_cardholder_v2.journey"
MAPPING = EXAMPLES / "upgrade" / "onboarding_v1_to_v2.yaml"
WAVES = tuple(timedelta(days=d) for d in (0, 5, 10, 15))
DEPLOY = START + timedelta(days=21)
END = DEPLOY + timedelta(days=60)
#: Cardholders per instance wanted in flight (some of the first wave have ended by the deploy).
IN_FLIGHT_FACTOR = 1.12


@dataclass
class _Run:
    instances: dict[str, dict[str, Any]]
    outbox: list[Any]
    delivered: list[Message]
    effects: list[tuple[str, str]]  # (instance id, idempotency key) of tickets and actions
    report: MigrationReport | None = None


def _sinks() -> tuple[dict[str, RecordingChannel], RecordingTickets, RecordingActions]:
    return {c: RecordingChannel(c) for c in CHANNELS}, RecordingTickets(), RecordingActions()


def _phase(
    db: Path,
    journeys: Sequence[ir.Journey],
    start: datetime,
    events: Sequence[Event],
    until: datetime,
) -> _Run:
    channels, tickets, actions = _sinks()
    with SQLiteStore(db, synchronous="OFF") as store:
        clock = SteppableClock(start)
        engine = Engine(
            journeys,
            events=store,
            profiles=store,
            state=store,
            clock=clock,
            channels=channels,
            tickets=tickets,
            actions={"annual_fee_waiver": actions},
        )
        Driver(engine, clock).feed(events, until=until)
        instances = {r["id"]: r for r in store.all_instances()}
        outbox = store.outbox()
    delivered = [m for c in channels.values() for m in c.delivered]
    effects = [(t.idempotency_key.split(":")[2], t.idempotency_key) for t in tickets.opened]
    effects += [(key.split(":")[2], key) for key, _, _ in actions.calls]
    return _Run(instances, outbox, delivered, effects)


def _instance_of(key: str) -> str:
    # journey:version:instance:node:visit[:channel]; instance ids hold no ':'
    return key.split(":")[2]


def _double_messaged(messages: Sequence[Message]) -> set[str]:
    seen_keys: Counter[str] = Counter(m.idempotency_key for m in messages)
    doubled = {_instance_of(k) for k, n in seen_keys.items() if n > 1}
    same: Counter[tuple[str, str, str, str]] = Counter(
        (
            _instance_of(m.idempotency_key),
            m.template,
            m.channel,
            json.dumps(m.params, sort_keys=True, default=str),
        )
        for m in messages
    )
    return doubled | {k[0] for k, n in same.items() if n > 1}


def _settled(inst: dict[str, Any] | None) -> bool:
    """Ended, or waiting for a time after the end of the run."""
    if inst is None:
        return False
    if inst["status"] == "ended":
        return True
    due = inst.get("due")
    if inst["status"] != "waiting" or not isinstance(due, str):
        return False
    return datetime.fromisoformat(due) > END


def _lost(before: dict[str, dict[str, Any]], after: _Run) -> int:
    lost = sum(1 for iid in before if not _settled(after.instances.get(iid)))
    return lost + sum(1 for e in after.outbox if e.status not in ("done", "suppressed"))


def _actions_by_instance(
    messages: Sequence[Message], effects: Sequence[tuple[str, str]]
) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for m in messages:
        out.setdefault(_instance_of(m.idempotency_key), []).append(m.idempotency_key)
    for iid, key in effects:
        out.setdefault(iid, []).append(key)
    return {k: sorted(v) for k, v in out.items()}


def run(size: int, seed: int, workdir: str | None = None) -> dict[str, Any]:
    """Run the campaign with ``size`` instances in flight; returns the figures."""
    work = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="jd-upgrade-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        return _campaign(work, size, seed)
    finally:
        if workdir is None:
            shutil.rmtree(work, ignore_errors=True)


def _campaign(work: Path, size: int, seed: int) -> dict[str, Any]:
    v1, v2 = compiled(ONBOARDING), compiled(V2)
    mapping, problems, _ = read_mapping(MAPPING)
    if mapping is None:
        raise RuntimeError(f"{MAPPING}: {[str(d) for d in problems]}")
    # Four waves of cardholders, five days apart, so that at the deploy instances wait at every
    # step of version 1 (reminder rounds, the telesales deadline, the nudge, the spend goal);
    # some of the first wave have ended by then.
    events, profiles = [], []
    per_wave = -(-round(size * IN_FLIGHT_FACTOR) // len(WAVES))
    for n, offset in enumerate(WAVES):
        wave, wave_profiles = stream(
            per_wave, seed + n, dormant_every=0, prefix=f"w{n}-", start=START + offset
        )
        events += wave
        profiles += wave_profiles
    late, late_profiles = stream(
        max(1, size // 10), seed + 99, dormant_every=0, prefix="n-", start=DEPLOY
    )
    profiles += late_profiles
    events = sorted([*events, *late], key=lambda e: datetime.fromisoformat(e["at"]))
    before = [e for e in events if datetime.fromisoformat(e["at"]) < DEPLOY]
    after = [e for e in events if datetime.fromisoformat(e["at"]) >= DEPLOY]

    snapshot = work / "deploy.sqlite"
    with SQLiteStore(snapshot, synchronous="OFF") as store:
        store.add_profiles(parse_profile(p) for p in profiles)
    pre = _phase(snapshot, [v1], START, before, DEPLOY)
    in_flight = {k: v for k, v in pre.instances.items() if v["status"] == "waiting"}

    runs: dict[str, _Run] = {}
    for policy, journeys in (("control", [v1]), ("finish_on_v1", [v1, v2]), ("migrate", [v1, v2])):
        db = work / f"{policy}.sqlite"
        shutil.copyfile(snapshot, db)
        report = None
        if policy == "migrate":
            with SQLiteStore(db, synchronous="OFF") as store:
                report = migrate(store, mapping, v1, v2, at=DEPLOY)
        runs[policy] = _phase(db, journeys, DEPLOY, after, END)
        runs[policy].report = report

    control, finish, moved = runs["control"], runs["finish_on_v1"], runs["migrate"]
    control_actions = _actions_by_instance(control.delivered, control.effects)
    finish_actions = _actions_by_instance(finish.delivered, finish.effects)
    new_entrants = {k: v for k, v in finish.instances.items() if k not in pre.instances}
    figures: dict[str, Any] = {
        "customers": len(profiles),
        "in_flight_at_deploy": len(in_flight),
        "instances_before_deploy": len(pre.instances),
    }
    figures["finish_on_v1"] = {
        "lost": _lost(in_flight, finish),
        "double_messaged": len(_double_messaged([*pre.delivered, *finish.delivered])),
        "in_flight_finished_on_v1": sum(
            1
            for k in in_flight
            if finish.instances[k]["version"] == 1 and finish.instances[k]["status"] == "ended"
        ),
        "differing_from_control": sum(
            1 for k in in_flight if finish_actions.get(k) != control_actions.get(k)
        ),
        "new_entrants": len(new_entrants),
        "new_entrants_on_v2": sum(1 for v in new_entrants.values() if v["version"] == 2),
    }
    report = moved.report
    assert report is not None
    migrated_ids = {k for k in in_flight if moved.instances[k]["version"] == 2}
    v1_after = [
        m
        for m in moved.delivered
        if _instance_of(m.idempotency_key) in migrated_ids and m.version == 1
    ]
    created_after = {
        e.key
        for e in moved.outbox
        if "created" in e.payload and datetime.fromisoformat(e.payload["created"]) >= DEPLOY
    }
    figures["migrate"] = {
        "migrated": report.migrated,
        "migrated_by_step": dict(sorted(report.by_step.items())),
        "lost": _lost(in_flight, moved),
        "double_messaged": len(_double_messaged([*pre.delivered, *moved.delivered])),
        "v1_steps_after_migration": sum(
            1
            for e in moved.outbox
            if e.key in created_after
            and e.payload.get("instance") in migrated_ids
            and e.payload.get("version") == 1
        ),
        "v1_messages_delivered_after_migration": len(v1_after),
        "outcomes": dict(
            sorted(Counter(str(moved.instances[k]["outcome"]) for k in in_flight).items())
        ),
    }
    figures["control_outcomes"] = dict(
        sorted(Counter(str(control.instances[k]["outcome"]) for k in in_flight).items())
    )
    figures["lost_or_double_messaged"] = sum(
        figures[p][k] for p in ("finish_on_v1", "migrate") for k in ("lost", "double_messaged")
    )
    return figures


def _extra(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--workdir", help="keep the state files here (default: a temporary folder)")


def main(argv: Sequence[str] | None = None) -> int:
    """The command line; exit 1 when an instance was lost or double-messaged, or an in-flight
    instance behaved differently under the default policy."""
    figures = main_for("upgrade", run, argv, default_size=10_000, extra=_extra)
    bad = figures["lost_or_double_messaged"] + figures["finish_on_v1"]["differing_from_control"]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
