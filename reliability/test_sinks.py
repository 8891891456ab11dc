"""The failing-sinks campaign at CI size: injected faults, and a real full tmpfs where the
machine lets us mount one."""

from __future__ import annotations

from pathlib import Path

import pytest

from reliability import sinks

pytestmark = pytest.mark.campaign


def _zero(figures: dict[str, object]) -> dict[str, object]:
    return {k: figures[k] for k in sinks.MUST_BE_ZERO}


def test_a_failing_actions_file_stops_the_run_and_a_rerun_delivers_exactly_once() -> None:
    """ENOSPC and EIO on writes (whole or part-way), on fsync and on the truncate that should
    undo a torn line, at seeded points: every faulted run stops with exit 1 and one error line,
    and the rerun after the fault clears leaves the fault-free run's actions and states, each
    action exactly once."""
    figures = sinks.run(size=6, seed=5, customers=100)
    assert _zero(figures) == dict.fromkeys(sinks.MUST_BE_ZERO, 0), figures["examples"]
    # Not vacuous: the faults were hit, of every errno, and each one stopped its run.
    assert figures["faults_injected"] >= 8
    assert figures["stops"] == figures["faults_injected"]
    kinds = {k for k, n in figures["faults_by_kind"].items() if n}
    assert {k.split("-")[0] for k in kinds} == {"ENOSPC", "EIO"}
    assert figures["partial_writes"] >= 1
    assert figures["sticky_faults"] >= 1


def test_a_real_full_tmpfs_stops_the_run_and_a_rerun_delivers_exactly_once(
    tmp_path: Path,
) -> None:
    """The actions file on a tmpfs sized to fill up at seeded points: the real ENOSPC (with the
    kernel's own short writes) stops the run, and the rerun after growing the tmpfs delivers
    every action exactly once."""
    if (why := sinks.tmpfs_available(tmp_path)) is not None:
        pytest.skip(why)
    figures = sinks.run(size=2, seed=5, customers=60, mode="tmpfs")
    assert _zero(figures) == dict.fromkeys(sinks.MUST_BE_ZERO, 0), figures["examples"]
    assert figures["faults_injected"] >= 2
    assert figures["stops"] == figures["faults_injected"]
