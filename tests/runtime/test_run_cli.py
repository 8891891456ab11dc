"""`journeydsl run`: both example journeys over an event stream, the JSON Lines file channel,
and resuming after SIGKILL at random points without a lost or duplicated action."""

from __future__ import annotations

import io
import json
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from journeydsl.cli import main
from journeydsl.cli.run import run
from journeydsl.runtime.file_channel import FileChannel
from journeydsl.runtime.protocols import DeliveryStatus, Message, Ticket
from tests.catalogs import USES, example_catalogs_in

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
JOURNEYS = [
    str(EXAMPLES / "onboarding_new_cardholder.journey"),
    str(EXAMPLES / "dormant_reactivation.journey"),
]
ICT = timezone(timedelta(hours=7))


def jsonl(path: Path, rows: list[Any]) -> Path:
    path.write_text(
        "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows),
        encoding="utf-8",
    )
    return path


def read_actions(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def profile(cid: str, app: bool, **consent: bool) -> dict[str, Any]:
    return {
        "customer_id": cid,
        "attributes": {"has_digital_app": app, "segment": "mass"},
        "consent": consent,
        "timezone": "Asia/Ho_Chi_Minh",
    }


def event(cid: str, etype: str, at: str, **data: Any) -> dict[str, Any]:
    return {"customer_id": cid, "type": etype, "at": at, "data": data}


def tx(cid: str, at: str, amount: int, merchant: str = "Tiki") -> dict[str, Any]:
    return event(
        cid,
        "transaction",
        at,
        amount=amount,
        currency="VND",
        merchant=merchant,
        category="shopping",
    )


# --------------------------------------------------------------------------- a small run

PROFILES = [
    profile("c-001", True, email=True, sms=True, zns=True, push=True),
    profile("c-002", False, email=True, sms=True),
    profile("c-003", False, email=True, zns=True),
]
EVENTS: list[Any] = [
    # c-003: a cardholder who last spent in June 2025 and goes dormant 90 days later.
    event("c-003", "card_activated", "2025-05-20T10:00:00+07:00", card_id="k3"),
    tx("c-003", "2025-06-02T12:00:00+07:00", 5_000_000),
    tx("c-003", "2025-06-03T12:00:00+07:00", 1_000_000, merchant="Vietjet"),
    "this is not json",
    event("c-003", "offer_registered", "2025-09-02T10:00:00+07:00", offer="tiki_voucher"),
    # c-001: activates the next day and spends the 1,000,000 VND goal at once.
    event("c-001", "card_issued", "2026-01-05T10:00:00+07:00", card_id="k1", product="platinum"),
    # c-002: never activates.
    event("c-002", "card_issued", "2026-01-05T04:00:00Z", card_id="k2", product="gold"),
    [1, 2],
    event("c-001", "card_activated", "2026-01-06T09:30:00+07:00", card_id="k1"),
    tx("c-001", "2026-01-07T12:00:00+07:00", 1_200_000),
    event("c-002", "transaction", "2026-01-07T12:00:00", amount=1),  # no UTC offset
]
EXPECTED = {
    ("c-003", "2025-09-02T09:00:00+07:00", "send", "email", "reactivation_offer"),
    ("c-003", "2025-09-02T09:00:00+07:00", "send", "zns", "reactivation_offer"),
    ("c-003", "2025-09-02T10:00:00+07:00", "send", "email", "offer_confirmation"),
    ("c-001", "2026-01-05T10:00:00+07:00", "send", "email", "welcome_activation_guide"),
    ("c-001", "2026-01-06T09:30:00+07:00", "send", "email", "new_cardholder_promotions"),
    ("c-002", "2026-01-05T11:00:00+07:00", "send", "email", "welcome_activation_guide"),
    ("c-002", "2026-01-07T11:00:00+07:00", "send", "sms", "activation_reminder"),
    ("c-002", "2026-01-10T11:00:00+07:00", "send", "sms", "activation_reminder"),
    ("c-002", "2026-01-13T11:00:00+07:00", "send", "email", "activation_reminder"),
    ("c-002", "2026-01-16T11:00:00+07:00", "send", "sms", "activation_reminder"),
    ("c-002", "2026-01-19T11:00:00+07:00", "send", "sms", "activation_reminder"),
    ("c-002", "2026-01-22T11:00:00+07:00", "send", "email", "activation_reminder"),
    ("c-002", "2026-01-25T11:00:00+07:00", "ticket", None, "telesales"),
}


def summarise(actions: list[dict[str, Any]]) -> set[tuple[Any, ...]]:
    return {
        (
            a["customer_id"],
            a["at"],
            a["kind"],
            a.get("channel"),
            a.get("template") or a.get("queue") or a.get("name"),
        )
        for a in actions
    }


@pytest.fixture
def small(tmp_path: Path) -> dict[str, str]:
    return {
        "events": str(jsonl(tmp_path / "events.jsonl", EVENTS)),
        "profiles": str(jsonl(tmp_path / "profiles.jsonl", PROFILES)),
        "db": str(tmp_path / "state.sqlite"),
        "actions": str(tmp_path / "actions.jsonl"),
    }


def run_cli(
    capsys: pytest.CaptureFixture[str], files: dict[str, str], *extra: str
) -> tuple[int, str]:
    argv = ["run", *JOURNEYS, "--db", files["db"], "--events", files["events"]]
    argv += ["--actions", files["actions"], "--profiles", files["profiles"], *extra]
    code = main(argv)
    captured = capsys.readouterr()
    assert captured.out == ""
    return code, captured.err


def test_run_delivers_both_journeys_actions_and_quarantines_bad_lines(
    capsys: pytest.CaptureFixture[str], small: dict[str, str]
) -> None:
    """A run of both examples writes each expected action once and reports bad lines by line."""
    code, err = run_cli(capsys, small, "--now", "2026-02-20T00:00:00+07:00")
    assert code == 0
    actions = read_actions(Path(small["actions"]))
    assert summarise(actions) == EXPECTED
    assert len(actions) == len(EXPECTED)
    assert len({a["key"] for a in actions}) == len(actions)
    ticket = next(a for a in actions if a["kind"] == "ticket")
    assert ticket["payload"] == {"reason": "activation_call", "card_id": "k2"}
    assert ticket["priority"] == "normal"
    offer = next(a for a in actions if a["template"] == "reactivation_offer")
    assert offer["params"] == {"offer": "tiki_voucher"}
    assert offer["journey"] == "dormant_reactivation"
    events = small["events"]
    assert f"{events}:4: quarantined: not valid JSON" in err
    assert f"{events}:8: quarantined: an event is a JSON object" in err
    assert f"{events}:11: quarantined: 'at' has no UTC offset" in err
    assert "11 events read, 8 processed, 0 skipped as already done, 3 quarantined" in err
    assert f"13 actions delivered to {small['actions']}" in err


def test_run_compiles_a_folders_journeys_as_check_does(
    capsys: pytest.CaptureFixture[str], small: dict[str, str], tmp_path: Path
) -> None:
    """`journeydsl run FOLDER` reads the catalogs of the journeys in its subfolders from inside
    FOLDER (`uses events "../events.yaml"`), as `journeydsl check FOLDER` does; the same file
    named alone reads only from its own folder and is refused, as check refuses it."""
    import shutil

    project = tmp_path / "journeys"
    (project / "cards").mkdir(parents=True)
    for catalog in ("events.yaml", "templates.yaml"):
        shutil.copy(EXAMPLES / catalog, project / catalog)
    source = (EXAMPLES / "onboarding_new_cardholder.journey").read_text(encoding="utf-8")
    source = source.replace('"events.yaml"', '"../events.yaml"')
    source = source.replace('"templates.yaml"', '"../templates.yaml"')
    journey = project / "cards" / "onboarding.journey"
    journey.write_text(source, encoding="utf-8")
    assert main(["check", str(project)]) == 0
    argv = ["--events", small["events"], "--actions", small["actions"]]
    argv += ["--profiles", small["profiles"], "--now", "2026-02-20T00:00:00+07:00"]
    capsys.readouterr()
    assert main(["run", str(project), "--db", small["db"], *argv]) == 0
    assert {a["journey"] for a in read_actions(Path(small["actions"]))} == {
        "onboarding_new_cardholder"
    }
    other = str(tmp_path / "other.sqlite")
    assert main(["run", str(journey), "--db", other, *argv, "--new-db"]) == 1
    assert "JD113" in capsys.readouterr().err


def test_rerunning_the_same_command_skips_everything_and_duplicates_nothing(
    capsys: pytest.CaptureFixture[str], small: dict[str, str]
) -> None:
    """A second identical run processes no event again and appends no line; a quarantined
    event is not marked processed, so it is quarantined again (still 3 in the quarantine)."""
    run_cli(capsys, small, "--now", "2026-02-20T00:00:00+07:00")
    before = Path(small["actions"]).read_text(encoding="utf-8")
    code, err = run_cli(capsys, small, "--now", "2026-02-20T00:00:00+07:00")
    assert code == 0
    assert Path(small["actions"]).read_text(encoding="utf-8") == before
    assert "0 processed, 8 skipped as already done, 3 quarantined; 0 actions delivered" in err
    assert "; 3 events in quarantine in all" in err


def test_run_continues_to_a_later_now(
    capsys: pytest.CaptureFixture[str], small: dict[str, str]
) -> None:
    """Running on to an earlier --now and then a later one gives the same actions as one run."""
    run_cli(capsys, small, "--now", "2026-01-12T00:00:00+07:00")
    partial = summarise(read_actions(Path(small["actions"])))
    assert partial < EXPECTED
    run_cli(capsys, small, "--now", "2026-02-20T00:00:00+07:00")
    assert summarise(read_actions(Path(small["actions"]))) == EXPECTED


def test_run_reads_events_from_stdin(tmp_path: Path, small: dict[str, str]) -> None:
    """`--events -` reads the stream from standard input and names it <stdin> in reports."""
    err = io.StringIO()
    stdin = io.BytesIO(Path(small["events"]).read_bytes())
    code = run(
        JOURNEYS,
        db=small["db"],
        events="-",
        actions=small["actions"],
        profiles=small["profiles"],
        now=datetime(2026, 2, 20, tzinfo=ICT),
        err=err,
        stdin=stdin,
    )
    assert code == 0
    assert summarise(read_actions(Path(small["actions"]))) == EXPECTED
    assert "<stdin>:4: quarantined" in err.getvalue()


def test_without_profiles_nothing_is_sent(tmp_path: Path, small: dict[str, str]) -> None:
    """Customers without a profile have no consent: every message is withheld, and the summary
    counts them."""
    err = io.StringIO()
    code = run(
        JOURNEYS,
        db=small["db"],
        events=small["events"],
        actions=small["actions"],
        now=datetime(2026, 2, 20, tzinfo=ICT),
        err=err,
    )
    assert code == 0
    actions = read_actions(Path(small["actions"]))
    assert {a["kind"] for a in actions} == {"ticket"}  # tickets need no consent
    assert "; 3 customers have no profile (no consent" in err.getvalue()


def test_the_summary_counts_the_profile_lines_skipped(
    tmp_path: Path, small: dict[str, str]
) -> None:
    """Profile lines the run could not read are counted in its summary line, next to the
    customers left without a profile, not only told one by one above it."""
    profiles = [PROFILES[0], "not json", {**PROFILES[1], "consent": {"email": "yes"}}]
    err = io.StringIO()
    code = run(
        JOURNEYS,
        db=small["db"],
        events=small["events"],
        actions=small["actions"],
        profiles=str(jsonl(tmp_path / "bad_profiles.jsonl", profiles)),
        now=datetime(2026, 2, 20, tzinfo=ICT),
        err=err,
    )
    assert code == 0
    summary = err.getvalue().splitlines()[-1]
    assert "; 2 profile lines skipped (named above; their customers have no profile)" in summary
    assert "; 2 customers have no profile" in summary


def test_a_journey_with_errors_exits_1_with_diagnostics(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, small: dict[str, str]
) -> None:
    """A journey that does not compile stops the run before it opens the state file."""
    broken = tmp_path / "broken.journey"
    broken.write_text(
        f"journey broken version 1\n{USES}outcomes done\nentry on card_issued\n"
        "send email welcome_activaton_guide transactional\nexit done\n",
        encoding="utf-8",
    )
    example_catalogs_in(tmp_path)
    argv = ["run", str(broken), "--db", small["db"], "--events", small["events"]]
    code = main([*argv, "--actions", small["actions"]])
    err = capsys.readouterr().err
    assert code == 1
    assert f"{broken}:6:" in err
    assert "error[" in err
    assert not Path(small["db"]).exists()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--now", "2026-02-20"], "--now"),
        (["--events", "missing.jsonl"], "missing.jsonl"),
        (["--actions", "no/such/dir/out.jsonl"], "no/such/dir/out.jsonl"),
        (["--max-future", "a day"], "--max-future 'a day' is not a duration"),
    ],
)
def test_usage_errors_exit_2(
    capsys: pytest.CaptureFixture[str], small: dict[str, str], extra: list[str], message: str
) -> None:
    """A --now without an offset, a missing events file or actions folder is a usage error."""
    argv = ["run", *JOURNEYS, "--db", small["db"], "--events", small["events"]]
    argv += ["--actions", small["actions"], *extra]
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_max_future_quarantines_an_event_dated_far_ahead(
    tmp_path: Path, small: dict[str, str]
) -> None:
    """With --max-future 1d, an event dated a year ahead (a mistyped year) is quarantined with the
    reason, and the run's clock does not jump: every action is the one of the same run without
    that event. (Without the flag the clock would move a year ahead and fire every timer, and every
    daily segment evaluation, up to it.)"""
    far = event("c-001", "card_activated", "2027-01-06T09:30:00+07:00", card_id="k1")
    wall = datetime(2026, 2, 20, tzinfo=UTC)  # --now too is held to --max-future

    def go(name: str, rows: list[Any]) -> tuple[str, list[dict[str, Any]]]:
        err = io.StringIO()
        actions = tmp_path / f"{name}.jsonl"
        code = run(
            JOURNEYS,
            db=tmp_path / f"{name}.sqlite",
            events=str(jsonl(tmp_path / f"{name}-events.jsonl", rows)),
            actions=actions,
            profiles=small["profiles"],
            now=datetime(2026, 2, 20, tzinfo=ICT),
            err=err,
            max_future=timedelta(days=1),
            wall_clock=lambda: wall,
        )
        assert code == 0
        return err.getvalue(), read_actions(actions)

    err, guarded = go("guarded", [*EVENTS[:5], far, *EVENTS[5:]])
    where = str(tmp_path / "guarded-events.jsonl")
    assert f"{where}:6: quarantined: dated 2027-01-06T09:30:00+07:00, more than 24h" in err
    assert "(2026-02-20T00:00:00+00:00; --max-future)" in err
    _, plain_run = go("plain", EVENTS)
    assert summarise(guarded) == summarise(plain_run) == EXPECTED


