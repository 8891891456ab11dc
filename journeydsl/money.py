"""Money: a :class:`~decimal.Decimal` amount with an ISO 4217 currency. Never a float."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

__all__ = ["CurrencyMismatchError", "Money"]


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
