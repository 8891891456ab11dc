"""A send whose params lack a value or hold the wrong type gets a suppression reason
(journeydsl.runtime.sendparams), for the delivery to suppress it instead of sending null."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from journeydsl import ir
from journeydsl.expr.types import BOOL, DATE, DECIMAL, DURATION, INT, STRING, TIMESTAMP, Type, money
from journeydsl.money import Money
from journeydsl.runtime.sendparams import suppression_reason, type_problem
from tests.expr.test_checker import ENTERED, ctx
from tests.runtime.scenario import compile_journey

JOURNEY = """\
journey offer
uses events "events.yaml"
uses templates "templates.yaml"
entry on card_activated
send email fee_waiver_offer {
  threshold: profile.credit_limit / 10,
  deadline: date(entered_at + 30d),
}
send email offer_confirmation { offer: profile.segment }
"""


def sends() -> list[ir.Send]:
    """The two send nodes of JOURNEY."""
    nodes = compile_journey(JOURNEY).nodes.values()
    return [n for n in nodes if isinstance(n, ir.Send)]


def test_params_with_values_of_their_types_may_be_sent() -> None:
    """Good params give no reason."""
    fee, confirmation = sends()
    good = {"threshold": Money(Decimal(100), "VND"), "deadline": date(2026, 2, 1)}
    assert suppression_reason(fee, good) is None
    assert suppression_reason(confirmation, {"offer": "cashback"}) is None


def test_an_absent_param_is_a_reason_naming_the_param_and_template() -> None:
    """A profile without a segment gives a null offer param: the send is to be suppressed."""
    _, confirmation = sends()
    node = confirmation.params[0][1]
    value = node.fn(ctx(ENTERED), None)
    assert value is None
    assert suppression_reason(confirmation, {"offer": value}) == (
        "param 'offer' of template 'offer_confirmation' has no value"
    )
    assert suppression_reason(confirmation, {}) is not None


def test_a_param_of_the_wrong_type_is_a_reason() -> None:
    """A profile holding text where money is expected is caught, first param first."""
    fee, _ = sends()
    bad = {"threshold": "a lot", "deadline": "soon"}
    assert suppression_reason(fee, bad) == (
        "param 'threshold' of template 'fee_waiver_offer' is a str, not a money (VND)"
    )


@pytest.mark.parametrize(
    ("value", "t", "fits"),
    [
        (True, BOOL, True),
        (1, BOOL, False),
        (3, INT, True),
        (True, INT, False),
        (3, DECIMAL, True),
        (Decimal("1.5"), DECIMAL, True),
        (Money(Decimal(1), "USD"), money("VND"), False),
        ("x", STRING, True),
        ("gold", Type("enum", values=("gold",)), True),
        ("tin", Type("enum", values=("gold",)), False),
        (datetime(2026, 1, 1), TIMESTAMP, False),
        (ENTERED, TIMESTAMP, True),
        (ENTERED, DATE, False),
        (date(2026, 1, 1), DATE, True),
        (timedelta(days=1), DURATION, True),
        ("1d", DURATION, False),
    ],
)
def test_type_problem(value: Any, t: Type, fits: bool) -> None:
    """Each kind of value is matched against its type."""
    assert (type_problem(value, t) is None) is fits
