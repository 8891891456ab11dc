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
follows the deliveries it makes itself. It holds within one process: the limit shared by several
worker processes (on PostgreSQL) is not built yet.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from datetime import datetime
from typing import Protocol, runtime_checkable

from journeydsl.runtime.policies.evaluator import Verdict, describe_window
from journeydsl.runtime.policies.model import Throughput, rule_names

__all__ = ["ChannelContacts", "Throttle"]


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


class Throttle:
    """The throughput limits of one engine's deliveries: :meth:`hold` before a message is
    handed to its channel, :meth:`delivered` after it was delivered."""

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
        #: Per limit: the instant of the last hold, and how many were held at it.
        self._held: dict[str, tuple[datetime, int]] = {}

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
