"""Progress on stderr: lines with the rate, elapsed time and ETA when stderr is not a
terminal (a subprocess with stderr=PIPE), none with --quiet."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from pathlib import Path

from journeydsl.cli.progress import LineProgress

ROOT = Path(__file__).resolve().parents[1]
LINE = re.compile(
    r"^simulating: [\d,]+/[\d,]+ customers \(\d+%\), [\d,]+ customers/s, "
    r"elapsed \d+:\d\d:\d\d, ETA (\d+:\d\d:\d\d|\?)$"
)


def _simulate(*extra: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "journeydsl",
            "simulate",
            str(ROOT / "examples" / "onboarding_new_cardholder.journey"),
            "--population",
            "1200",
            "--behaviour",
            str(ROOT / "examples" / "behaviour" / "onboarding.yaml"),
            "--format",
            "json",
            "-o",
            os.devnull,
            *extra,
        ],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )


def test_progress_through_a_pipe_is_written_as_lines() -> None:
    """With stderr a pipe, --progress writes whole lines (no control characters), the last one
    at 100 % of the customers."""
    done = _simulate("--progress")
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    assert lines, "no progress line"
    for line in lines:
        assert LINE.match(line), line
    assert lines[-1].startswith("simulating: 1,200/1,200 customers (100%)")
    assert "\x1b" not in done.stderr
    assert "\r" not in done.stderr


def test_quiet_turns_progress_off() -> None:
    """--quiet with --progress writes nothing on stderr."""
    done = _simulate("--progress", "--quiet")
    assert (done.returncode, done.stderr) == (0, "")


def test_lines_come_once_per_interval_and_the_final_one_when_asked() -> None:
    """Updates closer than the interval print nothing; the end prints the final line when it
    was asked for or when an earlier line was printed; the ETA follows the rate so far."""
    now = [0.0]
    out = io.StringIO()
    tick = LineProgress(out, "customers", interval=10, final=False, clock=lambda: now[0])
    now[0] = 4
    tick(1000, 5000)
    assert out.getvalue() == ""
    now[0] = 10
    tick(2000, 5000)
    assert out.getvalue() == (
        "simulating: 2,000/5,000 customers (40%), 200 customers/s, elapsed 0:00:10, ETA 0:00:15\n"
    )
    now[0] = 12
    tick(5000, 5000)  # the end: printed, since a line came before
    assert out.getvalue().splitlines()[-1].startswith("simulating: 5,000/5,000 customers (100%)")
    quiet = io.StringIO()
    short = LineProgress(quiet, "customers", interval=10, final=False, clock=lambda: 1.0)
    short(5000, 5000)
    assert quiet.getvalue() == ""
