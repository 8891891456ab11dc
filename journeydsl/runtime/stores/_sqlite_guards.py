"""What keeps a :class:`~journeydsl.runtime.stores.sqlite.SQLiteStore` to its contract: one writer
per database file, one thread per store, and storage failures told as what they are.

* **One writer per file.** A writable store holds an exclusive ``flock`` on ``<db>.lock`` (next
  to the database, symlinks resolved) for as long as it is open; a second writable store on the
  same file, in this process or another, is refused with :class:`DatabaseInUse`. The kernel
  drops the lock of a process that dies, however it dies, so a stale lock file is simply taken
  over. The lock file stays behind (deleting it would let two writers lock two different files);
  it holds the holder's pid and start time, for the refusal's message. ``flock`` is advisory and
  POSIX-only: a plain ``sqlite3`` connection ignores it (SQLite's own locks still keep each
  transaction safe), and on Windows no lock is taken.
* **One thread per store.** Every public method checks that it runs on the thread that opened
  the store and raises :class:`StoreThreadError` otherwise (see :func:`single_threaded` for the
  cost). The connection's own check (``check_same_thread``) stays on behind it.
* **Storage failures.** :func:`storage_error` turns the ``sqlite3`` errors that mean "this file
  cannot be used" (not a database, damaged, read-only, full, locked, unreadable) into a
  :class:`StoreUnavailable` whose message names the file and the likely fix.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import json
import os
import sqlite3
import sys
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any, NoReturn, TypeVar, cast

__all__ = [
    "DatabaseInUse",
    "StoreThreadError",
    "StoreUnavailable",
    "WriterLock",
    "single_threaded",
    "storage_error",
]


class StoreUnavailable(RuntimeError):  # noqa: N818 - reads as the condition, like BadEvent
    """The database file cannot be used: ``path`` names it, ``problem`` says why and what to do.

    Raised when a store is opened (the file is not a database, is damaged, has a newer schema,
    cannot be written …); :func:`storage_error` builds one from a ``sqlite3`` error raised later.
    A ``RuntimeError``, as the refusal of a newer schema always was."""

    def __init__(self, path: str, problem: str, message: str | None = None) -> None:
        super().__init__(message if message is not None else f"{path}: {problem}")
        self.path = path
        self.problem = problem


class DatabaseInUse(StoreUnavailable):
    """Another open store holds the database's writer lock (one writer per SQLite file).

    ``pid`` and ``since`` are the holder's, as its lock file tells them (None when it has not
    written them yet)."""

    def __init__(self, path: str, pid: int | None, since: str | None) -> None:
        who = (
            "another SQLiteStore of this process"
            if pid == os.getpid()
            else "another journeydsl process"
        )
        about = f"pid {pid}" if pid is not None else "pid unknown"
        about += f", since {since}" if since else ""
        problem = (
            f"in use by {who} ({about}); one writer per SQLite database — "
            "use PostgreSQL for many workers"
        )
        super().__init__(path, problem, f"{path} is {problem}")
        self.pid = pid
        self.since = since


class StoreThreadError(sqlite3.ProgrammingError):
    """A store was used from another thread than the one that opened it.

    A ``sqlite3.ProgrammingError``, which is what the same mistake raised before this check
    existed, so code that catches that still does."""

    def __init__(self, path: str, owner: str, user: str, store: str = "SQLiteStore") -> None:
        super().__init__(
            f"{store} is single-threaded: {path} was opened in thread {owner} and used from "
            f"thread {user}. Use each store from the thread that opened it: give the engine one "
            "thread of its own (e.g. a ThreadPoolExecutor(max_workers=1) that opens the store and "
            "runs every call), or call it from async handlers on the event loop; threads that "
            f"only read may each open {store}(path, readonly=True)"
            + (". Many writers need PostgreSQL, not SQLite" if store == "SQLiteStore" else "")
        )
        self.path = path


def _thread_name(ident: int) -> str:
    thread = next((t for t in threading.enumerate() if t.ident == ident), None)
    return f"{thread.name!r} (id {ident})" if thread is not None else f"id {ident}"


_F = TypeVar("_F", bound=Callable[..., Any])
_C = TypeVar("_C", bound=type)
_get_ident = threading.get_ident


def _owned(method: _F) -> _F:
    """``method`` behind the owner-thread check. The wrapper is written with ``method``'s own
    parameters (as dataclasses writes ``__init__``): forwarding ``*args, **kwargs`` would cost
    three times as much on every call."""
    params = list(inspect.signature(method).parameters.values())
    defaults: dict[str, Any] = {}
    heads: list[str] = []
    calls: list[str] = []
    for i, p in enumerate(params):
        if p.kind is p.KEYWORD_ONLY and not any(h.startswith("*") for h in heads):
            heads.append("*")
        head = p.name
        if p.default is not p.empty:
            defaults[f"_default_{p.name}"] = p.default
            head += f"=_default_{p.name}"
        call = f"{p.name}={p.name}" if p.kind is p.KEYWORD_ONLY else p.name
        if p.kind is p.VAR_POSITIONAL:
            head = call = f"*{p.name}"
        elif p.kind is p.VAR_KEYWORD:
            head = call = f"**{p.name}"
        heads.append(head)
        calls.append(call)
        last_positional = i + 1 == len(params) or params[i + 1].kind is not p.POSITIONAL_ONLY
        if p.kind is p.POSITIONAL_ONLY and last_positional:
            heads.append("/")
    self = params[0].name
    source = (
        f"def checked({', '.join(heads)}):\n"
        f"    if _get_ident() != {self}._owner_thread:\n"
        f"        _refuse({self})\n"
        f"    return _method({', '.join(calls)})\n"
    )
    namespace: dict[str, Any] = {
        "_get_ident": _get_ident,
        "_refuse": _refuse,
        "_method": method,
        **defaults,
    }
    exec(source, namespace)  # (only parameter names from our own class's code)
    functools.update_wrapper(namespace["checked"], method)
    return cast(_F, namespace["checked"])


def _refuse(store: Any) -> NoReturn:
    raise StoreThreadError(
        store.path,
        _thread_name(store._owner_thread),
        _thread_name(_get_ident()),
        type(store).__name__,
    )


def single_threaded(cls: _C) -> _C:
    """Class decorator: every public method of ``cls`` (``close`` included, and those it
    inherits from the parts it is assembled from) first checks that it runs on the thread that
    opened the instance (``self._owner_thread``, a :func:`threading.get_ident`), and raises
    :class:`StoreThreadError` otherwise.

    Why a check of our own rather than catching the ``sqlite3.ProgrammingError`` of the
    connection's check: the store answers some calls from its caches without touching the
    connection (the earliest timer, a profile inside a transaction), and those would have
    served another thread silently. The check costs the wrapper's call, one C call and one
    comparison: about 0.1 µs, against 2 to 3 µs for the cheapest store call that reads SQLite
    (docs/reliability.md has the measurement)."""
    for name in dir(cls):
        # The attribute as the class resolves it (its own, or a base's), not bound or unwrapped.
        value = inspect.getattr_static(cls, name)
        if not name.startswith("_") and inspect.isfunction(value):  # (not static or class)
            setattr(cls, name, _owned(value))
    return cls


# --------------------------------------------------------------------------- the writer lock


def _holder(fd: int) -> tuple[int | None, str | None]:
    """The pid and start time the lock's holder wrote, or Nones."""
    try:
        raw = json.loads(os.pread(fd, 4096, 0) or b"{}")
        pid, since = raw.get("pid"), raw.get("since")
    except (OSError, ValueError, AttributeError):
        return None, None
    return (pid if isinstance(pid, int) else None), (since if isinstance(since, str) else None)