NEW_YORK_WELCOME = """journey ny_welcome
uses events "events.yaml"
uses templates "templates.yaml"
timezone "America/New_York"
outcomes done
entry on card_issued
wait until 09:00
send email welcome_activation_guide transactional { card_id: trigger.card_id, product: "gold" }
ticket telesales priority normal { reason: "welcome" }
action crm_flag { reason: "welcome" }
exit done
"""


def test_run_writes_a_customer_without_a_zone_in_the_journeys_zone(tmp_path: Path) -> None:
    """A customer whose profile names no time zone lives on the journey's clock: the actions
    file writes their send, ticket and action at the journey's local time (09:00 New York, in
    summer time after 8 March 2026), not in the default Asia/Ho_Chi_Minh offset; a customer in
    Shanghai gets Shanghai's 09:00."""
    journey = example_catalogs_in(tmp_path) / "ny_welcome.journey"
    journey.write_text(NEW_YORK_WELCOME, encoding="utf-8")
    profiles = [profile("c-1", False, email=True), profile("c-2", False, email=True)]
    del profiles[0]["timezone"]
    profiles[1]["timezone"] = "Asia/Shanghai"
    issued = "2026-03-07T20:00:00-05:00"
    events = [
        event(c, "card_issued", issued, card_id=f"k-{c}", product="gold") for c in ("c-1", "c-2")
    ]
    actions = tmp_path / "actions.jsonl"
    argv = [
        "run",
        str(journey),
        *("--db", str(tmp_path / "s.db"), "--actions", str(actions)),
        *("--events", str(jsonl(tmp_path / "events.jsonl", events))),
        *("--profiles", str(jsonl(tmp_path / "profiles.jsonl", profiles))),
        *("--now", "2026-03-10T00:00:00-04:00"),
    ]
    assert main(argv) == 0
    got = {(a["customer_id"], a["kind"], a["at"]) for a in read_actions(actions)}
    assert got == {
        *(("c-1", k, "2026-03-08T09:00:00-04:00") for k in ("send", "ticket", "action")),
        *(("c-2", k, "2026-03-09T09:00:00+08:00") for k in ("send", "ticket", "action")),
    }


