"""The state-format campaign: every golden resumes on both stores (the figures of
docs/reliability.md; tests/runtime/test_state_format.py pins the details)."""

from __future__ import annotations

import pytest

from journeydsl.runtime.codec import STATE_FORMAT
from reliability import state_format

pytestmark = pytest.mark.campaign


def test_every_golden_state_resumes_as_recorded() -> None:
    """Each golden, one per state format up to the current one, resumes on the SQLite and the
    in-memory stores to the recorded actions and outcomes."""
    figures = state_format.run(size=1, seed=0)
    assert sorted(figures["goldens"]) == [f"format-{n}" for n in range(1, STATE_FORMAT + 1)]
    assert figures["differing"] == 0
    assert figures["missing_golden_for_current_format"] == 0
