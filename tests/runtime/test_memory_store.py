"""MemoryStateStore specifics: records are kept in JSON's data model without JSON round trips,
and the structural copies it hands out and keeps isolate the caller from the stored state.

The behaviour it shares with SQLiteStore is pinned in test_store_contract.py.
"""

from __future__ import annotations

import enum
from collections import OrderedDict
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from journeydsl.runtime.protocols import OutboxEntry
from journeydsl.testing import MemoryStateStore

ICT = timezone(timedelta(hours=7))
UTC_MINUS_5 = timezone(timedelta(hours=-5))
T0 = datetime(2026, 1, 5, 10, 0, tzinfo=ICT)


def record(iid: str = "j/c1/1", **extra: Any) -> Any:
    return {
        "id": iid,
        "customer_id": "c1",
        "journey": "j",
        "version": 1,
        "status": "waiting",
        "due": None,
        "vars": {"round": 1, "at": {"$ts": T0.isoformat()}},
        "visits": {"welcome": 1},
        "log": [{"at": T0.isoformat(), "node": "welcome", "what": "send"}],
        **extra,
    }


class Colour(enum.StrEnum):
    RED = "red"


def test_changing_a_read_copy_deeply_leaves_the_store_alone() -> None:
    """Appending to a copy's log, editing its visits or a log entry, and replacing its vars
    change nothing stored until the copy is committed."""
    s = MemoryStateStore()
    s.commit([record()], [])
    got = s.instance("j/c1/1")
    assert got is not None
    got["log"].append({"at": T0.isoformat(), "node": "x", "what": "wait"})
    got["visits"]["x"] = 1
    got["vars"]["round"] = 2
    got["status"] = "ended"
    assert s.instance("j/c1/1") == record()
    (again,) = s.instances_of("c1")
    assert again == record()


def test_changing_a_committed_dict_afterwards_leaves_the_store_alone() -> None:
    """The store keeps its own copy: the caller's dict, edited after commit, is not what is
    stored, at any depth."""
    s = MemoryStateStore()
    mine = record()
    s.commit([mine], [])
    mine["log"][0]["what"] = "changed"
    mine["vars"]["at"]["$ts"] = "changed"
    mine["visits"]["welcome"] = 9
    assert s.instance("j/c1/1") == record()


def test_a_copy_committed_back_keeps_earlier_log_entries_and_adds_the_new_ones() -> None:
    """A read, an appended log entry and a commit give the longer log; committing it again
    unchanged changes nothing."""
    s = MemoryStateStore()
    s.commit([record()], [])
    got = s.instance("j/c1/1")
    assert got is not None
    entry: Any = {"at": T0.isoformat(), "node": "wait", "what": "wait_for", "due": None}
    got["log"].append(entry)
    s.commit([got], [])
    assert s.instance("j/c1/1") == {**record(), "log": [*record()["log"], entry]}
    s.commit([s.instance("j/c1/1")], [])  # type: ignore[list-item]
    assert len(s.instance("j/c1/1")["log"]) == 2  # type: ignore[index]


def test_records_are_normalised_as_json_would_store_them() -> None:
    """Tuples become lists, non-text keys become text, enum members their plain values, and
    dict subclasses plain dicts: what a durable store would give back."""
    s = MemoryStateStore()
    s.commit(
        [
            record(
                chain=("push", "sms"),
                visits={1: 2, 2.5: 1, None: 0, False: 3},
                colour=Colour.RED,
                extra=OrderedDict(a=[(1, 2)]),
            )
        ],
        [],
    )
    got: Any = s.instance("j/c1/1")  # (a record with the keys this test gave it)
    assert got is not None
    assert got["chain"] == ["push", "sms"]
    assert got["visits"] == {"1": 2, "2.5": 1, "null": 0, "false": 3}
    assert type(got["colour"]) is str
    assert got["colour"] == "red"
    assert got["extra"] == {"a": [[1, 2]]}
    assert type(got["extra"]) is dict


@pytest.mark.parametrize(
    "bad",
    [
        {"vars": {"x": object()}},
        {"log": [{"at": T0}]},  # a datetime where the engine writes ISO text
        {"visits": {(1, 2): 1}},
    ],
)
def test_a_value_json_cannot_hold_fails_the_commit_and_writes_nothing(bad: dict[str, Any]) -> None:
    """Anything json.dumps would refuse makes the whole commit raise TypeError, and the store is
    as it was (also when the record replaces a stored one)."""
    s = MemoryStateStore()
    s.commit([record()], [])
    with pytest.raises(TypeError):
        s.commit([record(**bad), record("j/c1/2")], [OutboxEntry("k", "send", "c1", {}, T0)])
    assert s.instance("j/c1/1") == record()
    assert s.instance("j/c1/2") is None
    assert s.pending_outbox(T0) == []


def test_timers_and_pending_entries_compare_instants_across_offsets() -> None:
    """The timer heap and the outbox order by instant, whatever the UTC offsets, and drop
    stale entries as they move."""
    s = MemoryStateStore()
    early = (T0 + timedelta(hours=1)).astimezone(UTC_MINUS_5)  # 22:00 the day before, in -05
    s.commit(
        [
            record("a", due=(T0 + timedelta(hours=2)).isoformat()),
            record("b", due=early.isoformat()),
        ],
        [
            OutboxEntry("k2", "send", "c1", {}, T0 + timedelta(hours=2)),
            OutboxEntry("k1", "send", "c1", {}, early),
        ],
    )
    assert s.next_due() == early
    assert s.due(T0 + timedelta(hours=3)) == ["b", "a"]
    assert [e.key for e in s.pending_outbox(T0 + timedelta(hours=3))] == ["k1", "k2"]
    assert [e.key for e in s.pending_outbox(T0 + timedelta(hours=3), limit=1)] == ["k1"]
    moved = s.instance("b")
    assert moved is not None
    moved["due"] = (T0 + timedelta(hours=5)).isoformat()
    s.commit([moved], [])
    assert s.next_due() == T0 + timedelta(hours=2)
    (k1,) = s.pending_outbox(T0 + timedelta(hours=1))
    k1.status = "done"
    s.update_outbox(k1)
    assert [e.key for e in s.pending_outbox(T0 + timedelta(hours=3))] == ["k2"]


@settings(max_examples=200, deadline=None)
@given(
    pool=st.lists(
        st.datetimes(timezones=st.sampled_from([UTC, ZoneInfo("Asia/Ho_Chi_Minh")])),
        min_size=1,
        max_size=4,
    ),
    picks=st.lists(st.integers(0, 3), max_size=30),
)
def test_instants_are_exact_whatever_order_they_are_asked_in(
    pool: list[datetime], picks: list[int]
) -> None:
    """The remembered instants never answer for another datetime: asked in any order (the same
    objects again, in turns), each answer is the exact microsecond count."""
    from journeydsl.runtime.stores.memory import _instant

    for i in picks:
        t = pool[i % len(pool)]
        assert _instant(t) == (t - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