# --------------------------------------------------------------------------- the file channel


def message(key: str, at: datetime) -> Message:
    return Message(key, "c1", "sms", "t", "marketing", {"n": 1}, "j", 1, "node", at)


def test_file_channel_deduplicates_across_restarts_and_drops_a_torn_line(tmp_path: Path) -> None:
    """Keys already in the file are not written again after a restart, and an incomplete last
    line left by a crash is dropped before appending resumes on a fresh line."""
    path = tmp_path / "out.jsonl"
    at = datetime(2026, 1, 5, 3, 0, tzinfo=UTC)
    with FileChannel(path, timezone_of=lambda cid: ICT) as ch:
        assert ch.send(message("k1", at)).status is DeliveryStatus.DELIVERED
        assert ch.send(message("k1", at)).status is DeliveryStatus.DELIVERED
        assert ch.written == 1
        assert ch.deduplicated == 1
    with path.open("a", encoding="utf-8") as f:
        f.write('{"key": "k2", "at": "2026-01-0')  # a write torn by SIGKILL
    with FileChannel(path) as ch:
        assert ch.dropped_torn_line
        ch.send(message("k1", at))
        ch.send(message("k2", at))
        ticket = Ticket("t1", "c1", "telesales", "high", {"x": 1}, "j", 1, "n", at)
        ch.open(ticket)
        ch.named("annual_fee_waiver", "reward")("a1", "c1", {"p": 2}, at)
        assert ch.written == 3
    rows = read_actions(path)
    assert [r["key"] for r in rows] == ["k1", "k2", "t1", "a1"]
    assert rows[0]["at"] == "2026-01-05T10:00:00+07:00"
    assert rows[1]["at"] == "2026-01-05T03:00:00+00:00"
    assert rows[2]["kind"] == "ticket"
    assert rows[3] == {
        "key": "a1",
        "at": at.isoformat(),
        "customer_id": "c1",
        "kind": "reward",
        "name": "annual_fee_waiver",
        "params": {"p": 2},
    }


