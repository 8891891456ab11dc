"""``journeydsl worker``: one of several processes sharing a PostgreSQL database.

A thin command over :class:`~journeydsl.runtime.worker.Worker`: it compiles the journeys, opens
the database (a worker never takes the one-writer lock of ``journeydsl run``: it leases buckets),
loads ``--profiles``, puts the events of ``--events`` (a file, or ``-``: stdin, read as it comes)
or of ``--kafka`` (a consumer group: a batch each pass, its offsets committed once it is in the
database) into the database's inbox, and runs until SIGTERM or SIGINT (it finishes the current step,
releases its leases and exits 0) or, with ``--exit-when-idle``, until every bucket of the
database is done. Every effect goes to the actions file, as with ``journeydsl run``; several
workers may share one (it keeps each idempotency key once, across processes).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import os
import queue
import signal
import sys
import threading
from collections.abc import Callable
from datetime import datetime, timedelta, tzinfo
from types import FrameType
from typing import IO, Any, TextIO

from journeydsl import ir
from journeydsl.ast import CHANNELS
from journeydsl.cli.common import (
    Command,
    actions_file_problem,
    add_root_option,
    catalog_roots,
    input_file_problem,
    quiet_engine_logs,
)
from journeydsl.cli.run import _action_handlers, _compile, _duration, _policy_file
from journeydsl.cli.stores import db_label, is_postgres_dsn, told_store_problem
from journeydsl.exitcodes import ExitCode
from journeydsl.jsonio import UTF8_BOM, numbered_lines
from journeydsl.runtime.file_channel import FileChannel
from journeydsl.runtime.kafka import KafkaConsumerError
from journeydsl.runtime.pinning import JourneyChangedError
from journeydsl.runtime.policies.model import Policies
from journeydsl.runtime.profiles import attribute_types
from journeydsl.runtime.protocols import SinkError
from journeydsl.runtime.stores.sqlite import DatabaseInUse
from journeydsl.runtime.stream import parse_time
from journeydsl.zones import zone

__all__ = ["COMMANDS", "add_worker_arguments", "cmd_worker"]


def add_worker_arguments(p: argparse.ArgumentParser) -> None:
    """The options of ``journeydsl worker``."""
    add_root_option(p)
    p.add_argument("journeys", nargs="*", metavar="JOURNEY", help="journey files or folders")
    p.add_argument(
        "--journeys",
        dest="more_journeys",
        nargs="+",
        default=[],
        metavar="JOURNEY",
        help="the same, as an option (journeydsl worker --db DSN --journeys J1 J2 …)",
    )
    p.add_argument(
        "--db",
        required=True,
        metavar="DSN",
        help="the PostgreSQL database the workers share (postgresql://user@host:port/db)",
    )
    p.add_argument(
        "--actions", required=True, metavar="OUT.jsonl", help="delivered effects (shared file)"
    )
    p.add_argument(
        "--events",
        metavar="FILE",
        help="JSON Lines events to put into the database's inbox first, or - for stdin (read "
        "as it comes); without it, the worker takes what producers insert into the inbox",
    )
    p.add_argument(
        "--kafka",
        metavar="BROKERS",
        help="consume the events from Kafka (host:port[,host:port…]; the kafka extra): each "
        "batch is put into the inbox, then its offsets are committed",
    )
    p.add_argument(
        "--topic",
        action="append",
        metavar="TOPIC",
        help="with --kafka: a topic to consume (repeat for more; default journeydsl-events)",
    )
    p.add_argument(
        "--group",
        default="journeydsl",
        metavar="GROUP",
        help="with --kafka: the consumer group the workers share (default journeydsl)",
    )
    p.add_argument(
        "--kafka-config",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="with --kafka: a librdkafka setting (security.protocol=SSL …; repeat for more)",
    )
    p.add_argument("--profiles", metavar="P.jsonl", help="customer profiles (JSON Lines)")
    p.add_argument(
        "--policies",
        metavar="FILE",
        help="run under this contact-policy file (docs/policies.md); its throughput limits "
        "hold over every worker of the database together",
    )
    p.add_argument(
        "--exit-when-idle",
        action="store_true",
        help="exit once every bucket of the database is done: no event waits, and everything "
        "due until --now (else the latest event) has fired",
    )
    p.add_argument(
        "--now",
        metavar="T",
        help="in event time (with --exit-when-idle): run on until this time",
    )
    p.add_argument(
        "--clock",
        choices=("event", "system"),
        help="event: each bucket's clock follows its events, as `journeydsl run` does (the "
        "default with --exit-when-idle); system: this machine's clock (the default otherwise)",
    )
    p.add_argument(
        "--lease", metavar="D", default="10s", help="how long a bucket lease lasts (default 10s)"
    )
    p.add_argument(
        "--metrics-port",
        type=int,
        metavar="PORT",
        help="serve /metrics (Prometheus), /healthz and /readyz on 127.0.0.1:PORT (0: a free "
        "port, printed); needs the metrics extra (prometheus-client)",
    )
    p.add_argument("--migrate", action="store_true", help="migrate the database's schema first")
    p.add_argument(
        "--buckets",
        type=int,
        metavar="N",
        help="the bucket count of a database this worker creates (default 256; fixed after)",
    )


def cmd_worker(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``journeydsl worker`` from parsed arguments; exit 0 when stopped or idle. SIGTERM and
    SIGINT drain it from the moment the command starts: while it starts (compiling, opening the
    database, putting a file's events), the start is cut short where it is, what it holds is let
    go, and it exits 0 having claimed no bucket."""
    signals = _Signals()
    try:
        return _command(args, signals, err)
    except _Stopped:
        print(
            "journeydsl worker: stopped while starting: no bucket was claimed"
            + ("; the events put so far wait in the inbox" if args.events else ""),
            file=err,
        )
        return ExitCode.OK
    finally:
        signals.restore()


