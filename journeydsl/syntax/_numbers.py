"""The numbers the language itself takes, read the same way by both spellings.

A journey's ``version``, a repeat's ``max``, a decision's ``retry``, the ``N`` of ``every N days``
and ``monthly on N``, and a split's weights are written as digits (``repeat max 6``,
``repeat: 6``), not as expressions. The DSL builder and the YAML reader both read them here, so a
value one spelling refuses the other refuses too, with the same diagnostic (JD105) at the value.
(Numbers inside expressions, durations and amounts among them, go through the one expression
parser and checker in either spelling.)
"""

from __future__ import annotations

from decimal import Decimal
from typing import Final

from journeydsl.diagnostics import Diagnostics, Span

__all__ = ["DSL_WORDS", "MAX_INT_DIGITS", "recovered_weights", "split_weight", "whole_number"]

#: Longer digit strings are refused (JD105). Eighteen digits keep every such number below 2^63,
#: what the state store's integer columns hold (a 32-digit ``version`` passed ``check`` and then
#: stopped ``run`` with an OverflowError), and far from int()'s 4,300-digit cap.
MAX_INT_DIGITS: Final = 18
#: How messages name a number whose YAML key is not the DSL's words for it (``repeat: 6`` is
#: ``repeat max 6``), so that both spellings report it alike.
DSL_WORDS: Final = {"repeat": "repeat max"}


def whole_number(digits: str, what: str, span: Span, diags: Diagnostics) -> int | None:
    """The number ``digits`` (only 0-9) stands for, or None after reporting one of more than
    :data:`MAX_INT_DIGITS` digits (JD105) at ``span``. ``what`` names the value in the message
    as the DSL writes it (``repeat max``, ``version``)."""
    significant = digits.lstrip("0") or "0"
    if len(significant) > MAX_INT_DIGITS:
        diags.error(
            "JD105",
            f"{what} {significant[:12]}... is too large",
            span,
            f"write at most {MAX_INT_DIGITS} digits",
        )
        return None
    return int(significant)


def split_weight(written: str, span: Span, diags: Diagnostics) -> Decimal | None:
    """The percentage of a split's arm or holdout, written as digits with an optional fraction
    and ``%`` (``33.33%``; YAML may leave out the ``%``), or None after reporting more than two
    decimals or a whole part of more than :data:`MAX_INT_DIGITS` digits (JD105) at ``span``."""
    number = written.rstrip().removesuffix("%").rstrip()
    whole, _, places = number.partition(".")
    if len(places) > 2:
        diags.error(
            "JD105",
            f"split weights have at most two decimals, not '{written.strip()}'",
            span,
            "round the weights (e.g. 33.33%, 33.33%, 33.34%) so they still add up to 100",
        )
        return None
    if whole_number(whole, "split weight", span, diags) is None:
        return None
    return Decimal(number)


def recovered_weights(weights: list[Decimal | None]) -> list[Decimal]:
    """A split's weights, each refused one (reported already) read as what the others leave to
    100%, so the sum check (JD505) does not report the same mistake again; it still reports
    weights that pass 100% without the refused ones. (The DSL reads on past a refused weight;
    YAML drops the whole journey.)"""
    left = max(Decimal(100) - sum(w for w in weights if w is not None), Decimal(0))
    out: list[Decimal] = []
    for w in weights:
        out.append(left if w is None else w)
        if w is None:
            left = Decimal(0)
    return out
