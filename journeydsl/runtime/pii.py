"""Masking personal data in what the engine logs: every e-mail address and phone number, wherever
it stands in a logged value (inside longer text, with whitespace around it, in lists and
mappings at any depth), becomes ``a***@bank.vn`` or ``*******678``.

Masking is for logs only: messages, the decision log and the stores keep the values as they are.
A phone number is a run of digits (spaces, dots, dashes or brackets may stand between them)
that starts with ``+`` or ``0`` and has at least 8 digits (``+84 912 345 678``, ``0912345678``),
or that has at least 11 digits whatever it starts with (``13812345678``, ``84912345678``); an
ISO date at the start of a run is not part of one. So an amount of up to ten digits stays
readable, while a longer account or card number, or several phone numbers with only spaces
between them, are masked too: masking errs on the safe side."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

__all__ = ["mask", "masked"]

#: The local part of an e-mail address: what stands before an "@" that a domain follows. Only it
#: is masked, so addresses glued together ("a@b.vn.c@d.vn") are all masked.
_EMAIL = re.compile(r"([^\s@<>()\[\]{},;:\"']+)@(?=[^\s@<>()\[\]{},;:\"'])")
_PHONE = re.compile(r"\+?\d(?:[ .()\-]?\d){6,}")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
#: The fewest digits of a phone number that starts with "+" or "0", and of one that does not.
_MIN_DIGITS, _MIN_DIGITS_BARE = 8, 11


def _email(m: re.Match[str]) -> str:
    return f"{m.group(1)[:1]}***@"


def _phone(m: re.Match[str]) -> str:
    text = m.group(0)
    if _DATE.match(text):  # a date, then maybe more digits: look at what follows the date
        return text[:10] + _PHONE.sub(_phone, text[10:])
    digits = sum(c.isdigit() for c in text)
    if digits < (_MIN_DIGITS if text[0] in "+0" else _MIN_DIGITS_BARE):
        return text
    return "*" * (len(text) - 3) + text[-3:]


def mask(text: str) -> str:
    """``text`` with every e-mail address and phone number in it masked."""
    if "@" in text:
        text = _EMAIL.sub(_email, text)
    return _PHONE.sub(_phone, text)


def masked(value: Any) -> Any:
    """``value`` with :func:`mask` applied to every string in it, at any depth (mappings, lists,
    tuples, sets; keys too). Other values are returned as they are."""
    if isinstance(value, str):
        return mask(value)
    if isinstance(value, Mapping):
        return {masked(k): masked(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [masked(v) for v in value]
    return value