def _command(args: argparse.Namespace, signals: _Signals, err: TextIO) -> int:
    """The command once its signals are handled (:func:`cmd_worker`)."""
    db: str = args.db
    args.journeys = [*args.journeys, *args.more_journeys]
    if not args.journeys:
        print("journeydsl: error: give the journeys to run (JOURNEY … or --journeys …)", file=err)
        return ExitCode.USAGE
    if not is_postgres_dsn(db):
        print(
            "journeydsl: error: --db must name a PostgreSQL database (postgresql://…): workers "
            "share one by leases; a SQLite state file has one writer, `journeydsl run`",
            file=err,
        )
        return ExitCode.USAGE
    now = None
    if args.now:
        now = parse_time(args.now)
        if now is None:
            print(
                f"journeydsl: error: --now {args.now!r} is not an ISO 8601 time with an offset",
                file=err,
            )
            return ExitCode.USAGE
    lease = _duration(err, "--lease", args.lease)
    if lease is None:
        return ExitCode.USAGE
    from journeydsl.runtime.worker import MIN_LEASE

    if lease < MIN_LEASE:
        print(
            f"journeydsl: error: --lease {args.lease} is too short: a lease is renewed every "
            f"third of it, between steps, so it lasts at least {MIN_LEASE.total_seconds():g}s "
            "(default 10s)",
            file=err,
        )
        return ExitCode.USAGE
    if args.metrics_port is not None and not 0 <= args.metrics_port <= 65535:
        print(
            f"journeydsl: error: --metrics-port {args.metrics_port} is not a TCP port "
            "(0 to 65535; 0: a free one)",
            file=err,
        )
        return ExitCode.USAGE
    not_a_file = actions_file_problem(args.actions)
    if not_a_file is not None:
        print(f"journeydsl: error: {not_a_file}", file=err)
        return ExitCode.USAGE
    kafka_problem = _kafka_usage(args)
    if kafka_problem:
        print(f"journeydsl: error: {kafka_problem}", file=err)
        return ExitCode.USAGE
    for path in [
        *([args.profiles] if args.profiles else []),
        *([args.events] if args.events and args.events != "-" else []),
    ]:
        if (problem := input_file_problem(path)) is not None:
            print(f"journeydsl: error: {problem}", file=err)
            return ExitCode.USAGE
    journeys = _journeys_of(args, err)
    if journeys is None:
        return ExitCode.ERRORS
    policies = _policy_file(args.policies, args.root, err)
    if isinstance(policies, ExitCode):
        return policies
    clock = args.clock or ("event" if args.exit_when_idle else "system")
    if now is not None and clock == "system":
        print(
            "journeydsl: error: --now is for event time (--clock event, the default with "
            "--exit-when-idle); a live worker (--clock system, the default without it) runs on "
            "this machine's clock",
            file=err,
        )
        return ExitCode.USAGE
    with quiet_engine_logs(err):
        try:
            times = (now, lease)
            return _work(args, journeys, policies, times, clock == "event", signals, err)
        except JourneyChangedError as exc:
            print(f"journeydsl: error: {db_label(db)}: {exc}", file=err)
            return ExitCode.USAGE
        except ValueError as exc:
            print(f"journeydsl: error: {exc}", file=err)
            return ExitCode.USAGE
        except DatabaseInUse as exc:  # (a `journeydsl run` holds the database)
            print(f"journeydsl: error: {exc}", file=err)
            return ExitCode.USAGE
        except KafkaConsumerError as exc:
            print(
                f"journeydsl: error: {exc}; the worker stopped and released its leases; the "
                "offsets of what was not put into the inbox were not committed",
                file=err,
            )
            return ExitCode.ERRORS
        except SinkError as exc:
            print(
                f"journeydsl: error: {exc}; the worker stopped and released its leases; what "
                "was not delivered stays pending in the database for the next worker",
                file=err,
            )
            return ExitCode.ERRORS
        except Exception as exc:
            if not told_store_problem(db, exc, err):
                raise
            return ExitCode.ERRORS


