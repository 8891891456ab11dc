"""Reading JSON without floats: every number comes back exact.

DESIGN.md's contract says numbers in events and profiles are read as exact decimals, never as
floats. :func:`json.loads` would turn ``999999.99999999999999`` into ``1000000.0`` before any
check could see the difference, so every reader of events and profiles (``journeydsl run``,
``simulate``, the profiles files, ``Engine.ingest`` given JSON text) parses through
:func:`loads_exact` instead:

* a number with a fraction or an exponent becomes a :class:`~decimal.Decimal` with the digits as
  written (``1000000.00`` keeps its two zeros; it is still a whole amount);
* an integer stays an :class:`int`, exact at any size Python accepts (up to 4300 digits);
* ``NaN``, ``Infinity`` and ``-Infinity``, which :func:`json.loads` accepts but JSON does not, are
  refused, as is a number that would take more than :data:`MAX_NUMBER_DIGITS` digits written
  out (``1e999999999`` is one line of text but a billion digits in a store).

Every refusal is a :class:`ValueError`, as :func:`json.loads` raises for text that is not JSON.
This module is on the ground floor: it imports nothing from journeydsl.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterable, Iterator
from decimal import Decimal, InvalidOperation
from typing import Any, Final, NoReturn

__all__ = [
    "MAX_NUMBER_DIGITS",
    "UTF8_BOM",
    "digits_written_out",
    "loads_exact",
    "nfc",
    "numbered_lines",
    "valid_unicode",
]

#: The UTF-8 byte-order mark some editors and exports (Notepad, Excel, PowerShell 5's
#: ``Out-File``) put at the start of a file.
UTF8_BOM: Final = b"\xef\xbb\xbf"

#: The most digits a number may take written out without an exponent (before and after the
#: point together): the limit Python itself puts on converting text to ``int``.
MAX_NUMBER_DIGITS = 4300


def valid_unicode(text: str) -> bool:
    """Whether ``text`` is valid Unicode, which UTF-8 (and so any store) can keep: not when it
    holds a lone surrogate, which JSON's ``\\ud800`` escapes carry into Python."""
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def nfc(text: str) -> str:
    """``text`` in Unicode's composed form (NFC). Vietnamese is written both ways: "Hà Nội" typed
    with precomposed letters, or with combining tone marks (some input methods, macOS file
    names, exports), and the two must compare equal; events, profiles, catalogs and literals
    are read through this so that they do."""
    return text if text.isascii() else unicodedata.normalize("NFC", text)


def numbered_lines(stream: Iterable[bytes]) -> Iterator[tuple[int, bytes]]:
    """The lines of a JSON Lines file or stream, numbered from 1, as bytes. A UTF-8 byte-order
    mark at the start of the stream is dropped: it says how the file is encoded and is not part
    of its first line (which :func:`loads_exact` would refuse, as :func:`json.loads` does)."""
    for number, line in enumerate(stream, 1):
        yield number, line[3:] if number == 1 and line.startswith(UTF8_BOM) else line


def digits_written_out(value: Decimal) -> int:
    """How many digits ``format(value, "f")`` writes for a finite ``value`` (the sign and the
    point not counted): ``Decimal("1E+3")`` → 4, ``Decimal("0.05")`` → 3."""
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int)  # a finite Decimal's exponent is an int
    before = max(value.adjusted() + 1, 1)
    return before + max(-exponent, 0)


def _number(text: str) -> Decimal:
    """A JSON number with a fraction or an exponent, exactly as written."""
    try:
        value = Decimal(text)
    except InvalidOperation:  # an exponent beyond what Decimal can hold
        raise ValueError(f"the number {text[:40]} is out of range") from None
    if digits_written_out(value) > MAX_NUMBER_DIGITS:
        shown = text if len(text) <= 40 else text[:40] + "…"
        raise ValueError(f"the number {shown} has more than {MAX_NUMBER_DIGITS} digits")
    return value


def _no_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not a JSON number (write a finite number)")


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object whose keys are all different: ``json.loads`` keeps the last of two
    (``{"amount": 100, "amount": 1000000}`` is a million without a word)."""
    found = dict(pairs)
    if len(found) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise ValueError(f"the key '{key[:80]}' is given twice in one object")
            seen.add(key)
    return found


_decoder = json.JSONDecoder(
    parse_float=_number, parse_constant=_no_constant, object_pairs_hook=_object
)


def loads_exact(text: str | bytes | bytearray) -> Any:
    """``json.loads(text)``, with every fraction and exponent as an exact
    :class:`~decimal.Decimal` (never a float), and ``NaN`` / ``Infinity`` and a key given twice
    in one object refused.

    Bytes are decoded as UTF-8 (a :class:`UnicodeDecodeError`, which is a ``ValueError``, when
    they are not). Raises ``ValueError`` (:class:`json.JSONDecodeError` for bad syntax) for
    anything that is not JSON with finite numbers, and ``RecursionError`` for JSON nested past
    the interpreter's limit, as :func:`json.loads` does."""
    if not isinstance(text, str):
        text = bytes(text).decode("utf-8")
    if text.startswith("\ufeff"):  # as json.loads: a byte-order mark is not JSON
        raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", text, 0)
    return _decoder.decode(text)
