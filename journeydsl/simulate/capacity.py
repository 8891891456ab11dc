"""Utilisation per day of the capacity limits of a simulation (``simulate --policies FILE``):
for each channel throughput limit and each ticket queue with a capacity, what it took each day
against what it could take, and what waited (the backlog).

Limits are global (every journey's messages and tickets count), so the figures are over the
whole run. They are read from the actions (what went out, what was dropped) and the instances'
decision logs (when a ticket was made, when a message waited for a throughput limit, and until
when): the same sources as the other policy figures. A day is a calendar day in the queue's time
zone, or for a throughput limit in the time zone of the run's start. Only days with activity are
listed.

* **throughput** ``throughput:NAME``: ``taken`` messages delivered on its channels and
  categories; ``capacity`` what the limit lets through in a day (``max`` per ``per``);
  ``deferred`` messages it made wait that day, ``longest_wait`` the longest of those waits in
  seconds.
* **queue** ``queue:QUEUE``: ``made`` tickets made for the queue; ``taken`` tickets it opened;
  ``capacity`` its daily capacity; ``dropped`` tickets it did not take (queue_full); ``backlog``
  tickets still waiting at the end of the day.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta, tzinfo
from typing import Any

from journeydsl import ir
from journeydsl.runtime.policies.model import Policies, Throughput, TicketQueue, rule_names
from journeydsl.zones import zone

__all__ = ["capacity_figures"]

_DAY = timedelta(days=1)


def capacity_figures(
    policies: Policies,
    journeys: Sequence[ir.Journey],
    actions: Iterable[Mapping[str, Any]],
    instances: Iterable[Mapping[str, Any]],
    tz: tzinfo,
) -> dict[str, dict[str, Any]]:
    """Per limit (``throughput:NAME``, ``queue:QUEUE``) its kind, daily capacity and the days
    with activity; limits without any activity are left out."""
    actions, instances = list(actions), list(instances)
    out: dict[str, dict[str, Any]] = {}
    names = rule_names("throughput", policies.throughput)
    for name, rule in zip(names, policies.throughput, strict=True):
        days = _throughput_days(rule, name, journeys, actions, instances, tz)
        if days:
            out[f"throughput:{name}"] = {
                "kind": "throughput",
                "channels": list(rule.channels),
                "capacity": _per_day(rule),
                "days": days,
            }
    for queue in policies.queues:
        days = _queue_days(queue, actions, instances)
        if days:
            out[f"queue:{queue.queue}"] = {
                "kind": "queue",
                "capacity": queue.capacity,
                "days": days,
            }
    return out


def _per_day(rule: Throughput) -> int:
    """What the limit lets through in one day (at least its ``max``)."""
    return max(rule.max, int(rule.max * (_DAY / rule.per)))


def _day(at: object, tz: tzinfo) -> str:
    """The calendar day in ``tz`` of an instant (a datetime, or its ISO text)."""
    when = at if isinstance(at, datetime) else datetime.fromisoformat(str(at))
    return when.astimezone(tz).date().isoformat()


def _utilisation(taken: int, capacity: int) -> float:
    return round(taken / capacity, 4) if capacity else 0.0


def _category(journeys: Sequence[ir.Journey], action: Mapping[str, Any]) -> str | None:
    """The category of a send action, from its step in its journey."""
    for journey in journeys:
        if journey.id == action.get("journey") or len(journeys) == 1:
            node = journey.nodes.get(str(action.get("node")))
            if isinstance(node, ir.Send):
                return node.category
    return None


def _throughput_days(
    rule: Throughput,
    name: str,
    journeys: Sequence[ir.Journey],
    actions: list[Mapping[str, Any]],
    instances: list[Mapping[str, Any]],
    tz: tzinfo,
) -> list[dict[str, Any]]:
    taken: Counter[str] = Counter()
    for a in actions:
        if a.get("kind") == "send" and rule.counts(
            str(a.get("channel")), _category(journeys, a) or ""
        ):
            taken[_day(a["at"], tz)] += 1
    deferred: Counter[str] = Counter()
    longest: dict[str, int] = {}
    policy = f"throughput:{name}"
    for record in instances:
        for e in record.get("log") or ():
            if e.get("decision") == "deferred" and e.get("policy") == policy:
                day = _day(e["at"], tz)
                deferred[day] += 1
                wait = datetime.fromisoformat(str(e["until"])) - datetime.fromisoformat(e["at"])
                longest[day] = max(longest.get(day, 0), int(wait.total_seconds()))
    capacity = _per_day(rule)
    return [
        {
            "day": day,
            "taken": taken[day],
            "capacity": capacity,
            "utilisation": _utilisation(taken[day], capacity),
            "deferred": deferred[day],
            "longest_wait": longest.get(day, 0),
        }
        for day in sorted(set(taken) | set(deferred))
    ]


def _queue_days(
    rule: TicketQueue, actions: list[Mapping[str, Any]], instances: list[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    tz = zone(rule.timezone)
    made: Counter[str] = Counter()
    for record in instances:
        for e in record.get("log") or ():
            if e.get("what") == "ticket" and e.get("queue") == rule.queue:
                made[_day(e["at"], tz)] += 1
    taken: Counter[str] = Counter()
    dropped: Counter[str] = Counter()
    for a in actions:
        if a.get("queue") != rule.queue:
            continue
        if a.get("kind") == "ticket":
            taken[_day(a["at"], tz)] += 1
        elif a.get("kind") == "suppressed":
            dropped[_day(a["at"], tz)] += 1
    days = sorted(set(made) | set(taken) | set(dropped))
    out: list[dict[str, Any]] = []
    backlog = 0
    for day in days:
        backlog += made[day] - taken[day] - dropped[day]
        out.append(
            {
                "day": day,
                "made": made[day],
                "taken": taken[day],
                "capacity": rule.capacity,
                "utilisation": _utilisation(taken[day], rule.capacity),
                "dropped": dropped[day],
                "backlog": backlog,
            }
        )
    return out