def _work(
    args: argparse.Namespace,
    journeys: list[ir.Journey],
    policies: Policies | None,
    times: tuple[datetime | None, timedelta],
    event_time: bool,
    signals: _Signals,
    err: TextIO,
) -> int:
    now, lease = times
    from journeydsl.runtime.stores.postgres import PostgresStore
    from journeydsl.runtime.worker import SystemClock, Worker

    with PostgresStore(args.db, migrate=bool(args.migrate), buckets=args.buckets) as store:
        from journeydsl.runtime.rewards import ledger_conflicts  # reward budgets: their units

        if problems := ledger_conflicts(journeys, store):
            raise ValueError(f"{db_label(args.db)}: {'; '.join(problems)}")

        # (the actions file writes each time in its customer's zone: one lookup per customer,
        # not per action; a zone changed meanwhile only changes how a time is written)
        @functools.lru_cache(maxsize=100_000)
        def timezone_of(customer_id: str) -> tzinfo | None:
            name = store.get(customer_id).timezone
            return zone(name) if name else None  # (None: the journey's zone)

        given: list[str] = []
        if args.profiles:
            loaded = store.load_profiles_jsonl(args.profiles, attribute_types(journeys))
            for problem in loaded.problems:
                print(f"{problem} (profile skipped)", file=err)
            given = loaded.customers
        zones = {j.id: zone(j.timezone) for j in journeys}
        with FileChannel(args.actions, timezone_of=timezone_of, journey_zones=zones) as sink:
            worker = Worker(
                journeys,
                store=store,
                channels=dict.fromkeys(CHANNELS, sink),
                tickets=sink,
                actions=_action_handlers(journeys, sink),
                policies=policies,
                clock=None if event_time else SystemClock(),
                lease=lease,
                poll=0.2 if args.exit_when_idle else 1.0,
            )
            # (the file may change profiles an `entry when` reads: their owners look again)
            worker.profiles_given(given)
            metrics = consumer = None
            try:
                if args.metrics_port is not None:
                    metrics = _serve_metrics(worker, args.metrics_port, err)
                    if metrics is None:
                        return ExitCode.USAGE
                consumer = _kafka_consumer(args)
                feed = _events(args.events, worker.put, whole=bool(args.exit_when_idle))
                if consumer is not None:
                    feed = _kafka_feed(consumer, worker, bool(args.exit_when_idle))
                # (from here a signal drains the running worker instead of ending its start)
                signals.running(worker.stop, lambda: _reload(args, worker, sink, err))
                worker.run(exit_when_idle=bool(args.exit_when_idle), until=now, feed=feed)
            finally:
                if metrics is not None:
                    metrics.close()
                if consumer is not None:
                    consumer.close()  # (its partitions go to the other workers at once)
            health = worker.health()
            print(
                f"journeydsl worker {health.worker}: {health.events} events taken, "
                f"{health.quarantined} quarantined, {health.moved} timers and entries fired; "
                f"{sink.written} actions delivered to {args.actions}"
                + (f" ({sink.deduplicated} already there)" if sink.deduplicated else "")
                + f"; {worker.owner.claimed} bucket leases claimed, {worker.owner.lost} lost, "
                f"{health.fenced} commits fenced",
                file=err,
            )
    return ExitCode.OK


