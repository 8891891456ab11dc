"""What is due, in memory: the SQLite store's index of the waiting instances' timers and of the
pending outbox entries, so that ``next_wakeup``, ``tick`` and delivery, which ask after every
step, are answered without a query.

Each index holds, by key, the sortable UTC text of when the item is due and the row the store
reads back, with a heap of ``(due, key)`` to find the earliest (an entry of the heap is stale once
its key is due at another time or gone; stale entries are skipped, and the heap is rebuilt when
they outnumber the live ones). The store loads an index from its file on first use, moves it
with its own writes once their statements succeeded, and drops it with its other caches.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from typing import Generic, TypeVar

__all__ = ["DueIndex"]

Row = TypeVar("Row")


class DueIndex(Generic[Row]):
    """Items by key, each due at a sortable text, earliest first (ties by key)."""

    __slots__ = ("_heap", "items")

    def __init__(self, items: Iterable[tuple[str, str, Row]] = ()) -> None:
        #: key → (due, row)
        self.items: dict[str, tuple[str, Row]] = {key: (due, row) for key, due, row in items}
        self._heap: list[tuple[str, str]] = [(due, key) for key, (due, _) in self.items.items()]
        heapq.heapify(self._heap)

    def __len__(self) -> int:
        return len(self.items)

    def put(self, key: str, due: str, row: Row) -> None:
        """The item ``key`` is due at ``due`` (again, or at another time)."""
        before = self.items.get(key)
        self.items[key] = (due, row)
        if before is None or before[0] != due:
            heapq.heappush(self._heap, (due, key))
            if len(self._heap) > 2 * len(self.items) + 64:
                self._rebuild()

    def discard(self, key: str) -> None:
        """The item ``key`` is due no more (its heap entry goes stale)."""
        self.items.pop(key, None)

    def first(self) -> tuple[str, str, Row] | None:
        """The earliest item, ``(due, key, row)``, or None."""
        heap = self._heap
        while heap:
            due, key = heap[0]
            found = self.items.get(key)
            if found is not None and found[0] == due:
                return due, key, found[1]
            heapq.heappop(heap)  # (stale)
        return None

    def due(self, until: str, limit: int) -> list[tuple[str, str, Row]]:
        """The items due at or before ``until``, earliest first (ties by key), at most
        ``limit``; they stay in the index."""
        heap, items = self._heap, self.items
        taken: list[tuple[str, str]] = []
        found: list[tuple[str, str, Row]] = []
        seen: set[str] = set()
        while heap and len(found) < limit and heap[0][0] <= until:
            due, key = heapq.heappop(heap)
            item = items.get(key)
            if item is not None and item[0] == due and key not in seen:  # (else stale, or twice)
                seen.add(key)
                taken.append((due, key))
                found.append((due, key, item[1]))
        for entry in taken:
            heapq.heappush(heap, entry)
        return found

    def _rebuild(self) -> None:
        self._heap = [(due, key) for key, (due, _) in self.items.items()]
        heapq.heapify(self._heap)
