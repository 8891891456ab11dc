"""Journey files named on the command line (or given to ``compile_file``) are read only when they
are regular files of at most MAX_SOURCE_BYTES: a device, a FIFO or a folder is JD110 and a larger
file JD112, one line each, never a traceback, never a wait for a FIFO's writer."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest

import journeydsl.compiler as compiler_module
from journeydsl.cli import main
from journeydsl.compiler import MAX_SOURCE_BYTES, compile_file, read_source

T = TypeVar("T")

JOURNEY = "journey j\noutcomes done\nentry on card_issued\nexit done\n"


def finishes(work: Callable[[], T]) -> T:
    """What ``work`` returns; fails the test if it blocks (on a FIFO) for a minute."""
    results: list[T] = []
    worker = threading.Thread(target=lambda: results.append(work()), daemon=True)
    worker.start()
    worker.join(timeout=60)  # a guard against hanging the suite, not a timing assertion
    assert results, "reading the journey blocked"
    return results[0]


def fifo(tmp_path: Path, name: str = "j.journey") -> Path:
    """A FIFO no process writes to."""
    if not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs here")
    path = tmp_path / name
    os.mkfifo(path)
    return path


def test_a_fifo_is_jd110_without_blocking(tmp_path: Path) -> None:
    """compile_file on a FIFO returns JD110 at 1:1 saying what it is."""
    path = fifo(tmp_path)
    result = finishes(lambda: compile_file(path))
    assert [(d.code, d.span.line, d.span.column, d.message) for d in result.diagnostics] == [
        ("JD110", 1, 1, "the file is a FIFO (named pipe), not a regular file: it is not read")
    ]
    assert result.journey is None


def test_a_folder_given_as_a_file_is_jd110(tmp_path: Path) -> None:
    """compile_file on a folder is JD110 "is a folder" (check expands folders itself)."""
    (tmp_path / "sub.journey").mkdir()
    (d,) = compile_file(tmp_path / "sub.journey").diagnostics
    assert (d.code, d.message) == (
        "JD110",
        "the file is a folder, not a regular file: it is not read",
    )


def test_a_missing_file_is_still_no_such_file(tmp_path: Path) -> None:
    """A path that does not exist keeps its message."""
    (d,) = compile_file(tmp_path / "nope.journey").diagnostics
    assert (d.code, d.message) == ("JD110", "no such file")


def test_the_size_limit_is_max_source_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A journey of exactly the limit is read; one byte more is JD112 naming the limit, and the
    text is never parsed."""
    path = tmp_path / "j.journey"
    path.write_text(JOURNEY, encoding="utf-8")
    monkeypatch.setattr(compiler_module, "MAX_SOURCE_BYTES", len(JOURNEY.encode()))
    text, problems = read_source(path)
    assert (text, problems) == (JOURNEY, [])
    path.write_text(JOURNEY + "\n", encoding="utf-8")
    text, problems = read_source(path)
    assert text is None
    assert [(d.code, d.message) for d in problems] == [
        (
            "JD112",
            f"the file is larger than the limit of {len(JOURNEY.encode()):,} bytes: it is not "
            "read; split the journey",
        )
    ]


def test_a_journey_over_the_real_limit_is_refused(tmp_path: Path) -> None:
    """A file of MAX_SOURCE_BYTES + 1 bytes (5 MB) is JD112 without being parsed."""
    path = tmp_path / "big.journey"
    path.write_bytes(b"#" * (MAX_SOURCE_BYTES + 1))
    (d,) = compile_file(path).diagnostics
    assert d.code == "JD112"
    assert f"larger than the limit of {MAX_SOURCE_BYTES:,} bytes" in d.message


def test_check_on_a_fifo_prints_one_line_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`journeydsl check FIFO` reports one diagnostic line (no traceback, no excerpt of a file
    that was never read) and exits 1, next to a journey that checks clean."""
    path = fifo(tmp_path)
    good = tmp_path / "good.journey"
    good.write_text(
        'journey g\nuses events "events.yaml"\noutcomes done\nentry on card_issued\nexit done\n',
        encoding="utf-8",
    )
    (tmp_path / "events.yaml").write_text("events: {card_issued: {}}\n", encoding="utf-8")
    assert finishes(lambda: main(["check", str(path), str(good)])) == 1
    captured = capsys.readouterr()
    assert captured.out.splitlines() == [
        f"{path}:1:1: error[JD110]: the file is a FIFO (named pipe), not a regular file: it is "
        "not read",
        "",
        "checked 2 journeys: 1 error, 0 warnings — failed",
    ]
    assert "Traceback" not in captured.err


def test_fmt_on_a_fifo_exits_1_with_the_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`journeydsl fmt FIFO` says what the file is and exits 1 (not "no such file")."""
    path = fifo(tmp_path)
    assert finishes(lambda: main(["fmt", str(path)])) == 1
    assert "is a FIFO (named pipe), not a regular file" in capsys.readouterr().err


def _memory_capped() -> None:
    """Cap the child's address space, so that reading /dev/zero fails it instead of the host."""
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (2 * 2**30, 2 * 2**30))


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero here")
def test_check_dev_zero_is_refused_without_being_read() -> None:
    """`journeydsl check /dev/zero` is JD110 "a character device" (checked with stat, so it is
    never opened), in a child with capped memory so that a regression fails only the test."""
    proc = subprocess.run(
        [sys.executable, "-m", "journeydsl", "check", "--format", "json", "/dev/zero"],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
        preexec_fn=_memory_capped,
    )
    assert proc.returncode == 1, proc.stderr[-2000:]
    found = json.loads(proc.stdout)["diagnostics"]
    assert [(d["code"], d["message"]) for d in found] == [
        ("JD110", "the file is a character device, not a regular file: it is not read")
    ]


@pytest.mark.parametrize(
    ("encoding", "word", "says"),
    [
        ("cp1258", "Chào", "byte 0xE0 at line 3, column {column} is not UTF-8"),
        ("gb18030", "你好", "byte 0xC4 at line 3, column {column} is not UTF-8"),
        ("utf-16", "Chào", "the file is UTF-16 text, not UTF-8"),
    ],
)
@pytest.mark.parametrize("suffix", [".journey", ".yaml"])
def test_a_journey_not_saved_as_utf8_is_reported_where_it_stops_being_utf8(
    tmp_path: Path, encoding: str, word: str, says: str, suffix: str
) -> None:
    """A journey saved as Windows-1258, GB18030 or UTF-16 is JD110 at the line and column of
    the first character that is not UTF-8 (not 1:1 with a byte offset), saying to save it as
    UTF-8."""
    lines = (
        ["journey: j", "entry: {event: card_issued}", f'title: "Offer {word}"', "steps: []"]
        if suffix == ".yaml"
        else ["journey j", "entry on card_issued", f'title "Offer {word}"', "exit done"]
    )
    path = tmp_path / f"j{suffix}"
    path.write_bytes(("\n".join(lines) + "\n").encode(encoding))
    column = lines[2].index(word) + (2 if encoding == "cp1258" else 0) + 1
    where = (1, 1) if encoding == "utf-16" else (3, column)
    [found] = compile_file(path).diagnostics
    assert (found.code, found.span.line, found.span.column) == ("JD110", *where)
    assert says.format(column=column) in found.message
    assert found.message.endswith("save it as UTF-8")
