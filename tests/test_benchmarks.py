"""CI-sized smoke runs of the benchmarks: they must keep working. No timing is ever asserted."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("spelling", ["journey", "yaml"])
def test_check_large_runs_and_checks_exactly_the_requested_steps(spelling: str) -> None:
    """check_large generates a valid journey of the requested size that `check` accepts."""
    record = _load("check_large").main(
        ["--steps", "120", "--runs", "1", "--spelling", spelling, "--no-save"]
    )
    assert record["exit_code"] == 0
    assert record["steps"] == 120
