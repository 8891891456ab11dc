"""Golden diagnostics: ``journeydsl check`` prints exactly the text stored beside each file of
``tests/fixtures/diagnostics`` (``NAME.journey`` → ``NAME.journey.txt``), message, caret and hint.

Set ``JOURNEYDSL_UPDATE_GOLDEN=1`` to rewrite the stored texts after a deliberate change, then
read the diff.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from journeydsl.cli import main

ROOT = Path(__file__).resolve().parents[2]
FOLDER = ROOT / "tests" / "fixtures" / "diagnostics"
CASES = sorted(p for p in FOLDER.iterdir() if p.suffix in (".journey", ".yaml"))


def _check(path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    out = io.StringIO()
    monkeypatch.chdir(ROOT)
    monkeypatch.setattr("sys.stdout", out)
    code = main(["check", "--root", ".", str(path.relative_to(ROOT))])
    assert code == 1
    return out.getvalue()


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.name)
def test_check_prints_the_golden_text(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The diagnostics of the file, rendered as text, are exactly the stored golden text."""
    text = _check(path, monkeypatch)
    golden = path.with_name(path.name + ".txt")
    if os.environ.get("JOURNEYDSL_UPDATE_GOLDEN"):
        golden.write_text(text, encoding="utf-8")
    assert text == golden.read_text(encoding="utf-8")


def test_the_golden_cases_are_there() -> None:
    """The folder holds the cases the diagnostics promise (unclosed blocks, fields, quoting)."""
    names = {p.stem for p in CASES}
    assert {"unknown_field", "quoted_amount", "unclosed_block", "unclosed_params"} <= names
