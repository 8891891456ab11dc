"""What the commands share: how a command declares itself, the parser, the usage error (exit
code 2), journey paths as the command line gives them, and quiet engine logs.

Nothing here imports the compiler, the runtime or the simulator, so that building the parser
stays cheap.
"""

from __future__ import annotations

import argparse
import difflib
import logging
import os
import re
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn, TextIO

from journeydsl.exitcodes import ExitCode

__all__ = [
    "Command",
    "Parser",
    "UsageError",
    "actions_file_problem",
    "add_root_option",
    "add_skip_option",
    "catalog_roots",
    "check_input_files",
    "closest",
    "fail_usage",
    "input_file_problem",
    "journeys_with_roots",
    "looks_like_journey",
    "output_file_problem",
    "quiet_engine_logs",
    "write_atomically",
]


@dataclass(frozen=True, slots=True)
class Command:
    """One ``journeydsl`` command as its module declares it: the options it takes, and what it
    does with them (writing to ``out`` and ``err``, returning the exit code)."""

    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace, TextIO, TextIO], int]


class Parser(argparse.ArgumentParser):
    """The parser of the command line and of each command: a mistake in the arguments exits
    with :attr:`~journeydsl.exitcodes.ExitCode.USAGE`, after the usage line."""

    def error(self, message: str) -> NoReturn:
        """Print the usage and ``message`` to stderr, and exit with the usage error's code. A
        choice that is not one gets a did-you-mean over the choices."""
        if m := _INVALID_CHOICE.search(message):
            choices = re.findall(r"'([^']*)'", m.group("choices"))
            if best := closest(m.group("given"), choices):
                message += f" — did you mean '{best}'?"
        self.print_usage(sys.stderr)
        self.exit(ExitCode.USAGE, f"{self.prog}: error: {message}\n")

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        """As argparse does, after refusing an option this command does not have (with the one
        it most likely meant) before anything else is reported, such as a missing argument."""
        if args is not None:
            args = [_unalias(a) for a in args]
        if args is not None and not self._subparsers_action():
            unknown = [a for a in _long_options(args) if not self._takes(a)]
            if unknown:
                self.unrecognized(unknown)
        return super().parse_known_args(args, namespace)

    def _subparsers_action(self) -> bool:
        return any(isinstance(a, argparse._SubParsersAction) for a in self._actions)

    def _takes(self, option: str) -> bool:
        """Whether ``option`` (``--name`` or ``--name=value``) is one of this parser's options
        or an unambiguous abbreviation of one, as argparse accepts."""
        name = option.split("=", 1)[0]
        actions = {id(a) for a in self._actions for o in a.option_strings if o.startswith(name)}
        return name in self.option_strings() or len(actions) == 1

    def option_strings(self) -> list[str]:
        """Every option this parser takes (``--behaviour``, ``-o``, ...), each action's first
        spelling before its aliases (``--behavior``), so that suggestions name the first."""
        firsts = [o for a in self._actions for o in a.option_strings[:1]]
        aliases = [o for a in self._actions for o in a.option_strings[1:]]
        return firsts + aliases

    def unrecognized(self, extras: Sequence[str]) -> NoReturn:
        """Stop on arguments no option took, suggesting the option each misspelt one meant."""
        options = self.option_strings()
        parts = []
        for extra in extras:
            name = extra.split("=", 1)[0]
            best = closest(name, options) if name.startswith("-") else None
            parts.append(f"{extra} (did you mean `{best}`?)" if best else extra)
        self.error("unrecognized arguments: " + ", ".join(parts))


#: Other spellings of options, read as the option itself (not declared as aliases, which would
#: make a prefix such as ``--behav`` ambiguous).
ALIASES = {"--behavior": "--behaviour"}


def _unalias(arg: str) -> str:
    name, eq, value = arg.partition("=")
    return ALIASES[name] + eq + value if name in ALIASES else arg


def _long_options(args: Sequence[str]) -> list[str]:
    """The ``--name`` arguments before a ``--`` that ends the options."""
    out = []
    for a in args:
        if a == "--":
            break
        if a.startswith("--"):
            out.append(a)
    return out


_INVALID_CHOICE = re.compile(r"invalid choice: '(?P<given>[^']*)' \(choose from (?P<choices>.*)\)")


def closest(word: str, candidates: Iterable[str]) -> str | None:
    """The candidate closest to a misspelt ``word``, or None when none is close; of equally
    close ones, the first given."""
    best, score = None, 0.6
    for candidate in dict.fromkeys(candidates):
        ratio = difflib.SequenceMatcher(None, word, candidate).ratio()
        if ratio > score:
            best, score = candidate, ratio
    return best


class UsageError(Exception):
    """A mistake in how the command was called (exit code 2)."""


def actions_file_problem(actions: str | Path) -> str | None:
    """Why ``actions`` cannot be the actions file (``-``, a folder, a device, a FIFO: not a
    regular file), or None. The actions file is read back when a run starts again, to drop the
    actions it already holds (exactly once), so it must be a file: stdout cannot be read back,
    /dev/null forgets, and a FIFO blocks the run until something reads it."""
    if str(actions) == "-":
        return (
            "--actions must name a file, not - (stdout): it is read back on a rerun to drop the "
            "actions already delivered"
        )
    path = Path(actions)
    if path.is_dir():
        return f"--actions {actions}: is a folder, not a file"
    if path.exists() and not path.is_file():
        return (
            f"--actions {actions}: is not a regular file (a device or a FIFO): the actions file "
            "is read back on a rerun to drop the actions already delivered"
        )
    return None


