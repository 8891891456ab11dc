"""Do-not-contact list files (``do_not_contact: {file: …}``), as the policy evaluator reads them
at delivery time: one customer id or phone number a line, read again when the file changes, and
refused (the list fails closed) when it is missing, not a regular file, larger than
:data:`~journeydsl.runtime.policies.model.MAX_DO_NOT_CONTACT_BYTES`, not UTF-8 text, or has a line
that is not one entry."""

from __future__ import annotations

import re
import stat
from functools import lru_cache
from pathlib import Path

from journeydsl.confine import FileRefusedError, read_regular
from journeydsl.runtime.policies.model import MAX_DO_NOT_CONTACT_BYTES

__all__ = ["UnreadableListError", "read_list"]


class UnreadableListError(Exception):
    """A do-not-contact file that cannot be read; ``problem`` says why, for the reason."""

    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem


#: What no customer id or phone number holds: control characters (a binary file) and the
#: separators of a CSV export (whose lines would match nobody).
_NOT_AN_ENTRY = re.compile(r"[\x00-\x1f\x7f,;]")


def _os_problem(exc: OSError) -> str:
    """What went wrong, in the words of a suppression reason (``no such file``)."""
    if isinstance(exc, FileNotFoundError):
        return "no such file"
    if isinstance(exc, IsADirectoryError):
        return "a directory, not a file"
    if isinstance(exc, PermissionError):
        return "permission denied"
    return (exc.strerror or type(exc).__name__).lower()


def _refused_problem(exc: FileRefusedError) -> str:
    """A refusal (a file swapped for a pipe or grown past the limit between the ``stat`` and the
    read) in the words of a suppression reason."""
    return exc.reason.removeprefix("is ")


@lru_cache(maxsize=16)
def _read_list_cached(path: str, version: tuple[int, int, int, int]) -> tuple[str, ...]:
    """The entries of ``path`` as of ``version`` (its change and modification times, size and
    inode: any of them changing reads the file again). Raises :class:`UnreadableListError`."""
    try:
        data = read_regular(Path(path), MAX_DO_NOT_CONTACT_BYTES)
    except FileRefusedError as exc:
        raise UnreadableListError(_refused_problem(exc)) from None
    except OSError as exc:
        raise UnreadableListError(_os_problem(exc)) from None
    try:
        # utf-8-sig: a byte-order mark glued to the first entry would make it match nobody.
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        at = data[: exc.start].count(b"\n") + 1
        raise UnreadableListError(f"line {at} is not UTF-8 text") from None
    out: list[str] = []
    for number, line in enumerate(text.splitlines(), 1):
        entry = line.split("#", 1)[0].strip()
        if not entry:
            continue
        if bad := _NOT_AN_ENTRY.search(entry):
            raise UnreadableListError(
                f"line {number}: {bad.group()!r} in {entry!r}; write one customer id or phone "
                "number a line"
            )
        out.append(entry)
    return tuple(out)


def read_list(path: Path) -> tuple[str, ...]:
    """The entries of a do-not-contact file (one a line, ``#`` comments, blank lines skipped),
    read again when the file changes. Raises :class:`UnreadableListError` for a file that is
    missing, not a regular file, unreadable, not UTF-8 text or has a line that is not one
    entry."""
    try:
        st = path.stat()
    except OSError as exc:
        raise UnreadableListError(_os_problem(exc)) from None
    if stat.S_ISDIR(st.st_mode):
        raise UnreadableListError("a directory, not a file")
    if not stat.S_ISREG(st.st_mode):
        # A pipe or a device would block or never end.
        raise UnreadableListError("not a regular file")
    if st.st_size > MAX_DO_NOT_CONTACT_BYTES:
        raise UnreadableListError(f"larger than the limit of {MAX_DO_NOT_CONTACT_BYTES:,} bytes")
    return _read_list_cached(str(path), (st.st_ctime_ns, st.st_mtime_ns, st.st_size, st.st_ino))
