"""Handing an effect to the host: a channel's, ticket sink's or action handler's answer is read
as a DeliveryResult, and an answer of the wrong shape is a clear error, never a wrong record;
and the host's lengths of time (allowed lateness, stale after, retries) are checked when given."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from journeydsl.runtime.engine import Engine, RetryPolicy
from journeydsl.runtime.hostcalls import hand_over
from journeydsl.runtime.protocols import DeliveryResult, DeliveryStatus, Message, Ticket
from journeydsl.runtime.stores.memory import (
    MemoryEventStore,
    MemoryProfileStore,
    MemoryStateStore,
)
from journeydsl.testing import RecordingChannel, SteppableClock
from tests.runtime.scenario import compile_journey, ev, local, profile

WELCOME_AND_CALL = """\
journey welcome_and_call
uses events "events.yaml"
uses templates "templates.yaml"
entry on card_issued
send email welcome_activation_guide transactional { card_id: trigger.card_id, product: "gold" }
ticket telesales priority normal { reason: "welcome" }
"""


class Answering:
    """A channel and a ticket sink that answer ``answer`` and remember what reached them."""

    def __init__(self, answer: Any) -> None:
        self.answer = answer
        self.keys: list[str] = []

    def send(self, message: Message) -> DeliveryResult:
        """Take the message; answer what it was told to."""
        self.keys.append(message.idempotency_key)
        return self.answer  # type: ignore[no-any-return]

    def open(self, ticket: Ticket) -> DeliveryResult:
        """Open the ticket; answer what it was told to."""
        self.keys.append(ticket.idempotency_key)
        return self.answer  # type: ignore[no-any-return]


def _engine(email: Any, tickets: Any, state: MemoryStateStore) -> Engine:
    return Engine(
        [compile_journey(WELCOME_AND_CALL)],
        events=MemoryEventStore(),
        profiles=MemoryProfileStore([profile("c1")]),
        state=state,
        clock=SteppableClock(local("2026-01-05 10:00")),
        channels={"email": email},
        tickets=tickets,
    )


def _message() -> Message:
    at = local("2026-01-05 10:00")
    return Message("k:email", "c1", "email", "t", "marketing", {}, "j", 1, "n", at)


def _issued() -> dict[str, Any]:
    return ev("c1", "card_issued", local("2026-01-05 10:00"), card_id="k", product="gold")


@pytest.mark.parametrize("status", list(DeliveryStatus))
def test_a_status_given_as_its_text_is_read_as_that_status(status: DeliveryStatus) -> None:
    """DeliveryResult("delivered") (the text, not the enum member) means what the member means."""
    text = DeliveryResult(status.value, "ok")  # type: ignore[arg-type]
    answer = hand_over(Answering(text).send, _message())
    assert answer == DeliveryResult(status, "ok")
    assert answer.status is status


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (None, "Answering.send returned None, not a DeliveryResult"),
        (True, "Answering.send returned True, not a DeliveryResult"),
        (DeliveryResult("sent"), "status 'sent', which is not one of delivered, failed_tr"),  # type: ignore[arg-type]
    ],
)
def test_an_answer_of_the_wrong_shape_is_a_type_error_naming_the_channel(
    answer: Any, message: str
) -> None:
    """None (a missing return), True or an unknown status raise a TypeError that names the
    channel's method and says what to return, not an AttributeError from inside the engine."""
    with pytest.raises(TypeError, match=message):
        hand_over(Answering(answer).send, _message())


def test_a_ticket_sink_answering_delivered_as_text_is_not_recorded_as_failed() -> None:
    """A ticket sink that opened the ticket and answered DeliveryResult("delivered") has the
    ticket recorded as opened, not suppressed as 'ticket failed'."""
    state = MemoryStateStore()
    crm = Answering(DeliveryResult("delivered"))  # type: ignore[arg-type]
    _engine(RecordingChannel("email"), crm, state).ingest(_issued())
    (record,) = state.instances_of("c1")
    whats = [e["what"] for e in record["log"]]
    assert "ticket" in whats
    assert "suppressed" not in whats
    assert len(crm.keys) == 1