def test_reward_and_action_lines_name_their_journey_version_and_step(tmp_path: Path) -> None:
    """A reward or action line carries journey, version and node after its own fields, as send
    and ticket lines do, read from the engine's key (a customer id may hold a colon)."""
    path = tmp_path / "out.jsonl"
    at = datetime(2026, 1, 5, 3, 0, tzinfo=UTC)
    reward = "onboarding_new_cardholder:1:onboarding_new_cardholder/vn:c1/1:reward_fee:0"
    with FileChannel(path) as ch:
        ch.named("annual_fee_waiver", "reward")(reward, "vn:c1", {}, at)
        ch.named("call_back", "action")("callback:12:callback/c2/3:during.call:4", "c2", {}, at)
    rows = read_actions(path)
    assert list(rows[0]) == [
        *("key", "at", "customer_id", "kind", "name", "params"),
        *("journey", "version", "node"),
    ]
    assert [(r["journey"], r["version"], r["node"]) for r in rows] == [
        ("onboarding_new_cardholder", 1, "reward_fee"),
        ("callback", 12, "during.call"),
    ]


# --------------------------------------------------------------------------- crash and resume

START = datetime(2026, 1, 5, 8, 0, tzinfo=ICT)
MERCHANTS = [
    ("Tiki", "shopping"),
    ("Vietjet", "travel"),
    ("Pho 24", "dining"),
    ("Coop", "groceries"),
]


