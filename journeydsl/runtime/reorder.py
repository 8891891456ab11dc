"""Event time for a stream that arrives out of order: hold each event until no event dated
earlier can still come (the stream's latest time minus the allowed lateness, its *watermark*),
then hand the events on in time order.

A stream read this way is taken exactly as the same events sorted by time would be, as long as
no event is dated more than the allowed lateness before the latest one seen so far; one that is
is refused as too late (``journeydsl run`` quarantines it with reason ``too_late``). The price is
latency: an event is held until the stream has moved the allowed lateness past it, or until the
stream ends (:meth:`Reorder.drain`).
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Generic, TypeVar

from journeydsl.runtime.interpreter import describe_lateness

__all__ = ["Reorder", "TooLateError"]

T = TypeVar("T")


class TooLateError(ValueError):
    """An event dated before the watermark: every event it should have come before is taken."""


class Reorder(Generic[T]):
    """Holds items by event time and releases them in time order (ties in arrival order)."""

    def __init__(
        self, lateness: timedelta, latest: datetime | None = None, *, hold: bool = True
    ) -> None:
        """``latest``: the latest event time an earlier part of the stream reached (a
        previous run), from which the watermark starts. ``hold=False`` refuses what is too late
        the same way but holds nothing: each item is released as it comes (a live feed, where
        holding would delay every message by the allowed lateness)."""
        if lateness < timedelta(0):
            raise ValueError("the allowed lateness cannot be negative")
        self.lateness = lateness
        self.latest = latest
        self.hold = hold
        self._held: list[tuple[datetime, int, T]] = []
        self._arrival = itertools.count()

    @property
    def watermark(self) -> datetime | None:
        """Events dated before this are too late; held ones dated up to it are released."""
        return None if self.latest is None else self.latest - self.lateness

    def __len__(self) -> int:
        return len(self._held)

    def push(self, at: datetime, item: T) -> Iterator[T]:
        """Take ``item``, dated ``at``; yields the items this releases, oldest first. Raises
        :class:`TooLateError` (before taking anything) for an item dated before the watermark."""
        if self.latest is not None and at < self.latest - self.lateness:
            raise TooLateError(
                f"too_late: dated {describe_lateness(self.latest - at)} before the latest "
                f"event (allowed lateness {describe_lateness(self.lateness)})"
            )
        heapq.heappush(self._held, (at, next(self._arrival), item))
        if self.latest is None or at > self.latest:
            self.latest = at
        return self._release(self.watermark if self.hold else None)

    def drain(self) -> Iterator[T]:
        """The stream ended: every held item, oldest first."""
        return self._release(None)

    def _release(self, before: datetime | None) -> Iterator[T]:
        held = self._held
        while held and (before is None or held[0][0] <= before):
            yield heapq.heappop(held)[2]