def _serve_metrics(worker: Any, port: int, err: TextIO) -> Any:
    """The metrics server of ``--metrics-port PORT``, its address said on ``err``; None after
    saying why it cannot serve (the port is taken, or prometheus-client is not installed)."""
    try:
        from journeydsl.runtime.metrics import serve

        server = serve(worker, port)
    except ImportError:
        print(
            "journeydsl: error: --metrics-port needs prometheus-client: "
            "pip install 'journeydsl[metrics]'",
            file=err,
        )
        return None
    except OSError as exc:
        print(
            f"journeydsl: error: --metrics-port {port}: cannot serve on 127.0.0.1:{port} "
            f"({exc.strerror or exc}); choose another port, or 0 for a free one",
            file=err,
        )
        return None
    print(
        f"journeydsl worker {worker.owner.worker}: metrics on "
        f"http://127.0.0.1:{server.port}/metrics",
        file=err,
        flush=True,
    )
    return server


#: With --exit-when-idle, how long (seconds) a poll of Kafka waits for records: once one comes
#: back empty, the group's records until then are in the inbox.
KAFKA_BATCH_WAIT = 5.0


def _journeys_of(args: argparse.Namespace, err: TextIO) -> list[ir.Journey] | None:
    """The journeys of the command line, compiled as ``check`` compiles them (a folder's
    journeys read their catalogs from inside it); None after telling what is wrong."""
    roots = catalog_roots(args.journeys, args.root)
    return _compile(list(roots), err, args.root, roots)


def _kafka_usage(args: argparse.Namespace) -> str | None:
    """What is wrong with the Kafka options (None: nothing)."""
    if args.kafka is None:
        if args.topic or args.kafka_config:
            return "--topic and --kafka-config go with --kafka BROKERS"
        return None
    if args.events is not None:
        return "--kafka and --events are two sources of events: give one"
    for setting in args.kafka_config:
        key, eq, _ = setting.partition("=")
        if not eq or not key.strip():
            return f"--kafka-config {setting!r} is not KEY=VALUE"
    return None


def _kafka_consumer(args: argparse.Namespace) -> Any:
    """The Kafka consumer of ``--kafka`` (None without it)."""
    if args.kafka is None:
        return None
    from journeydsl.runtime.kafka import KafkaConsumer

    config = dict(s.partition("=")[::2] for s in args.kafka_config)
    topics = args.topic or ["journeydsl-events"]
    return KafkaConsumer(args.kafka, topics, args.group, {k.strip(): v for k, v in config.items()})


def _kafka_feed(consumer: Any, worker: Any, batch: bool) -> Callable[[], list[bytes]] | None:
    """The worker's feed from Kafka: a batch each pass; or, for a batch run (``batch``), what
    the group has now, put at once (then no feed)."""
    from journeydsl.runtime.consumer import consumer_feed, pump

    if not batch:
        return consumer_feed(consumer, worker.put)
    # (each poll waits up to KAFKA_BATCH_WAIT for records, joining the group included)
    while pump(consumer, worker.put, timeout=KAFKA_BATCH_WAIT):
        pass
    return None