def crash_stream(
    seed: int = 7, customers: int = 30, days: int = 40
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(events in time order, profiles): new cardholders over ``days`` days (issued, some
    activated, some spending, some installing the app) and every sixth one dormant."""
    rng = random.Random(seed)
    events: list[dict[str, Any]] = []
    profiles: list[dict[str, Any]] = []

    def jitter(t: datetime) -> datetime:
        # Never on a whole minute, so no event ties with a scheduled 09:00 evaluation.
        return t + timedelta(seconds=rng.randrange(1, 59))

    def spend(cid: str, t: datetime, low: int, high: int) -> None:
        merchant, category = rng.choice(MERCHANTS)
        amount = rng.randrange(low, high) * 1000
        data = {"amount": amount, "currency": "VND", "merchant": merchant, "category": category}
        events.append(
            {"customer_id": cid, "type": "transaction", "at": t.isoformat(), "data": data}
        )

    for n in range(customers):
        cid = f"c-{n:03d}"
        app = rng.random() < 0.4
        consent = {"email": True, "sms": rng.random() < 0.8, "zns": rng.random() < 0.7, "push": app}
        profiles.append(profile(cid, app, **consent))
        if n % 6 == 5:
            old = jitter(START - timedelta(days=rng.randrange(120, 300), hours=rng.randrange(10)))
            events.append(event(cid, "card_activated", old.isoformat(), card_id=f"k{n}"))
            for i in range(rng.randrange(1, 4)):
                spend(cid, jitter(old + timedelta(days=i + 1, hours=rng.randrange(8))), 100, 20_000)
            continue
        issued = jitter(START + timedelta(days=rng.randrange(5), minutes=rng.randrange(720)))
        product = rng.choice(["gold", "platinum"])
        events.append(
            event(cid, "card_issued", issued.isoformat(), card_id=f"k{n}", product=product)
        )
        if rng.random() < 0.25:
            continue  # never activates
        activated = jitter(issued + timedelta(days=rng.randrange(18), hours=rng.randrange(10)))
        events.append(event(cid, "card_activated", activated.isoformat(), card_id=f"k{n}"))
        if app or rng.random() < 0.3:
            t = jitter(activated + timedelta(hours=rng.randrange(1, 48)))
            events.append(event(cid, "app_installed", t.isoformat()))
        t = activated
        for _ in range(rng.randrange(8)):
            t = jitter(t + timedelta(days=rng.randrange(1, 6), hours=rng.randrange(9)))
            if t > START + timedelta(days=days):
                break
            spend(cid, t, 50, 900)
    events.sort(key=lambda e: datetime.fromisoformat(e["at"]))
    return events, profiles


def test_crash_stream_is_deterministic() -> None:
    """The recorded stream is the same for a seed and covers the onboarding steps."""
    events, profiles = crash_stream()
    assert (events, profiles) == crash_stream()
    assert len(profiles) == 30
    assert {"card_issued", "card_activated", "transaction", "app_installed"} <= {
        e["type"] for e in events
    }


def _command(tmp: Path, db: Path, events: Path, actions: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "journeydsl",
        "run",
        *JOURNEYS,
        "--db",
        str(db),
        "--events",
        str(events),
        "--actions",
        str(actions),
        "--profiles",
        str(tmp / "profiles.jsonl"),
        "--now",
        "2026-03-15T00:00:00+07:00",
    ]


def _lines(path: Path) -> int:
    try:
        return path.read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


def _timed(cmd: list[str]) -> float:
    started = time.monotonic()
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    return time.monotonic() - started


def test_sigkill_at_random_points_then_resume_gives_the_uninterrupted_actions(
    tmp_path: Path,
) -> None:
    """Killing `journeydsl run` with SIGKILL at random points and restarting it until it
    finishes leaves exactly the actions of an uninterrupted run: none lost, none duplicated."""
    events, profiles = crash_stream()
    stream = jsonl(tmp_path / "events.jsonl", events)
    jsonl(tmp_path / "profiles.jsonl", profiles)
    reference = tmp_path / "reference.jsonl"
    total = _timed(_command(tmp_path, tmp_path / "reference.sqlite", stream, reference))
    empty = jsonl(tmp_path / "empty.jsonl", [])
    startup = _timed(_command(tmp_path, tmp_path / "empty.sqlite", empty, tmp_path / "e.jsonl"))
    work = max(total - startup, 0.2)
    expected = reference.read_text(encoding="utf-8").splitlines()
    assert len(expected) > 100

    # Ten kills. Two land at a random moment of start-up (schema, profiles, replay); eight are
    # aimed at random points of the real work: once the actions file reaches a random line count
    # (so load on the machine cannot make them miss), plus a random delay of up to a few lines'
    # worth of the measured run time.
    rng = random.Random(20260105)
    targets = iter(sorted(rng.sample(range(1, len(expected)), 8)))
    per_line = work / len(expected)
    db, actions = tmp_path / "crash.sqlite", tmp_path / "actions.jsonl"
    cmd = _command(tmp_path, db, stream, actions)
    kills, runs = 0, 0
    while True:
        runs += 1
        assert runs <= 40, "the run never finished"
        stderr = tmp_path / f"stderr-{runs}.txt"
        with stderr.open("w") as log:
            proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=log)
            if kills < 10:
                if kills in (0, 5):
                    deadline = time.monotonic() + startup * rng.uniform(0.2, 1.2)
                    while proc.poll() is None and time.monotonic() < deadline:
                        time.sleep(0.005)
                else:
                    target = next(targets)
                    while proc.poll() is None and _lines(actions) < target:
                        time.sleep(0.005)
                    time.sleep(rng.uniform(0, 3 * per_line))
                if proc.poll() is None:
                    proc.send_signal(signal.SIGKILL)
                    proc.wait()
                    kills += 1
                    continue
            proc.wait(timeout=300)
        assert proc.returncode == 0, stderr.read_text()
        break

    got = actions.read_text(encoding="utf-8").splitlines()
    keys = [json.loads(line)["key"] for line in got]
    assert kills >= 1
    assert [k for k, n in Counter(keys).items() if n > 1] == []
    assert Counter(got) == Counter(expected)


VIP_WELCOME = f"""
journey vip_welcome
{USES}entry when profile.segment == "vip"
send email new_cardholder_promotions marketing
"""


def test_an_entry_when_run_reads_the_profiles_file_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With an `entry when` journey, `run --profiles` reads the file once: the customers it
    looks at again are the ones the store loaded, and the vip among them enters."""
    import journeydsl.cli.run as run_module
    import journeydsl.runtime.stores._sqlite_profiles as sqlite_profiles

    journey = example_catalogs_in(tmp_path) / "vip.journey"
    journey.write_text(VIP_WELCOME, encoding="utf-8")
    vip = {**profile("c-1", False, email=True), "attributes": {"segment": "vip"}}
    profiles = jsonl(tmp_path / "p.jsonl", [vip, profile("c-2", False, email=True), [1]])
    events = jsonl(tmp_path / "e.jsonl", [event("c-9", "card_issued", "2026-01-05T10:00:00Z")])
    from journeydsl.runtime.profiles import read_profiles_jsonl as read

    reads: list[str] = []

    def counted(path: Any, *args: Any) -> Any:
        reads.append(str(path))
        return read(path, *args)

    monkeypatch.setattr(sqlite_profiles, "read_profiles_jsonl", counted)
    monkeypatch.setattr(run_module, "read_profiles_jsonl", counted, raising=False)
    actions = tmp_path / "actions.jsonl"
    argv = ["run", str(journey), "--db", str(tmp_path / "s.db"), "--events", str(events)]
    argv += ["--actions", str(actions), "--profiles", str(profiles)]
    assert main(argv) == 0
    assert reads == [str(profiles)]
    sent = [(a["customer_id"], a["template"]) for a in read_actions(actions)]
    assert sent == [("c-1", "new_cardholder_promotions")]
