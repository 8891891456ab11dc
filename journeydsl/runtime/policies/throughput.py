"""Channel throughput limits (``throughput:`` in the policy file), applied at send time.

A limit allows at most ``max`` messages on its channels within any rolling window of ``per``,
over every customer and journey. A message over the limit is deferred, never dropped, to the
first time the limit has room for it: the n-th message held at one instant waits ``n // max``
windows past the first opening, so a burst of 10,000 messages due at once is spread over the
windows that follow in one pass (by due time, then key: the order the outbox hands them out),
and each is tried again exactly when its turn comes.

The limiter's state is the store's durable contact history (every delivered message is a
contact): when a :class:`Throttle` first needs a limit's window it reads the contacts of that
window back from the store (``channel_contacts``), so the limit holds across restarts; it then
follows the deliveries it makes itself.

**Shared by several engines.** Over a store that several engines share (PostgreSQL, with
``journeydsl worker`` processes or several ``journeydsl run``), the limit is global: a
:class:`SharedThrottle` takes a lock on the limits (:class:`SharedContacts`) the first time a
delivery round needs one, held until the round's transaction commits, and reads the windows back
from the store under it, so it counts every engine's deliveries and no two engines fill the same
room. Its clocks need not agree: a worker in event time runs each bucket on its own clock, so a
delivery may be checked at an instant earlier than deliveries already made by others; the shared
check counts the contacts on both sides of it (:func:`first_room`).
"""

from __future__ import annotations

import bisect
from collections import deque
from collections.abc import Sequence
from datetime import datetime
from typing import Protocol, runtime_checkable

from journeydsl.runtime.policies.evaluator import Verdict, describe_window
from journeydsl.runtime.policies.model import Throughput, rule_names

__all__ = [
    "ChannelContacts",
    "SharedContacts",
    "SharedThrottle",
    "Throttle",
    "first_room",
    "throttle_for",
]


@runtime_checkable
class ChannelContacts(Protocol):
    """**Optional protocol:** a contact history that answers when messages were delivered on
    some channels, over every customer (the three built-in stores do)."""

    def channel_contacts(
        self, channels: Sequence[str], categories: Sequence[str], since: datetime
    ) -> list[datetime]:
        """When the contacts on ``channels`` of ``categories`` at or after ``since`` were made,
        oldest first."""
        ...


@runtime_checkable
class SharedContacts(Protocol):
    """**Optional protocol:** a contact history that several engines share (the PostgreSQL
    store), whose throughput limits must hold over all of them."""

    def lock_throughput(self, names: Sequence[str]) -> None:
        """Lock the limits ``names`` until the open transaction ends (an engine that takes the
        lock after another waits for the other's deliveries to commit)."""
        ...


def throttle_for(rules: Sequence[Throughput], history: object) -> Throttle:
    """The throttle of an engine's deliveries over ``history``: shared where the store is."""
    if isinstance(history, SharedContacts):
        return SharedThrottle(rules, history)
    return Throttle(rules, history)


