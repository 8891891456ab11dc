"""``journeydsl run`` with a kill point: the child process of the crash campaign.

    RELIABILITY_KILL='{"site": "write", "after": "2026-01-09T10:00:00+07:00", "skip": 1}' \\
        python -m reliability._killpoints run JOURNEY... --db ... --events ... --actions ...

It runs the real command (``journeydsl.cli.main``) after arming one kill point, and sends itself
SIGKILL there: no ``finally``, no flush, no clean close, as a power cut or an OOM kill would. The
point is armed once the run's clock reaches ``after`` (so it lands at the same place of the
stream whatever was done before the restart), then fires at the ``skip + 1``-th time the run
passes the site:

* ``ingest``: as an event is handed to the engine, before anything of it is stored;
* ``commit``: right after a step's transaction committed (state, timers, outbox), before the
  engine goes on (in particular before it hands the new outbox entries to the channels);
* ``write``: after an action line is durably in the actions file and before the engine hears that
  it was delivered (the window in which a redelivery would duplicate it);
* ``torn``: halfway through writing an action line (the file is left with a torn last line);
* ``txn``: inside an SQLite transaction, between two of its statements' virtual-machine steps.

Whether armed or not, the child reports each redelivery the actions file absorbs and each torn
line it repairs on stderr as it happens (a later kill would lose the run's summary). The hooks
wrap public seams only: the ``Engine``, ``SQLiteStore`` and ``FileChannel`` names
``journeydsl.cli.run`` uses (subclasses overriding ``ingest``, ``commit`` and the delivery
methods), ``os.write`` and ``sqlite3.connect`` (a progress handler); nothing in the package is
edited.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import sys
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from journeydsl.cli import run as run_module
from journeydsl.runtime.engine import Engine
from journeydsl.runtime.file_channel import FileChannel
from journeydsl.runtime.protocols import Clock, DeliveryResult, Message, Ticket
from journeydsl.runtime.stores.sqlite import SQLiteStore

SITES = ("ingest", "commit", "write", "torn", "txn")
#: What the child reports on stderr, one line each time, for the campaign to count.
REDELIVERED = "redelivery absorbed by the actions file"
TORN_DROPPED = "torn last line dropped"
#: Set (to anything) to make the actions file forget the keys written before a restart.
FORGETFUL = "RELIABILITY_FORGETFUL"


class _Point:
    """The armed kill point (``site=None``: never fires)."""

    def __init__(self, spec: Mapping[str, Any] | None) -> None:
        self.site = str(spec["site"]) if spec else None
        self.after = datetime.fromisoformat(spec["after"]) if spec else None
        self.skip = int(spec.get("skip", 0)) if spec else 0
        self.clock: Clock | None = None
        self.passes = 0

    def armed(self) -> bool:
        if self.clock is None or self.after is None:
            return False
        try:
            return self.clock.now() >= self.after
        except RuntimeError:  # the run's clock has not started yet
            return False

    def passing(self, site: str) -> bool:
        """Count a pass at ``site``; True when this pass is the one to die at."""
        if site != self.site or not self.armed():
            return False
        self.passes += 1
        return self.passes > self.skip


def note(what: str) -> None:
    """Tell the campaign at once (the process may die before its summary)."""
    print(f"reliability: {what}", file=sys.stderr, flush=True)


def die() -> None:
    """SIGKILL this process, now."""
    os.kill(os.getpid(), signal.SIGKILL)


def _install(point: _Point) -> None:
    class KillableEngine(Engine):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            point.clock = self.clock

        def ingest(self, raw: Any, event_key: str | None = None) -> Any:
            if point.passing("ingest"):
                die()
            return super().ingest(raw, event_key)

    class KillableStore(SQLiteStore):
        def commit(self, *args: Any, **kwargs: Any) -> None:
            super().commit(*args, **kwargs)
            if point.passing("commit"):
                die()

    class KillableChannel(FileChannel):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            if self.dropped_torn_line:
                note(TORN_DROPPED)
            if os.environ.get(FORGETFUL):
                # The negative control: a channel that forgets what it delivered before the
                # restart, as a gateway without an idempotency check would.
                self._file.keys.clear()

        def _after(self, before: int) -> None:
            if self.deduplicated > before:
                note(REDELIVERED)
            if point.passing("write"):
                die()

        def send(self, message: Message) -> DeliveryResult:
            before = self.deduplicated
            result = super().send(message)
            self._after(before)
            return result

        def open(self, ticket: Ticket) -> DeliveryResult:
            before = self.deduplicated
            result = super().open(ticket)
            self._after(before)
            return result

        def __call__(
            self, idempotency_key: str, customer_id: str, params: Mapping[str, Any], at: datetime
        ) -> DeliveryResult:
            before = self.deduplicated
            result = super().__call__(idempotency_key, customer_id, params, at)
            self._after(before)
            return result

    real_write = os.write

    def torn_write(fd: int, data: Any) -> int:
        if len(data) > 1 and point.passing("torn"):
            real_write(fd, bytes(data)[: len(data) // 2])
            os.fsync(fd)
            die()
        return real_write(fd, data)

    real_connect = sqlite3.connect

    def connect(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        conn: sqlite3.Connection = real_connect(*args, **kwargs)

        def progress() -> int:
            if conn.in_transaction and point.passing("txn"):
                die()
            return 0

        conn.set_progress_handler(progress, 100)
        return conn

    run_module.Engine = KillableEngine  # type: ignore[attr-defined]
    run_module.SQLiteStore = KillableStore  # type: ignore[attr-defined]
    run_module.FileChannel = KillableChannel  # type: ignore[attr-defined]
    os.write = torn_write
    sqlite3.connect = connect  # type: ignore[assignment]


def main(argv: list[str]) -> int:
    """Arm the point given in ``RELIABILITY_KILL`` (none when unset) and run the CLI."""
    spec = os.environ.get("RELIABILITY_KILL")
    point = _Point(json.loads(spec) if spec else None)
    if point.site is not None and point.site not in SITES:
        raise SystemExit(f"unknown kill site {point.site!r}; one of {', '.join(SITES)}")
    _install(point)
    from journeydsl.cli import main as cli_main

    return cli_main(argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
