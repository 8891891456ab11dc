"""Money: a :class:`~decimal.Decimal` amount with an ISO 4217 currency. Never a float.

:data:`MINOR_UNITS` says how many decimal places each common currency has (ISO 4217: VND and JPY
none, USD and CNY two, KWD three); :func:`decimal_places` counts the places an amount really uses
(trailing zeros are not precision: ``1000000.00`` uses none). Events whose amount uses more
places than its currency has are refused (see :mod:`journeydsl.runtime.events`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType

__all__ = [
    "MINOR_UNITS",
    "CurrencyMismatchError",
    "Money",
    "decimal_places",
    "minor_units",
    "money_text",
]

# ISO 4217 minor units, one line per number of decimal places: none for Vietnam, Japan, Korea
# and the other whole-unit currencies; two for the region's and the world's usual currencies;
# three for the Gulf and North African dinars; four for the Chilean and Uruguayan accounting units.
_ISO_4217 = """
0 BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF
2 AED AUD BDT BND BRL CAD CHF CNY CZK DKK EUR GBP HKD HUF IDR ILS INR KHR LAK LKR MMK MNT MOP
2 MXN MYR NOK NPR NZD PHP PKR PLN RON RUB SAR SEK SGD THB TRY TWD UAH USD ZAR
3 BHD IQD JOD KWD LYD OMR TND
4 CLF UYW
"""

#: The decimal places (ISO 4217 minor units) of the common currencies: ``MINOR_UNITS["VND"]`` is
#: 0, ``MINOR_UNITS["USD"]`` is 2. A code not listed here is allowed any number of places (up to
#: the event digit limit): journeydsl does not guess.
MINOR_UNITS: Mapping[str, int] = MappingProxyType(
    {
        code: int(places)
        for places, *codes in (line.split() for line in _ISO_4217.strip().splitlines())
        for code in codes
    }
)


def minor_units(currency: str) -> int | None:
    """The decimal places ISO 4217 gives ``currency`` (``"VND"`` → 0, ``"USD"`` → 2), or None
    for a code not in :data:`MINOR_UNITS` (any number of places is then allowed)."""
    return MINOR_UNITS.get(currency)


def decimal_places(amount: Decimal) -> int:
    """The places after the point that ``amount`` uses, trailing zeros not counted:
    ``Decimal("1000000.00")`` → 0, ``Decimal("0.10")`` → 1, ``Decimal("1E+3")`` → 0. Never
    rounds (unlike :meth:`~decimal.Decimal.normalize`, which rounds to the context's 28 digits)."""
    _, digits, exponent = amount.as_tuple()
    if not isinstance(exponent, int) or exponent >= 0:
        return 0  # whole, or not finite
    places = -exponent
    end = len(digits)
    while places and end and digits[end - 1] == 0:
        end -= 1
        places -= 1
    return places if end else 0


def money_text(amount: Decimal, currency: str | None = None) -> str:
    """An amount as the human-facing outputs show it (reports, ``journeydsl budgets``, explain
    and trace, ``preview``, scenario-test diffs): thousands separated by commas, then the
    currency: ``1,000,000 VND``; a fraction with the places its currency has (``1,234.50 USD``,
    ``1.235 KWD``), or as written when it has more or the currency is not in
    :data:`MINOR_UNITS`; never rounded. Without a currency, the number alone (a quota's
    ``1,200`` rewards). Journeys and test files write amounts as ``1_000_000 VND``; the JSON
    documents keep them as decimal text (``"1000000"``)."""
    if amount == amount.to_integral_value():
        text = f"{int(amount):,}"
    else:
        places = minor_units(currency) if currency else None
        fits = places is not None and decimal_places(amount) <= places
        text = f"{amount:,.{places}f}" if fits else f"{amount:,f}"
    return f"{text} {currency}" if currency else text


def places_beyond(amount: Decimal, currency: str) -> tuple[int, int] | None:
    """``(places used, places allowed)`` when ``amount`` uses more decimal places than
    ``currency`` has (trailing zeros do not count; a code not in :data:`MINOR_UNITS` allows any
    number), else None. Rounding such an amount would change what it says."""
    allowed = minor_units(currency)
    if allowed is None:
        return None
    places = decimal_places(amount)
    return (places, allowed) if places > allowed else None


class CurrencyMismatchError(ValueError):
    """Arithmetic or comparison across two currencies."""


@dataclass(frozen=True, slots=True, order=False)
class Money:
    """An amount of money. Arithmetic and ordering require the same currency."""

    amount: Decimal
    currency: str

    def __post_init__(self) -> None:
        if not isinstance(self.amount, Decimal):
            raise TypeError(f"Money amount must be a Decimal, not {type(self.amount).__name__}")

    @classmethod
    def of(cls, amount: str | int | Decimal, currency: str = "VND") -> Money:
        """``Money.of("1_000_000", "VND")``; strings may use ``_`` separators."""
        if isinstance(amount, float):  # pragma: no cover - guarded for callers without mypy
            raise TypeError("Money never takes a float; pass a str or Decimal")
        if isinstance(amount, str):
            amount = Decimal(amount.replace("_", ""))
        return cls(Decimal(amount), currency)

    def _same(self, other: Money) -> None:
        if self.currency != other.currency:
            raise CurrencyMismatchError(f"cannot combine {self.currency} with {other.currency}")

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount - other.amount, self.currency)

    def __mul__(self, k: int | Decimal) -> Money:
        return Money(self.amount * k, self.currency)

    __rmul__ = __mul__

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def __lt__(self, other: Money) -> bool:
        self._same(other)
        return self.amount < other.amount

    def __le__(self, other: Money) -> bool:
        self._same(other)
        return self.amount <= other.amount

    def __gt__(self, other: Money) -> bool:
        self._same(other)
        return self.amount > other.amount

    def __ge__(self, other: Money) -> bool:
        self._same(other)
        return self.amount >= other.amount

    def __str__(self) -> str:
        q = self.amount.normalize()
        text = f"{q:,f}".replace(",", "_") if q == q.to_integral() else f"{q:f}"
        return f"{text} {self.currency}"

    def to_json(self) -> dict[str, str]:
        """``{"amount": "1000000", "currency": "VND"}``: amounts as strings, never floats."""
        return {"amount": format(self.amount.normalize(), "f"), "currency": self.currency}
