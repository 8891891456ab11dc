"""`journeydsl check` starts fast: it imports neither the runtime nor the simulator, nor the
libraries only they need (pydantic, rich, structlog)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

_PROBE = """
import json, sys
from journeydsl.cli import main
code = main(["check", sys.argv[1]])
print(json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""


def test_check_imports_no_runtime_simulator_or_their_libraries() -> None:
    """A `check` run leaves journeydsl.runtime, journeydsl.simulate, pydantic, rich and
    structlog unimported."""
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE, str(EXAMPLES / "onboarding_new_cardholder.journey")],
        capture_output=True,
        text=True,
        check=True,
    )
    report = json.loads(proc.stdout.splitlines()[-1])
    assert report["code"] == 0
    heavy = ("journeydsl.runtime", "journeydsl.simulate", "pydantic", "rich", "structlog")
    assert [m for m in report["modules"] if m.startswith(heavy)] == []


def test_simulate_help_still_lists_its_options() -> None:
    """The simulation commands' options are defined when one of them runs."""
    proc = subprocess.run(
        [sys.executable, "-m", "journeydsl", "simulate", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "--population" in proc.stdout
    assert "--behaviour" in proc.stdout