class WriterLock:
    """The exclusive ``flock`` on ``<database>.lock``, held from :meth:`take` to :meth:`release`.

    ``flock`` locks belong to an open file description, so two stores of one process conflict
    as two processes do, and closing the descriptor (or the process ending) releases it."""

    def __init__(self, database: str, path: str, fd: int) -> None:
        self.database = database
        self.path = path
        self._fd: int | None = fd

    @classmethod
    def take(cls, database: str) -> WriterLock | None:
        """Lock ``database`` for writing; None where there is nothing to lock (``:memory:``, a
        temporary database, Windows). Raises :class:`DatabaseInUse` when another store holds
        it, :class:`StoreUnavailable` when the lock file cannot be created."""
        if database in ("", ":memory:") or sys.platform == "win32":
            return None
        import fcntl

        path = os.path.realpath(database) + ".lock"
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise StoreUnavailable(
                database,
                f"cannot create the lock file {path} ({exc.strerror}); the folder "
                "must be writable, as SQLite writes its -wal and -shm files there too",
            ) from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            # (the holder writes its pid just after it took the lock: a refusal in between
            # waits for it a little, up to a second, to name the holder)
            pid, since = _holder(fd)
            for _ in range(50):
                if pid is not None:
                    break
                time.sleep(0.02)
                pid, since = _holder(fd)
            os.close(fd)
            raise DatabaseInUse(database, pid, since) from None
        except OSError as exc:
            os.close(fd)
            raise StoreUnavailable(database, f"cannot lock {path} ({exc.strerror})") from exc
        since = datetime.now().astimezone().isoformat(timespec="seconds")
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps({"pid": os.getpid(), "since": since}).encode() + b"\n", 0)
        return cls(database, path, fd)

    def release(self) -> None:
        """Let go of the lock (idempotent); the lock file is emptied, not deleted."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        # The next reader finds no pid rather than a stale one (the close releases the lock
        # even if this fails).
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
        os.close(fd)


# --------------------------------------------------------------------------- storage errors

#: SQLite's primary error codes that mean the file cannot be used, and what to say about them.
_PROBLEMS: dict[str, str] = {
    "SQLITE_NOTADB": "not a SQLite database ({error}); is this the state file?",
    "SQLITE_CORRUPT": (
        "the database is damaged ({error}); restore it from a backup "
        "(`journeydsl run --check-db` lists the damage)"
    ),
    "SQLITE_READONLY": (
        "the database cannot be written ({error}); check the permissions of the file and its "
        "folder (SQLite writes -wal and -shm files next to it) and that the file system is not "
        "mounted read-only"
    ),
    "SQLITE_CANTOPEN": (
        "cannot open the database file ({error}); check the path and the permissions of the "
        "file and its folder"
    ),
    "SQLITE_PERM": "permission denied ({error}); check the permissions of the file and its folder",
    "SQLITE_FULL": "the disk is full ({error}); free space and run again",
    "SQLITE_IOERR": "an I/O error ({error}); check the disk and the file system",
    "SQLITE_BUSY": (
        "the database is locked by another connection ({error}); another program holds a "
        "write transaction on it: finish that one, then run again"
    ),
    "SQLITE_LOCKED": "the database is locked ({error}); finish the other transaction first",
    "SQLITE_NOLFS": "the file is too large for this system ({error})",
    "SQLITE_PROTOCOL": "the file's locking failed ({error}); is it on a network file system?",
}


def storage_error(path: str, exc: BaseException) -> StoreUnavailable | None:
    """A :class:`StoreUnavailable` naming ``path`` and the problem, when ``exc`` is a ``sqlite3``
    error that means the database file cannot be used (by its SQLite error code: not a database,
    damaged, read-only, unopenable, full, an I/O error, locked); None for anything else (a
    constraint, a bug in a statement), which stays the exception it is."""
    if isinstance(exc, StoreUnavailable):
        return exc
    name = getattr(exc, "sqlite_errorname", None)
    if not isinstance(exc, sqlite3.Error) or not isinstance(name, str):
        return None
    primary = "_".join(name.split("_")[:2])  # SQLITE_IOERR_SHORT_READ → SQLITE_IOERR
    problem = _PROBLEMS.get(primary)
    return StoreUnavailable(path, problem.format(error=exc)) if problem is not None else None
