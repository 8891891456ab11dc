"""Progress of a long command on stderr: a bar on a terminal, one line at a time elsewhere.

On a terminal, a rich progress bar (it redraws in place and disappears at the end). Off a
terminal (a CI log, a pipe, a file), a bar would write control characters or nothing useful, so
progress is a plain line now and then::

    simulating: 12,000/50,000 customers (24%), 1,950 customers/s, elapsed 0:00:06, ETA 0:00:19

one every :data:`QUIET_INTERVAL` seconds by default (a short run prints none), every
:data:`INTERVAL` second with ``--progress``, which also prints the final line. ``--quiet`` turns
both off.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO

__all__ = ["INTERVAL", "QUIET_INTERVAL", "LineProgress", "progress"]

#: Seconds between two progress lines off a terminal with ``--progress``.
INTERVAL = 1.0
#: Seconds between two progress lines off a terminal without ``--progress``.
QUIET_INTERVAL = 10.0


def _clock(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


class LineProgress:
    """Writes a progress line to ``out`` when ``interval`` seconds have passed since the last
    one (and the final line when ``final``); called with (done, total) in ``unit``."""

    def __init__(
        self,
        out: TextIO,
        unit: str,
        *,
        interval: float,
        final: bool,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.out, self.unit, self.interval, self.final, self.clock = (
            out,
            unit,
            interval,
            final,
            clock,
        )
        self.started = self.last = clock()
        self.printed = 0

    def line(self, done: float, total: float) -> str:
        """The progress line for ``done`` of ``total``."""
        elapsed = self.clock() - self.started
        rate = done / elapsed if elapsed > 0 else 0.0
        share = f" ({100 * done / total:.0f}%)" if total else ""
        eta = _clock((total - done) / rate) if rate > 0 else "?"
        return (
            f"simulating: {done:,.0f}/{total:,.0f} {self.unit}{share}, "
            f"{rate:,.0f} {self.unit}/s, elapsed {_clock(elapsed)}, ETA {eta}"
        )

    def __call__(self, done: float, total: float) -> None:
        now = self.clock()
        end = total > 0 and done >= total
        if (end and (self.final or self.printed)) or (not end and now - self.last >= self.interval):
            self.out.write(self.line(done, total) + "\n")
            self.out.flush()
            self.last = now
            self.printed += 1


@contextmanager
def progress(
    err: TextIO, unit: str, *, asked: bool, quiet: bool
) -> Iterator[Callable[[float, float], None] | None]:
    """A callback taking (done, total) in ``unit``: a bar when ``err`` is a terminal, lines
    otherwise (see the module docstring); None with ``quiet``."""
    if quiet:
        yield None
        return
    if not err.isatty():
        yield LineProgress(err, unit, interval=INTERVAL if asked else QUIET_INTERVAL, final=asked)
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    with Progress(
        TextColumn("simulating"),
        BarColumn(),
        TextColumn(f"{{task.completed:,.0f}}/{{task.total:,.0f}} {unit}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=Console(file=err),
        transient=True,
    ) as bar:
        task = bar.add_task("simulate", total=1)  # the first call gives the total

        def advance(done: float, total: float) -> None:
            bar.update(task, completed=done, total=total)

        yield advance