def test_a_channel_returning_none_stops_and_its_message_goes_out_once_fixed() -> None:
    """A channel that forgot to return raises a TypeError to the host, nothing is recorded for
    the message, and once the channel answers it is delivered exactly once, with its key."""
    state = MemoryStateStore()
    email = Answering(None)
    engine = _engine(email, Answering(DeliveryResult(DeliveryStatus.DELIVERED)), state)
    with pytest.raises(TypeError, match=r"Answering\.send returned None"):
        engine.ingest(_issued())
    (pending,) = [e for e in state.pending_outbox(local("2026-01-05 10:00")) if e.kind == "send"]
    email.answer = DeliveryResult(DeliveryStatus.DELIVERED)
    engine.tick(datetime.fromisoformat("2026-01-05T10:01:00+07:00"))
    assert email.keys == [f"{pending.key}:email", f"{pending.key}:email"]
    assert state.pending_outbox(local("2026-01-06 10:00")) == []


@pytest.mark.parametrize(
    ("setting", "value", "error", "message"),
    [
        # (the compiled build refuses a value of another type itself: "… object expected")
        ("allowed_lateness", 3600, TypeError, r"allowed_lateness must be a datetime|expec"),
        ("allowed_lateness", timedelta(hours=-1), ValueError, "allowed_lateness must not be neg"),
        ("stale_after", 86400, TypeError, r"stale_after must be a datetime\.timedelta or|expected"),
        ("stale_after", timedelta(hours=-1), ValueError, "stale_after must not be negative"),
    ],
)
def test_an_engine_setting_that_is_no_length_of_time_is_refused_when_built(
    setting: str, value: object, error: type[Exception], message: str
) -> None:
    """allowed_lateness or stale_after given as seconds, or negative, is refused by Engine(...)
    with the setting's name, not met as a comparison error at the first event (or as every
    event quarantined too late)."""
    with pytest.raises(error, match=message):
        Engine(
            [compile_journey(WELCOME_AND_CALL)],
            events=MemoryEventStore(),
            profiles=MemoryProfileStore([]),
            state=MemoryStateStore(),
            clock=SteppableClock(local("2026-01-05 10:00")),
            channels={"email": RecordingChannel("email")},
            tickets=Answering(DeliveryResult(DeliveryStatus.DELIVERED)),
            **{setting: value},  # type: ignore[arg-type]
        )


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"max_attempts": 0}, "max_attempts must be a whole number of 1 or more"),
        # (the compiled build refuses a value of another type itself, with its own words)
        ({"max_attempts": 2.5}, "max_attempts must be a whole number of 1 or more|int object"),
        ({"base": 60}, r"RetryPolicy\.base must be a datetime\.timedelta, not int 60|timedelta"),
        ({"cap": timedelta(minutes=-1)}, r"RetryPolicy\.cap must not be negative"),
    ],
)
def test_a_retry_policy_that_cannot_retry_is_refused(fields: dict[str, Any], message: str) -> None:
    """A RetryPolicy with no attempt, or with lengths that are not timedeltas or are negative,
    is refused when made."""
    with pytest.raises((TypeError, ValueError), match=message):
        RetryPolicy(**fields)


def test_a_clock_without_now_is_refused_when_built() -> None:
    """A clock that is not a Clock (datetime.now itself, not an object with now()) is refused
    by Engine(...) with a TypeError naming it, not met as an AttributeError at the first
    event."""
    with pytest.raises(TypeError, match=r"clock is builtin_function_or_method .* no now"):
        Engine(
            [compile_journey(WELCOME_AND_CALL)],
            events=MemoryEventStore(),
            profiles=MemoryProfileStore([]),
            state=MemoryStateStore(),
            clock=datetime.now,  # type: ignore[arg-type]
            channels={"email": RecordingChannel("email")},
            tickets=Answering(DeliveryResult(DeliveryStatus.DELIVERED)),
        )