class Throttle:
    """The throughput limits of one engine's deliveries: :meth:`hold` before a message is
    handed to its channel, :meth:`delivered` after it was delivered; :meth:`begin` at the start
    of each delivery round."""

    def __init__(self, rules: Sequence[Throughput], history: object) -> None:
        if not isinstance(history, ChannelContacts):
            raise TypeError(
                "throughput limits need a state store whose contact history answers "
                "channel_contacts() (see ChannelContacts); the built-in stores do"
            )
        self.history = history
        self.rules = tuple(zip(rule_names("throughput", rules), rules, strict=True))
        #: Per limit: when the messages of its current window were delivered, oldest first.
        self._times: dict[str, deque[datetime]] = {}
        #: Per limit: the instant of the last hold, and how many were held at it, in this
        #: delivery round.
        self._held: dict[str, tuple[datetime, int]] = {}

    def begin(self) -> None:
        """A delivery round starts. Only the messages of one round are spread over the turns
        that follow, in the round's order (transactional first, then priority, due time, key):
        those of another round at the same instant (the next event's) go to the first opening
        with them, where one round orders them all, so a transactional message that arrived
        later is not kept behind marketing held before it."""
        self._held = {}

    def _window(self, name: str, rule: Throughput, now: datetime) -> deque[datetime]:
        """The delivery times within ``(now - per, now]``, read from the store the first time."""
        times = self._times.get(name)
        start = now - rule.per
        if times is None:
            found = self.history.channel_contacts(rule.channels, rule.categories, start)
            times = self._times[name] = deque(sorted(t for t in found if t <= now))
        while times and times[0] <= start:
            times.popleft()
        return times

    def hold(self, channel: str, category: str, now: datetime) -> Verdict | None:
        """Whether a message on ``channel`` of ``category`` must wait at ``now``, and until
        when (the latest of the limits it is over)."""
        held: list[tuple[datetime, str, Throughput]] = []
        for name, rule in self.rules:
            if not rule.counts(channel, category):
                continue
            times = self._window(name, rule, now)
            if len(times) < rule.max:
                continue
            at, waiting = self._held.get(name, (now, 0))
            waiting = waiting if at == now else 0
            self._held[name] = (now, waiting + 1)
            opens = times[len(times) - rule.max] + rule.per
            held.append((opens + rule.per * (waiting // rule.max), name, rule))
        return self._verdict(channel, held)

    @staticmethod
    def _verdict(channel: str, held: list[tuple[datetime, str, Throughput]]) -> Verdict | None:
        """The deferral of a message held by the limits ``held`` (until the latest opening)."""
        if not held:
            return None
        until, name, rule = max(held, key=lambda h: (h[0], h[1]))
        return Verdict(
            "deferred",
            f"throughput:{name}",
            f"{channel} throughput limit: at most {rule.max} messages per "
            f"{describe_window(rule.per)}; the message waits its turn",
            until,
            tuple(f"throughput:{n}" for _, n, _ in held if n != name),
        )

    def delivered(self, channel: str, category: str, at: datetime) -> None:
        """Count a message delivered on ``channel`` at ``at`` in the limits it falls under."""
        for name, rule in self.rules:
            if rule.counts(channel, category):
                self._window(name, rule, at).append(at)


def first_room(times: Sequence[datetime], at: datetime, rule: Throughput) -> datetime:
    """The first instant at or after ``at`` when one more message fits ``rule`` among the
    deliveries ``times`` (sorted; before and after ``at``): no window of length ``per`` that
    holds it would hold more than ``max``.

    ``max`` deliveries that lie within less than ``per`` of each other, the i-th to the
    (i+max-1)-th, leave no room strictly between ``times[i + max - 1] - per`` and
    ``times[i] + per``; the answer is the first instant outside every such interval."""
    m, per = rule.max, rule.per
    lo = bisect.bisect_right(times, at - per)  # (older ones share no window with ``at`` or later)
    blocked = [
        (times[i + m - 1] - per, times[i] + per)
        for i in range(lo, len(times) - m + 1)
        if times[i + m - 1] - times[i] < per
    ]
    t = at
    for start, end in blocked:  # (in order of start: times is sorted)
        if start >= t:
            break
        if t < end:
            t = end
    return t


class SharedThrottle(Throttle):
    """The throughput limits of one of several engines sharing a store: each round, the first
    :meth:`hold` locks every limit and reads its deliveries around the round's instant back from
    the store (with the other engines' committed ones), then follows its own."""

    def __init__(self, rules: Sequence[Throughput], history: object) -> None:
        super().__init__(rules, history)
        self.shared: SharedContacts = history  # type: ignore[assignment]
        #: Per limit: the deliveries since the round's instant minus its window, sorted.
        self._near: dict[str, list[datetime]] | None = None

    def begin(self) -> None:
        """A round starts: what was read in the last one may be stale."""
        super().begin()
        self._near = None

    def _read(self, now: datetime) -> dict[str, list[datetime]]:
        near = self._near
        if near is None:
            self.shared.lock_throughput(sorted(name for name, _ in self.rules))
            near = self._near = {
                name: sorted(
                    self.history.channel_contacts(rule.channels, rule.categories, now - rule.per)
                )
                for name, rule in self.rules
            }
        return near

    def hold(self, channel: str, category: str, now: datetime) -> Verdict | None:
        """As :meth:`Throttle.hold`, counting every engine's deliveries."""
        held: list[tuple[datetime, str, Throughput]] = []
        for name, rule in self.rules:
            if not rule.counts(channel, category):
                continue
            opens = first_room(self._read(now)[name], now, rule)
            if opens <= now:
                continue
            at, waiting = self._held.get(name, (now, 0))
            waiting = waiting if at == now else 0
            self._held[name] = (now, waiting + 1)
            held.append((opens + rule.per * (waiting // rule.max), name, rule))
        return self._verdict(channel, held)

    def delivered(self, channel: str, category: str, at: datetime) -> None:
        """Count a message delivered at ``at`` in the round's reads."""
        if self._near is None:
            return  # (the next round reads it back from the store)
        for name, rule in self.rules:
            if rule.counts(channel, category):
                bisect.insort(self._near[name], at)
