"""What the engine's parts share about calling the host: the structlog logger behind a cached
level check, the wrapper that lets a store's own exception reach the host, the hand-over to a
channel or sink (a network error is transient, any other is the host's fault), and the
``on_action`` record of what happened."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

import structlog

from journeydsl.runtime.pii import masked
from journeydsl.runtime.protocols import DeliveryResult, DeliveryStatus, is_network_error

__all__ = [
    "DEBUG",
    "INFO",
    "Log",
    "OnAction",
    "StoreError",
    "checked_answer",
    "duration_setting",
    "hand_over",
    "host_call",
    "iso",
    "log",
    "record",
]

_structlog = structlog.get_logger("journeydsl")
_LEVELS: dict[type, int] = {}
DEBUG = logging.DEBUG
INFO = logging.INFO

#: The host's callback told of every send, suppression, ticket, action and profile update.
OnAction = Callable[[dict[str, Any]], None]


def _log_level() -> int:
    """The lowest level structlog emits now. A filtering wrapper class (structlog's default,
    and ``make_filtering_bound_logger``) says which; any other wrapper may emit anything."""
    wrapper = structlog.get_config()["wrapper_class"]
    level = _LEVELS.get(wrapper)
    if level is None:
        getter = getattr(wrapper, "get_effective_level", None)
        try:
            level = int(getter(None)) if callable(getter) else logging.NOTSET
        except Exception:  # a wrapper that needs a real instance to answer
            level = logging.NOTSET
        _LEVELS[wrapper] = level
    return level


class Log:
    """The engine's structlog logger behind a cached level check.

    Filtered-out calls were about a tenth of a simulation's time: structlog's lazy proxy
    assembles a bound logger on every call, even when its level then drops the call. The level
    is read from structlog's configuration at the start of every host call (:func:`host_call`),
    so a host that reconfigures logging between calls is obeyed. Hot paths also test
    :attr:`level` themselves, which skips building the keyword arguments too. Every keyword
    value is masked (:func:`~journeydsl.runtime.pii.masked`) before it is logged."""

    __slots__ = ("level",)

    def __init__(self) -> None:
        self.level = logging.NOTSET

    def refresh(self) -> None:
        """Read the level from structlog's configuration."""
        self.level = _log_level()

    def debug(self, event: str, **kw: Any) -> None:
        """Log at DEBUG."""
        if self.level <= logging.DEBUG:
            _structlog.debug(event, **{k: masked(v) for k, v in kw.items()})

    def info(self, event: str, **kw: Any) -> None:
        """Log at INFO."""
        if self.level <= logging.INFO:
            _structlog.info(event, **{k: masked(v) for k, v in kw.items()})

    def warning(self, event: str, **kw: Any) -> None:
        """Log at WARNING."""
        if self.level <= logging.WARNING:
            _structlog.warning(event, **{k: masked(v) for k, v in kw.items()})

    def error(self, event: str, **kw: Any) -> None:
        """Log at ERROR."""
        if self.level <= logging.ERROR:
            _structlog.error(event, **{k: masked(v) for k, v in kw.items()})


#: The one logger of the engine's parts.
log = Log()


class StoreError(Exception):
    """A store raised while an expression was being evaluated. Unlike an expression's own error
    (division by zero, a currency mismatch), it must not end the instance: the step is abandoned
    uncommitted and the original exception reaches the host, as a crash would."""

    def __init__(self, original: BaseException) -> None:
        super().__init__(repr(original))
        self.original = original


_F = TypeVar("_F", bound=Callable[..., Any])


def host_call(method: _F) -> _F:
    """Host-facing methods re-raise a store's own exception, not the internal wrapper, and
    read the log level once (see :class:`Log`)."""

    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        log.refresh()
        try:
            return method(*args, **kwargs)
        except StoreError as failure:
            raise failure.original from None

    return wrapper  # type: ignore[return-value]


