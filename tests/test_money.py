"""`money_text`: the one way the human-facing outputs write an amount (`1,000,000 VND`)."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from journeydsl.money import money_text


def test_money_text_writes_thousands_with_commas_and_the_currency() -> None:
    """Whole amounts lose trailing zeros of the fraction; a fraction is kept as written; a
    quota has no currency."""
    assert money_text(Decimal("500000"), "VND") == "500,000 VND"
    assert money_text(Decimal("1000000.00"), "VND") == "1,000,000 VND"
    assert money_text(Decimal("1234.50"), "USD") == "1,234.50 USD"
    assert money_text(Decimal("1234.5"), "USD") == "1,234.50 USD"
    assert money_text(Decimal("1.235"), "KWD") == "1.235 KWD"
    assert money_text(Decimal("0.125"), "USD") == "0.125 USD"  # (more places: as written)
    assert money_text(Decimal("12.5"), "XYZ") == "12.5 XYZ"  # (a currency not listed)
    assert money_text(Decimal("-500000"), "VND") == "-500,000 VND"
    assert money_text(Decimal("0"), "VND") == "0 VND"
    assert money_text(Decimal("1200"), None) == "1,200"


@given(
    st.decimals(
        allow_nan=False, allow_infinity=False, places=3, max_value=10**15, min_value=-(10**15)
    )
)
def test_money_text_reads_back_as_the_same_amount(amount: Decimal) -> None:
    """Without its commas and currency, the text is the amount, never rounded."""
    number, _, currency = money_text(amount, "KWD").partition(" ")
    assert currency == "KWD"
    assert Decimal(number.replace(",", "")) == amount
