"""``journeydsl run`` over a failing actions file: the child process of the sinks campaign.

    RELIABILITY_SINK_FAULT='{"path": "out/actions.jsonl", "after": 5000, "errno": "ENOSPC",
                             "on": "write", "partial": true, "sticky": false}' \\
        python -m reliability._faulty_fs run JOURNEY... --db ... --events ... --actions ...

It runs the real command (``journeydsl.cli.main``) with ``os.open``, ``os.close``, ``os.write``,
``os.fsync`` and ``os.ftruncate`` wrapped. Only the descriptors opened on ``path`` (the actions
file) are touched; every other file, the SQLite database above all, is written normally (SQLite
does its I/O in C and never passes through these functions anyway). The fault *trips* once the
process has written ``after`` bytes to the actions file:

* ``on: write``: the write that would go past ``after`` fails with ``errno``; with ``partial`` it
  first writes the bytes that still fit and returns the short count (as a disk that fills up in
  the middle of a write does), and the next write fails;
* ``on: fsync``: writes succeed, and the ``fsync`` that follows the write past ``after`` fails
  with ``errno`` (the line may be on disk, but the disk said it is not durable).

Once tripped, every write and fsync of the actions file fails until the process ends (the disk
stays full, the device stays broken), and with ``sticky`` so does ``ftruncate``: the run cannot
even cut its torn line back off. Without ``after`` nothing is injected, and an ``OSError`` the
real actions file raises (a real full tmpfs) is only reported.

The child reports each trip on stderr (``reliability: fault injected ...``) at once, for the
campaign to count; the command's own output is untouched.
"""

from __future__ import annotations

import errno as errno_module
import json
import os
import sys
from collections.abc import Mapping
from typing import Any

#: The environment variable that carries the fault, as JSON.
FAULT = "RELIABILITY_SINK_FAULT"
#: What the child prints on stderr when the fault trips (or the real file fails).
INJECTED = "reliability: fault injected"
OBSERVED = "reliability: actions file failed"


class _Fault:
    """The fault on the actions file, and what the process wrote to it so far."""

    def __init__(self, spec: Mapping[str, Any]) -> None:
        self.path = os.path.realpath(str(spec["path"]))
        self.after: int | None = None if spec.get("after") is None else int(spec["after"])
        self.errno = int(getattr(errno_module, str(spec.get("errno", "ENOSPC"))))
        self.on = str(spec.get("on", "write"))
        self.partial = bool(spec.get("partial", False))
        self.sticky = bool(spec.get("sticky", False))
        self.fds: set[int] = set()
        self.written = 0
        self.tripped = False

    def error(self) -> OSError:
        return OSError(self.errno, os.strerror(self.errno), self.path)

    def trip(self, how: str) -> None:
        if not self.tripped:
            self.tripped = True
            print(
                f"{INJECTED}: {errno_module.errorcode[self.errno]} on {how} after "
                f"{self.written} bytes",
                file=sys.stderr,
                flush=True,
            )


def _install(fault: _Fault) -> None:
    real_open, real_close = os.open, os.close
    real_write, real_fsync, real_ftruncate = os.write, os.fsync, os.ftruncate

    def observed(exc: OSError, how: str) -> OSError:
        print(f"{OBSERVED}: {how}: {exc}", file=sys.stderr, flush=True)
        return exc

    def open_(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        fd = real_open(path, flags, *args, **kwargs)
        if kwargs.get("dir_fd") is None and os.path.realpath(os.fsdecode(path)) == fault.path:
            fault.fds.add(fd)
        return fd

    def close(fd: int) -> None:
        fault.fds.discard(fd)
        real_close(fd)

    def write(fd: int, data: Any) -> int:
        if fd not in fault.fds:
            return real_write(fd, data)
        if fault.tripped:
            raise fault.error()
        view = memoryview(data).cast("B")
        if fault.on == "write" and fault.after is not None:
            room = fault.after - fault.written
            if len(view) > room:
                if fault.partial and room > 0:
                    n = real_write(fd, view[:room])
                    fault.written += n
                    fault.trip(f"write (a partial write of {n} of {len(view)} bytes)")
                    return n
                fault.trip("write")
                raise fault.error()
        try:
            n = real_write(fd, view)
        except OSError as exc:
            raise observed(exc, "write") from None
        if n < len(view):  # the real file took only part of it (a tmpfs filling up)
            print(f"reliability: a partial write of {n} of {len(view)} bytes", file=sys.stderr)
        fault.written += n
        return n

    def fsync(fd: Any) -> None:
        if isinstance(fd, int) and fd in fault.fds:
            if fault.tripped:
                raise fault.error()
            if fault.on == "fsync" and fault.after is not None and fault.written > fault.after:
                fault.trip("fsync")
                raise fault.error()
            try:
                real_fsync(fd)
            except OSError as exc:
                raise observed(exc, "fsync") from None
            return
        real_fsync(fd)

    def ftruncate(fd: int, length: int) -> None:
        if fd in fault.fds and fault.tripped and fault.sticky:
            raise fault.error()
        real_ftruncate(fd, length)

    os.open = open_
    os.close = close
    os.write = write
    os.fsync = fsync
    os.ftruncate = ftruncate


def main(argv: list[str]) -> int:
    """Install the fault given in ``RELIABILITY_SINK_FAULT`` and run the CLI."""
    spec = os.environ.get(FAULT)
    if spec:
        fault = _Fault(json.loads(spec))
        if fault.on not in ("write", "fsync"):
            raise SystemExit(f"unknown fault site {fault.on!r}; write or fsync")
        _install(fault)
    from journeydsl.cli import main as cli_main

    return cli_main(argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
