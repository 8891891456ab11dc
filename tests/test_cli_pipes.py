"""A reader that stops reading (`journeydsl check … | head -1` in a CI step with pipefail) does
not change a command's exit status: a journey with errors still exits 1, a clean command 0, and
nothing is printed about the closed pipe."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.catalogs import USES, example_catalogs_in

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _first_line_then_close(argv: list[str], cwd: Path) -> tuple[int, str, str]:
    """Run ``journeydsl ARGV``, read one line of its output, close the pipe, wait for it."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "journeydsl", *argv],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stderr is not None
    first = proc.stdout.readline()
    proc.stdout.close()  # (the rest, well past a pipe's 64 kB, hits a closed pipe)
    err = proc.stderr.read()
    proc.stderr.close()
    return proc.wait(timeout=120), first, err


def test_check_with_errors_exits_1_when_the_reader_stops_after_one_line(tmp_path: Path) -> None:
    """3,000 undefined events make ~300 kB of diagnostics: the reader takes the first, the
    exit status is still 1, and stderr says nothing of a broken pipe."""
    example_catalogs_in(tmp_path)
    body = "".join(f"if has(card_isued_{n}) {{ tag t{n} }}\n" for n in range(3000))
    journey = tmp_path / "broken.journey"
    journey.write_text(f"journey broken\n{USES}entry on card_issued\n{body}", encoding="utf-8")
    code, first, err = _first_line_then_close(["check", str(journey)], tmp_path)
    assert "error[JD" in first
    assert (code, "Broken" in err, "Traceback" in err) == (1, False, False)


def test_a_clean_command_exits_0_when_the_reader_stops_after_one_line(tmp_path: Path) -> None:
    """`journeydsl graph` of a long journey, read one line: exit 0, nothing on stderr."""
    example_catalogs_in(tmp_path)
    body = "".join(f"tag t{n}\n" for n in range(3000))
    journey = tmp_path / "long.journey"
    journey.write_text(f"journey long\n{USES}entry on card_issued\n{body}", encoding="utf-8")
    code, first, err = _first_line_then_close(["graph", str(journey)], tmp_path)
    assert (code, first.strip(), err) == (0, "flowchart TD", "")


def test_a_report_that_cannot_be_written_to_stdout_names_the_standard_output(
    tmp_path: Path,
) -> None:
    """A full disk under stdout: the error names the standard output (not `None`), exit 2."""
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full on this system")
    with open("/dev/full", "w", encoding="utf-8") as full:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "journeydsl",
                "simulate",
                str(EXAMPLES / "onboarding_new_cardholder.journey"),
                "--events",
                str(EXAMPLES / "events" / "onboarding.jsonl"),
                "--format",
                "json",
            ],
            cwd=tmp_path,
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
            check=False,
        )
    assert done.returncode == 2
    assert "journeydsl: error: standard output: No space left on device" in done.stderr
    assert "None" not in done.stderr
