"""Phone numbers and e-mail addresses never reach the engine's logs: they are masked wherever
they stand in a logged value (inside text, with whitespace around them, in lists and mappings
at any depth), while dates, amounts and ids stay readable."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
import structlog
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from structlog.testing import LogCapture

from journeydsl.runtime.hostcalls import log
from journeydsl.runtime.pii import mask, masked


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("Gọi 0912345678", "Gọi *******678"),
        ("lan@bank.vn  ", "l***@bank.vn  "),
        ("\tlan.nguyen@example.com.vn, then", "\tl***@example.com.vn, then"),
        ("call +84 912 345 678 now", "call ************678 now"),
        ("13812345678", "********678"),
        ("card 4111 1111 1111 1111", "card ****************111"),
        ("0100000000 0100000000", "******************000"),
        ("2026-01-05 0912345678", "2026-01-05 *******678"),
    ],
)
def test_pii_inside_text_is_masked(raw: str, shown: str) -> None:
    """An address or number inside longer text, or with whitespace around it, is masked."""
    assert mask(raw) == shown


@pytest.mark.parametrize(
    "kept",
    [
        "2026-01-05T09:00:00+07:00",
        "2026-01-05 09:00:00+07:00",
        "1000000",
        "9999999999",
        "c-001",
        "k-42",
        "welcome_activation_guide",
        "tiki_voucher",
    ],
)
def test_dates_amounts_and_ids_are_left_readable(kept: str) -> None:
    """Times, amounts of up to ten digits and ids are not taken for phone numbers."""
    assert mask(kept) == kept


def test_values_in_lists_and_mappings_are_masked_at_any_depth() -> None:
    """Masking walks lists, tuples and mappings (keys too) and leaves other values alone."""
    value = {"to": ["0912345678", {"cc": ("x.y@z.vn",)}], "n": 5, "0987654321": True}
    assert masked(value) == {
        "to": ["*******678", {"cc": ["x***@z.vn"]}],
        "n": 5,
        "*******321": True,
    }


@pytest.fixture
def capture() -> Iterator[LogCapture]:
    old = structlog.get_config()
    cap = LogCapture()
    structlog.configure(
        processors=[cap], wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG)
    )
    log.refresh()
    try:
        yield cap
    finally:
        structlog.configure(**old)
        log.refresh()


FILLER = st.text(alphabet=st.sampled_from("abcxyzọờăđ ,;:\t\n-()'\"_"), min_size=0, max_size=6)
PHONES = st.one_of(
    st.from_regex(r"0[1-9]\d{8}", fullmatch=True),
    st.from_regex(r"\+84 \d{3} \d{3} \d{3}", fullmatch=True),
    st.from_regex(r"1[3-9]\d{9}", fullmatch=True),
)
EMAILS = st.from_regex(r"[a-z][a-z0-9._]{1,9}@[a-z]{2,8}\.(vn|com|cn)", fullmatch=True)


@st.composite
def text_with_pii(draw: st.DrawFn) -> tuple[str, list[str]]:
    """A string of filler and PII, and the PII it holds."""
    parts, secrets = [draw(FILLER)], []
    for _ in range(draw(st.integers(1, 3))):
        secret = draw(st.one_of(PHONES, EMAILS))
        secrets.append(secret)
        parts += [secret, draw(FILLER.map(lambda f: f or " "))]
    return "".join(parts), secrets


@st.composite
def nested_with_pii(draw: st.DrawFn, depth: int = 3) -> tuple[Any, list[str]]:
    """A nested value (strings, lists, mappings) with PII somewhere inside, and that PII."""
    if depth == 0 or draw(st.booleans()):
        return draw(text_with_pii())
    items = [draw(nested_with_pii(depth - 1)) for _ in range(draw(st.integers(1, 3)))]
    secrets = [s for _, found in items for s in found]
    if draw(st.booleans()):
        return [v for v, _ in items], secrets
    return {f"k{i}": v for i, (v, _) in enumerate(items)}, secrets


# The capture is cleared at every example: the fixture being shared between them is intended.
@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(nested_with_pii())
def test_no_pii_reaches_the_log_output(capture: LogCapture, case: tuple[Any, list[str]]) -> None:
    """Property: whatever nesting and surrounding text, no phone number or e-mail address that
    a logged value holds appears in the log output."""
    value, secrets = case
    capture.entries.clear()
    log.info("send", params=value)
    log.error("error", error=repr(value))
    out = repr(capture.entries)
    leaked = [s for s in secrets if s in out or s.replace(" ", "") in out]
    assert leaked == []
