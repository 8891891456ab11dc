"""Reading a file that a journey names, confined to a root folder.

A journey is input, often from someone else (a pull request that CI checks). ``uses events
"PATH"`` must not make ``journeydsl check`` read any file the user running it can read and quote
it back in diagnostics (``/etc/shadow``, ``../../secrets.yaml``), hang on a FIFO, or fill memory
from ``/dev/zero``. So a named file is read only when:

* its real path (symbolic links resolved) lies inside the root folder: the journey's own folder,
  unless the caller names another (``--root DIR``, ``root=`` in the API). An absolute path is
  fine when it points inside the root; ``..`` is fine while it stays inside;
* it is a regular file (not a folder, device, FIFO or socket), checked with ``os.stat`` before it
  is opened, and again on the open file;
* it holds at most ``limit`` bytes; no more than ``limit + 1`` bytes are ever read.

A refusal is a :class:`FileRefusedError` that says what was refused and why; it never carries a
byte of the file.

The threat is the journey's text, not a process that rewrites the file system meanwhile: the
file is opened by its resolved path with ``O_NOFOLLOW``, which catches a last component swapped
for a link after the check, not a folder on the way swapped for one.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Final, Literal

__all__ = [
    "MAX_CATALOG_BYTES",
    "Cause",
    "FileRefusedError",
    "NotUtf8Error",
    "check_regular",
    "confine",
    "read_regular",
    "utf8_text",
]

#: The largest catalog file read (1 MiB). Real catalogs are a few kilobytes; the limit bounds the
#: memory and time a wrong path or a hostile file can cost.
MAX_CATALOG_BYTES: Final = 1 << 20

_OPEN_FLAGS: Final = (
    os.O_RDONLY
    | getattr(os, "O_NONBLOCK", 0)  # opening a FIFO must not wait for a writer
    | getattr(os, "O_NOFOLLOW", 0)  # the path is resolved already: a new link is a swap
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_BINARY", 0)
)

_KINDS: Final = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISSOCK, "a socket"),
)


#: Why a file is refused, for the caller's advice: its path leads ``outside`` the root, it is of
#: the wrong ``kind`` (a folder, a device, ..., or a path that cannot be resolved), it is too
#: large (``size``), or it ``changed`` between the checks and the read.
Cause = Literal["outside", "kind", "size", "changed"]


class FileRefusedError(Exception):
    """A file that may not be read. ``reason`` completes "the file …" ("is outside the root
    folder …"); ``cause`` says which rule refused it, since each is fixed differently."""

    def __init__(self, reason: str, cause: Cause) -> None:
        super().__init__(reason)
        self.reason = reason
        self.cause: Cause = cause


def confine(path: Path, root: Path) -> Path:
    """The real path of ``path`` (symbolic links resolved), which must lie inside ``root``;
    raises :class:`FileRefusedError` otherwise. Looks nothing up but the links on the way, so a
    refused path tells nothing about the file it names."""
    try:
        real_root = root.resolve()
        real = path.resolve()
    except RuntimeError:  # a loop of links (Python 3.11 and 3.12)
        loop = "cannot be resolved: its symbolic links form a loop"
        raise FileRefusedError(loop, "kind") from None
    except OSError as exc:
        raise FileRefusedError(f"cannot be resolved: {exc.strerror}", "kind") from None
    if real.is_relative_to(real_root):
        return real
    lexical = Path(os.path.normpath(os.path.abspath(path)))
    if lexical.is_relative_to(os.path.abspath(root)) or lexical.is_relative_to(real_root):
        link = f"is a symbolic link to a file outside the root folder '{root}'"
        raise FileRefusedError(link, "outside")
    raise FileRefusedError(f"is outside the root folder '{root}'", "outside")


def _kind(mode: int) -> str | None:
    """What a file that is not a regular one is (None for a regular file)."""
    if stat.S_ISREG(mode):
        return None
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def _check(info: os.stat_result, limit: int) -> None:
    kind = _kind(info.st_mode)
    if kind is not None:
        raise FileRefusedError(f"is {kind}, not a regular file", "kind")
    if info.st_size > limit:
        raise FileRefusedError(_too_large(limit), "size")


def _too_large(limit: int) -> str:
    return f"is larger than the limit of {limit:,} bytes"


def check_regular(path: Path, limit: int) -> None:
    """Whether ``path`` (resolved) names a regular file of at most ``limit`` bytes, looked up with
    ``os.stat`` and never opened: raises :class:`FileRefusedError` when it does not, ``OSError``
    (e.g. ``FileNotFoundError``) when it cannot be looked up. For a file read later (a list the
    runtime reads at send time), so a refusal is reported when its input is loaded; the read
    itself still goes through :func:`read_regular`."""
    _check(os.stat(path.resolve()), limit)


def read_regular(path: Path, limit: int) -> bytes:
    """The bytes of the regular file at ``path`` (resolved first), at most ``limit`` of them.

    Raises :class:`FileRefusedError` for a file of another kind or a larger one, ``OSError`` (e.g.
    ``FileNotFoundError``) when it cannot be read. The kind and size are checked with
    ``os.stat`` before opening (so a device is never opened), and again on the open file (so a
    file swapped in between is caught); the file is opened non-blocking, and at most
    ``limit + 1`` bytes are read, so a file that grows meanwhile is caught too.
    """
    real = path.resolve()
    before = os.stat(real)
    _check(before, limit)
    fd = os.open(real, _OPEN_FLAGS)
    try:
        now = os.fstat(fd)
        _check(now, limit)
        if (now.st_dev, now.st_ino) != (before.st_dev, before.st_ino):
            raise FileRefusedError("changed while it was opened", "changed")
        chunks: list[bytes] = []
        left = limit + 1
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 16))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
    finally:
        os.close(fd)
    data = b"".join(chunks)
    if len(data) > limit:
        raise FileRefusedError(_too_large(limit), "size")
    return data


class NotUtf8Error(UnicodeDecodeError):
    """Bytes that are not UTF-8 text, with where they stop being it: ``line`` and ``column``
    (from 1, the column in characters, as an editor counts them). Its text says where and what
    to do, for a person: a file saved in Windows-1258, GB18030 or UTF-16 is a common mistake."""

    def __init__(self, data: bytes, cause: UnicodeDecodeError) -> None:
        super().__init__(cause.encoding, data, cause.start, cause.end, cause.reason)
        if data.startswith((b"\xff\xfe", b"\xfe\xff")):
            self.line, self.column = 1, 1
            self.problem = "the file is UTF-16 text, not UTF-8: save it as UTF-8"
            return
        head = data[: cause.start]
        self.line = head.count(b"\n") + 1
        self.column = len(head[head.rfind(b"\n") + 1 :].decode("utf-8")) + 1
        self.problem = (
            f"the file is not UTF-8 text: byte 0x{data[cause.start]:02X} at line {self.line}, "
            f"column {self.column} is not UTF-8 (was it saved as Windows-1258, GB18030 or "
            "Latin-1?): save it as UTF-8"
        )

    def __str__(self) -> str:
        return self.problem


def utf8_text(data: bytes) -> str:
    """``data`` decoded as UTF-8; :class:`NotUtf8Error` (a ``UnicodeDecodeError``) saying at
    which line and column it is not."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise NotUtf8Error(data, exc) from None