def duration_setting(name: str, value: object, *, optional: bool = True) -> timedelta | None:
    """``value``, a host's setting ``name`` that is a length of time (``None`` for none, when
    ``optional``); else a ``TypeError`` or ``ValueError`` that says what to give. A number of
    seconds, or a negative length (every event too late, every timer stale), is refused where
    the engine is built, not met as a comparison error at the first event."""
    if value is None and optional:
        return None
    if not isinstance(value, timedelta):
        kind = "a datetime.timedelta" + (" or None" if optional else "")
        raise TypeError(
            f"{name} must be {kind}, not {type(value).__name__} {value!r} "
            "(write e.g. timedelta(hours=24))"
        )
    if value < timedelta(0):
        raise ValueError(f"{name} must not be negative, not {value}")
    return value


def hand_over(call: Callable[..., DeliveryResult], *args: Any) -> DeliveryResult:
    """Call a channel, the ticket sink or an action handler. A network error it raises (a
    gateway timeout, a dropped connection: :func:`is_network_error`) is a transient failure,
    retried with backoff like one it reports. Any other exception, a :class:`SinkError` or a
    full disk's OSError, is the host's own fault: it propagates, and the outbox entry stays
    pending for the next call."""
    try:
        result = call(*args)
    except OSError as exc:
        if not is_network_error(exc):
            raise
        return DeliveryResult(DeliveryStatus.FAILED_TRANSIENT, f"{type(exc).__name__}: {exc}")
    return checked_answer(call, result)


_STATUSES = ", ".join(s.value for s in DeliveryStatus)


def checked_answer(call: Callable[..., DeliveryResult], result: object) -> DeliveryResult:
    """What ``call`` (a channel's ``send``, the ticket sink's ``open``, an action handler)
    answered, as a :class:`DeliveryResult`. One whose status is the text of a
    :class:`DeliveryStatus` (``DeliveryResult("delivered")``) is read as that status; anything
    else (``None`` from a missing ``return``, ``True``, another status) is a bug of the
    host's, raised as a ``TypeError`` naming the callable, before anything is recorded: the
    effect stays pending and is handed over again, with its key."""
    if type(result) is DeliveryResult and type(result.status) is DeliveryStatus:
        return result
    owner = getattr(call, "__self__", None)
    name = (
        f"{type(owner).__name__}.{call.__name__}"
        if owner is not None
        else getattr(call, "__qualname__", type(call).__name__)
    )
    if isinstance(result, DeliveryResult):
        try:
            status = DeliveryStatus(result.status)
        except ValueError:
            raise TypeError(
                f"{name} answered a DeliveryResult with the status {result.status!r}, which is "
                f"not one of {_STATUSES}: use DeliveryStatus.DELIVERED and the others"
            ) from None
        return DeliveryResult(status, str(result.detail or ""))
    raise TypeError(
        f"{name} returned {result!r}, not a DeliveryResult: return "
        "DeliveryResult(DeliveryStatus.DELIVERED) once the effect is done, or FAILED_TRANSIENT "
        "(retry) or FAILED_PERMANENT (give up, fall back); nothing was recorded, so the effect "
        "is handed over again, with the same idempotency key"
    )


def record(
    on_action: OnAction | None,
    at: datetime,
    customer_id: str,
    journey: str,
    node: str,
    kind: str,
    **fields: Any,
) -> None:
    """Tell the host's ``on_action`` callback (when there is one) what happened."""
    if on_action is not None:
        on_action(
            {
                "at": at,
                "customer_id": customer_id,
                "journey": journey,
                "node": node,
                "kind": kind,
                **fields,
            }
        )


# ---- Expression compilation and hot path (issue 15): the last few ISO texts
#: The ISO text of the times asked last, newest first (the very objects: an equal instant with
#: another UTC offset, or the other reading of an ambiguous wall time, is another object).
#: ``isoformat`` costs about 10,000 instructions (CPython formats it with the C library's
#: printf), and a step of work writes the same few times again and again: its ``now`` into
#: log entries and records, a wait's due time, an instance's entry time.
_recent_iso: list[tuple[datetime, str]] = []
_ISO_KEPT = 4


def iso(t: datetime) -> str:
    """``t.isoformat()``, remembered for the last few objects asked."""
    for seen, text in _recent_iso:
        if seen is t:
            return text
    text = t.isoformat()
    _recent_iso.insert(0, (t, text))
    del _recent_iso[_ISO_KEPT:]
    return text