def input_file_problem(path: str | Path) -> str | None:
    """Why the input file ``path`` (events, profiles, a behaviour model, a journey) cannot be
    read, as ``PATH: reason`` (missing, a folder, not a regular file, not readable), or None.
    Opened and closed to know it can be read: a command stops before doing any work, rather
    than with a traceback halfway through."""
    p = Path(path)
    if not p.exists():
        return f"{path}: no such file"
    if p.is_dir():
        return f"{path}: is a folder, not a file"
    if not p.is_file():
        return f"{path}: is not a regular file"
    try:
        with p.open("rb"):
            pass
    except OSError as exc:
        return f"{path}: cannot be read: {exc.strerror or exc}"
    return None


def policy_file_problem(path: str | Path) -> str | None:
    """:func:`input_file_problem` for a policy file (``PATH: no such policy file`` when it is
    missing), or None."""
    problem = input_file_problem(path)
    if problem is not None and not Path(path).exists():
        return f"{path}: no such policy file"
    return problem


def check_input_files(*paths: str | Path | None) -> None:
    """A usage error (:class:`UsageError`) for the first of ``paths`` (None: not given) that
    cannot be read as an input file (:func:`input_file_problem`)."""
    for path in paths:
        if path is not None and (problem := input_file_problem(path)) is not None:
            fail_usage(problem)


def fail_usage(message: str) -> NoReturn:
    """Stop the command with a usage error (exit code 2) that says ``message``."""
    raise UsageError(message)


def _looks_like_journey(path: Path) -> bool:
    if path.suffix == ".journey":
        return True
    if path.suffix not in (".yaml", ".yml") or path.name.endswith((".test.yaml", ".test.yml")):
        return False
    try:
        with path.open("rb") as f:  # the head only: a folder may hold large files
            head = f.read(4096).decode("utf-8", errors="replace")
    except OSError:
        return False
    return any(line.startswith("journey:") for line in head.splitlines())


def looks_like_journey(path: Path) -> bool:
    """Whether ``path`` is a journey: a ``.journey`` file, or a YAML file (not a scenario
    test) with a top-level ``journey:`` key in its head."""
    return _looks_like_journey(path)


def add_skip_option(parser: argparse.ArgumentParser) -> None:
    """``--skip-other-files``: what a pre-commit hook passes, given every changed YAML file."""
    parser.add_argument(
        "--skip-other-files",
        action="store_true",
        help="skip the files given that are not journeys (catalogs, policies, scenario tests) "
        "instead of reading them as journeys; for pre-commit hooks",
    )


def catalog_roots(paths: Iterable[str | Path], root: str | Path | None) -> dict[Path, Path | None]:
    """The folder each journey the ``paths`` name reads its catalogs from inside (see
    :func:`journeys_with_roots`): what ``check`` uses, so that ``run`` and ``worker`` compile a
    folder's journeys as ``check`` does."""
    given = Path(root) if root is not None else None
    return dict(journeys_with_roots([str(p) for p in paths], given))


def journeys_with_roots(paths: Iterable[str], root: Path | None) -> list[tuple[Path, Path | None]]:
    """Each journey the ``paths`` name, with the folder its catalogs must be read from inside:
    ``root`` when given; else, for a journey found in a folder given on the command line, that
    folder (so journeys in its subfolders may share its catalogs); else None (the journey's own
    folder)."""
    out: list[tuple[Path, Path | None]] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            found = sorted(f for f in p.rglob("*") if f.is_file() and _looks_like_journey(f))
            if not found:
                fail_usage(f"{raw}: no .journey or journey .yaml files in this folder")
            out.extend((f, root or p) for f in found)
        elif p.exists():
            out.append((p, root))
        else:
            fail_usage(f"{raw}: no such file or folder")
    return out


@contextmanager
def quiet_engine_logs(err: TextIO) -> Iterator[None]:
    """The engine logs every step; a command reports through its own output, so only errors
    (a failing expression) reach ``err`` while the block runs."""
    import structlog

    old = structlog.get_config()
    structlog.configure(
        wrapper_class=structlog.make_filtering_bound_logger(logging.ERROR),
        logger_factory=structlog.PrintLoggerFactory(file=err),
    )
    try:
        yield
    finally:
        structlog.configure(**old)


def add_root_option(parser: argparse.ArgumentParser) -> None:
    """The ``--root DIR`` option of every command that compiles journeys (an existing folder;
    anything else is a usage error)."""
    parser.add_argument(
        "--root",
        metavar="DIR",
        type=_folder,
        help="read the catalogs the journeys use from inside this folder (default: each "
        "journey's own folder); a catalog path that leads outside it is refused (JD113)",
    )


def _folder(text: str) -> Path:
    if not Path(text).is_dir():
        raise argparse.ArgumentTypeError(f"{text}: no such folder")
    return Path(text)


def write_atomically(path: str | Path, text: str) -> None:
    """Write ``text`` (UTF-8) to the file ``path`` through a temporary file in the same folder,
    renamed over it once complete: a reader (a CI job collecting a report) finds the old file or
    the whole new one, never a part of one, and a failed write leaves no temporary file. The file
    gets the permissions a new file would (the umask's). Raises :class:`OSError` when the file
    cannot be written."""
    target = Path(path)
    fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)
        os.replace(temporary, target)
    except BaseException:
        with suppress(OSError):
            os.unlink(temporary)
        raise


def output_file_problem(path: str | Path) -> str | None:
    """Why a report cannot be written to ``path`` (its folder does not exist, or it is a folder),
    as ``PATH: reason``, or None: checked before the work starts, so that a mistyped path does
    not cost the whole run."""
    p = Path(path)
    if p.is_dir():
        return f"{path}: is a folder, not a file"
    if not p.parent.is_dir():
        return f"{path}: no such folder: {p.parent}"
    return None