def _events(
    source: str | None, put: Callable[[list[bytes]], int], whole: bool
) -> Callable[[], list[bytes]] | None:
    """Put a file's events (or, when ``whole``, all of stdin's) into the inbox now; otherwise
    for stdin, a feed the worker drains each pass (a thread reads the lines as they come)."""
    if source is None:
        return None
    if source != "-" or whole:
        with open(source, "rb") if source != "-" else _stdin() as f:
            chunk: list[bytes] = []
            for _, line in numbered_lines(f):
                chunk.append(line)
                if len(chunk) >= 1000:
                    put(chunk)
                    chunk = []
            put(chunk)
        return None
    lines: queue.SimpleQueue[bytes] = queue.SimpleQueue()
    done = threading.Event()

    def read() -> None:
        # (the descriptor itself, not sys.stdin's buffered reader: a read blocked in that
        # reader holds its lock, and the interpreter aborts at exit when it finds it held)
        try:
            fd = sys.stdin.fileno()
        except (AttributeError, OSError, ValueError):  # (a stdin without a descriptor)
            for _, line in numbered_lines(sys.stdin.buffer):
                lines.put(line)
            done.set()
            return
        pending = bytearray()
        start = True  # a byte-order mark at the start of the stream is not part of a line
        while chunk := os.read(fd, 1 << 16):
            pending += chunk
            if start and len(pending) >= len(UTF8_BOM):
                start = False
                if pending.startswith(UTF8_BOM):
                    del pending[: len(UTF8_BOM)]
            end = pending.rfind(b"\n") + 1
            if end:
                for line in bytes(pending[: end - 1]).split(b"\n"):
                    lines.put(line + b"\n")
                del pending[:end]
        if pending:
            lines.put(bytes(pending))
        done.set()

    threading.Thread(target=read, daemon=True).start()

    def feed() -> list[bytes]:
        got: list[bytes] = []
        while True:
            try:
                got.append(lines.get_nowait())
            except queue.Empty:
                return got

    return feed


def _stdin() -> IO[bytes]:
    return contextlib.nullcontext(sys.stdin.buffer)  # type: ignore[return-value]


def _reload(args: argparse.Namespace, worker: Any, sink: FileChannel, err: TextIO) -> None:
    """SIGHUP: compile the journey files again and load what changed into the running worker
    (a new version, a new journey); a mistake is told and the worker goes on as it was."""
    journeys = _journeys_of(args, err)
    if journeys is None:
        print("journeydsl worker: reload refused: the journeys do not compile", file=err)
        return
    try:
        changes = worker.reload(journeys, actions=_action_handlers(journeys, sink))
    except ValueError as exc:
        print(f"journeydsl worker: reload refused: {exc}", file=err, flush=True)
        return
    what = ", ".join(changes) if changes else "nothing changed"
    print(f"journeydsl worker {worker.owner.worker}: reloaded: {what}", file=err, flush=True)


class _Stopped(BaseException):
    """SIGTERM or SIGINT while the worker starts: the start ends where it is (a
    ``BaseException``, as ``KeyboardInterrupt`` is, so that no ``except Exception`` on the way
    takes it for a failure)."""


class _Signals:
    """The command's handlers of SIGTERM, SIGINT and SIGHUP, from its start to its end.

    While the worker starts, SIGTERM or SIGINT raise :class:`_Stopped` where the start is (a
    blocking read of stdin included), and a SIGHUP is kept for when it runs; once it runs
    (:meth:`running`), they ask it to stop (drain), and SIGHUP reloads its journeys on a thread
    of its own (the worker goes on meanwhile)."""

    def __init__(self) -> None:
        self._stop: Callable[[], None] | None = None
        self._reload: Callable[[], None] | None = None
        self._reload_asked = False
        self._stopping = False
        signals = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
        # (Python takes signals on its main thread only: a command run on another has none)
        main = threading.current_thread() is threading.main_thread()
        self._before = {s: signal.signal(s, self._handler) for s in signals} if main else {}

    def running(self, stop: Callable[[], None], reload: Callable[[], None]) -> None:
        """The worker runs: signals stop it (drain) and reload it from now on."""
        self._stop, self._reload = stop, reload
        if self._reload_asked:
            self._reload_asked = False
            self._reloading()

    def restore(self) -> None:
        """Put back the handlers the command found."""
        for s, h in self._before.items():
            signal.signal(s, h)

    def _handler(self, signum: int, frame: FrameType | None) -> None:
        if signum == signal.SIGHUP:
            if self._reload is None:
                self._reload_asked = True
            else:
                self._reloading()
        elif self._stop is not None:
            self._stop()
        elif not self._stopping:  # (a second signal while the start unwinds changes nothing)
            self._stopping = True
            raise _Stopped

    def _reloading(self) -> None:
        assert self._reload is not None
        threading.Thread(target=self._reload, name="journeydsl-reload", daemon=True).start()


#: The command this module defines.
COMMANDS = {"worker": Command(add_worker_arguments, cmd_worker)}
