"""Text as the PostgreSQL store writes it: PostgreSQL's ``text`` cannot hold a NUL character,
which event ids, customer ids, quarantined lines and the other strings of the SQLite and
in-memory stores may hold. The store's connection dumps every string through
:func:`escape` and loads every ``text`` value through :func:`unescape`, so that any string
round-trips. Strings without NUL or U+FFFF (all the ones a bank sends, in practice) are stored
unchanged, so they read and sort in SQL as themselves."""

from __future__ import annotations

from typing import Any

__all__ = ["escape", "register", "unescape"]

#: The escape character: U+FFFF, a noncharacter (never meant to be interchanged as text).
_MARK = "\uffff"


def escape(text: str) -> str:
    """``text`` with NUL as U+FFFF ``0`` and U+FFFF itself as U+FFFF ``1``."""
    if "\x00" not in text and _MARK not in text:
        return text
    return text.replace(_MARK, _MARK + "1").replace("\x00", _MARK + "0")


def unescape(text: str) -> str:
    """The string :func:`escape` was given."""
    if _MARK not in text:
        return text
    return text.replace(_MARK + "0", "\x00").replace(_MARK + "1", _MARK)


def register(conn: Any) -> None:
    """Make ``conn`` (a psycopg connection) dump strings with :func:`escape` and load ``text``
    with :func:`unescape`."""
    # (psycopg's own Python adapters: its C ones cannot be subclassed)
    from psycopg.types.string import StrDumperUnknown, TextLoader

    class Dumper(StrDumperUnknown):
        def dump(self, obj: str) -> Any:
            return super().dump(escape(obj))

    class Loader(TextLoader):
        def load(self, data: Any) -> Any:
            value = super().load(data)
            return unescape(value) if isinstance(value, str) else value

    conn.adapters.register_dumper(str, Dumper)
    conn.adapters.register_loader("text", Loader)
