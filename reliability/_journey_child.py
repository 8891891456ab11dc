"""One command of the hostile-journeys campaign on one input, in a process of its own: the child
process of :mod:`reliability.hostile_journeys`.

    python -m reliability._journey_child check|run ADDRESS_SPACE_BYTES FOLDER JOURNEY

It caps its own address space (``RLIMIT_AS``, a safety net: the campaign measures the peak RSS
itself and kills the process past its wall limit), then runs the real command on the journey
``FOLDER/JOURNEY``: ``journeydsl check``, or ``journeydsl run`` over the folder's
``events.jsonl`` and ``profiles.jsonl`` on a fresh state file, up to :data:`RUN_UNTIL`. Nothing
is caught here: a traceback is what the campaign looks for.

Its last line on stderr, however it ends (but for a kill), is its own peak RSS (:data:`PEAK`).
The ``ru_maxrss`` that ``os.wait4`` gives the parent is no measure of it: ``execve`` records the
peak of the memory it replaces, and after ``posix_spawn`` (a ``vfork``) that is the parent's.
"""

from __future__ import annotations

import atexit
import resource
import sys
from collections.abc import Sequence

#: Where ``journeydsl run`` stops: three days after the campaign's events (loops in generated
#: journeys wait an hour or more per round, so at most about 72 rounds run).
RUN_UNTIL = "2026-01-08T08:00:00+07:00"
#: What the last line on stderr starts with, before the peak RSS in kB.
PEAK = "reliability: peak RSS kB"


def report_peak() -> None:
    """Print this process's peak RSS (``VmHWM``: its own, since its ``execve``)."""
    with open("/proc/self/status", encoding="ascii") as status:
        kb = next(line.split()[1] for line in status if line.startswith("VmHWM:"))
    print(f"{PEAK} {kb}", file=sys.stderr, flush=True)


def main(argv: Sequence[str]) -> int:
    """Run the command ``argv`` names on its journey; returns the exit code."""
    command, limit, folder, journey = argv[0], int(argv[1]), argv[2], argv[3]
    atexit.register(report_peak)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    from journeydsl.cli import main as journeydsl

    path = f"{folder}/{journey}"
    if command == "check":
        return journeydsl(["check", path])
    files = {"--db": "state.sqlite", "--events": "events.jsonl", "--profiles": "profiles.jsonl"}
    files["--actions"] = "actions.jsonl"
    options = [part for option, name in files.items() for part in (option, f"{folder}/{name}")]
    return journeydsl(["run", *options, "--now", RUN_UNTIL, path])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
