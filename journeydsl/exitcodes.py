"""The exit codes of every ``journeydsl`` command (DESIGN.md): one definition for the CLI, ``run``,
``quarantine`` and the simulation commands. The commands return :class:`ExitCode` members;
``EXIT_OK``, ``EXIT_ERRORS`` and ``EXIT_USAGE`` are the names hosts imported before the enum."""

from __future__ import annotations

from enum import IntEnum

__all__ = ["EXIT_ERRORS", "EXIT_OK", "EXIT_USAGE", "ExitCode"]


class ExitCode(IntEnum):
    """What a command's exit status means."""

    #: Done: every journey checked clean, every effect delivered or withheld with a reason.
    OK = 0
    #: The input has errors (a journey, a policy file, a state file that cannot be used), or
    #: the work stopped on a fault of our own sinks or storage: fix it and run again.
    ERRORS = 1
    #: A usage error: a missing file or argument, a refused fresh start, a database in use.
    USAGE = 2


EXIT_OK, EXIT_ERRORS, EXIT_USAGE = ExitCode.OK, ExitCode.ERRORS, ExitCode.USAGE
