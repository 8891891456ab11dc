"""Event validation: the fast paths for the common event (flat data, whole amounts, a time well
inside the accepted range, ASCII ids) accept and refuse exactly what the general checks do."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from journeydsl.expr.types import Type
from journeydsl.runtime.events import (
    MAX_AMOUNT_DIGITS,
    BadEvent,
    coerce_event,
)

SCHEMAS: Mapping[str, Mapping[str, Type]] = {
    "transaction": {"amount": Type("money", currency="VND"), "merchant": Type("string")},
}

# Mostly the interesting characters: ASCII, Vietnamese, and lone surrogates (invalid text).
_text = st.text(
    alphabet=st.one_of(
        st.sampled_from(["a", "0", "é", "ệ", "đ", "\ud800", "\udfff"]),
        st.characters(exclude_categories=()),
    ),
    max_size=6,
)
_values = st.one_of(st.none(), st.booleans(), st.integers(-(10**35), 10**35), _text)


def _outcome(raw: Mapping[str, Any]) -> Any:
    try:
        return coerce_event(raw, SCHEMAS)
    except BadEvent as exc:
        return ("bad", str(exc))


@settings(max_examples=400, deadline=None)
@given(
    data=st.dictionaries(_text, _values, max_size=5),
    etype=st.sampled_from(["transaction", "card_issued"]),
    customer=st.one_of(st.sampled_from(["c-1", "khách-1"]), _text),
)
def test_flat_data_is_judged_the_same_on_the_fast_and_the_general_path(
    data: dict[str, Any], etype: str, customer: str
) -> None:
    """A dict takes the fast path, the same data behind a read-only mapping the general one:
    same typed event, or the same reason to refuse it."""
    raw = {"customer_id": customer, "type": etype, "at": "2026-01-05T10:00:00+07:00"}
    fast = _outcome({**raw, "data": data})
    general = _outcome({**raw, "data": MappingProxyType(data)})
    assert fast == general


@pytest.mark.parametrize("digits", [MAX_AMOUNT_DIGITS - 1, MAX_AMOUNT_DIGITS])
@pytest.mark.parametrize("sign", [1, -1])
def test_whole_amounts_at_the_digit_limit(digits: int, sign: int) -> None:
    """An amount of 30 digits is taken, one of 31 is refused, whichever sign (the whole-amount
    shortcut stops exactly where the digit count starts refusing)."""
    amount = sign * (10**digits - 1 if digits < MAX_AMOUNT_DIGITS else 10**digits)
    raw = {
        "customer_id": "c-1",
        "type": "transaction",
        "at": "2026-01-05T10:00:00+07:00",
        "data": {"amount": amount, "currency": "VND"},
    }
    if digits < MAX_AMOUNT_DIGITS:
        assert coerce_event(raw, SCHEMAS).data["amount"].amount == amount
    else:
        with pytest.raises(BadEvent, match="more than 30 digits"):
            coerce_event(raw, SCHEMAS)


def test_a_whole_amount_in_another_currency_is_still_refused() -> None:
    """The whole-amount shortcut checks the currency too."""
    raw = {
        "customer_id": "c-1",
        "type": "transaction",
        "at": "2026-01-05T10:00:00+07:00",
        "data": {"amount": 5, "currency": "USD"},
    }
    with pytest.raises(BadEvent, match="declared in VND but the event is in USD"):
        coerce_event(raw, SCHEMAS)


@settings(max_examples=300, deadline=None)
@given(
    edge=st.sampled_from([datetime(1900, 1, 1), datetime(3000, 1, 1)]),
    shift=st.integers(-3 * 24 * 60, 3 * 24 * 60),
    minutes=st.integers(-23 * 60 - 59, 23 * 60 + 59),
)
def test_the_time_range_is_judged_on_the_instant(edge: datetime, shift: int, minutes: int) -> None:
    """Events from 1900-01-01 to before 3000-01-01 UTC are taken, whatever their offset, and no
    others (the year shortcut only answers far from both ends)."""
    at = edge + timedelta(minutes=shift)
    stamp = at.replace(tzinfo=timezone(timedelta(minutes=minutes)))
    raw = {"customer_id": "c-1", "type": "x", "at": stamp.isoformat()}
    try:
        inside = datetime(1900, 1, 1, tzinfo=UTC) <= stamp < datetime(3000, 1, 1, tzinfo=UTC)
    except OverflowError:
        inside = False
    if inside:
        assert coerce_event(raw, {}).at == stamp
    else:
        with pytest.raises(BadEvent, match="out of range"):
            coerce_event(raw, {})


def test_text_is_read_composed_so_both_spellings_of_a_vietnamese_letter_are_one() -> None:
    """A field written with combining tone marks (NFD, as some input methods and exports write
    Vietnamese) is read composed (NFC), catalogued or not, so "Phở" equals "Phở" in conditions
    and an enum value matches however it was typed; the event's id still hashes what was sent."""
    import unicodedata

    from journeydsl.runtime.events import event_id

    composed = "Phở Thìn"
    decomposed = unicodedata.normalize("NFD", composed)
    assert decomposed != composed
    schemas = {**SCHEMAS, "visit": {"kind": Type("enum", values=("ẩm thực", "khác"))}}
    raw = {"customer_id": "c-1", "at": "2026-01-05T10:00:00+07:00"}
    data = {"merchant": decomposed, "note": decomposed}
    tx: dict[str, Any] = {**raw, "type": "transaction", "data": data}
    read = {"amount": None, "merchant": composed, "note": composed}
    assert coerce_event(tx, schemas).data == read
    again = {**tx, "data": MappingProxyType(data)}  # the general path
    assert coerce_event(again, schemas).data == read
    visit = {**raw, "type": "visit", "data": {"kind": unicodedata.normalize("NFD", "ẩm thực")}}
    assert coerce_event(visit, schemas).data == {"kind": "ẩm thực"}
    assert event_id(tx) != event_id({**tx, "data": {"merchant": composed, "note": composed}})


def test_a_timestamp_field_may_be_an_aware_datetime_from_python() -> None:
    """A field typed timestamp takes an aware datetime as it is, and refuses a naive one for its
    missing offset (as the same value written as text)."""
    schemas = {"call_booked": {"slot": Type("timestamp")}}
    slot = datetime(2026, 1, 6, 9, 0, tzinfo=timezone(timedelta(hours=7)))
    raw = {"customer_id": "c1", "type": "call_booked", "at": slot.isoformat(), "data": {}}
    taken = coerce_event({**raw, "data": {"slot": slot}}, schemas)
    assert taken.data["slot"] == slot
    with pytest.raises(BadEvent, match=r"field 'slot' has no UTC offset: '2026-01-06T09:00:00'"):
        coerce_event({**raw, "data": {"slot": slot.replace(tzinfo=None)}}, schemas)
