"""docs/simulate.md: every `console` block's command runs and prints exactly what is shown, and
the Python block runs. `UPDATE_DOCS=1 pytest tests/simulate/test_docs_simulate.py` rewrites the
shown output after a deliberate change."""

from __future__ import annotations

import os
import re
import shlex

import pytest

from tests.simulate.conftest import ROOT, Cli

DOC = ROOT / "docs" / "simulate.md"
CONSOLE = re.compile(r"```console\n\$ (?P<cmd>[^\n]*)\n(?P<out>.*?)```", re.S)
PYTHON = re.compile(r"```python\n(.*?)```", re.S)


def _normal(text: str) -> str:
    """Trailing spaces (rich pads table cells) do not count."""
    return "\n".join(line.rstrip() for line in text.splitlines()).strip("\n")


def _run(cli: Cli, command: str) -> str:
    words = shlex.split(command)
    merge = words[-1] == "2>&1"
    if merge:
        words = words[:-1]
    assert words[0] == "journeydsl"
    _, out, err = cli(*words[1:])
    return (err + out) if merge else out


def _commands() -> list[str]:
    return [m["cmd"] for m in CONSOLE.finditer(DOC.read_text(encoding="utf-8"))]


def test_the_guide_shows_every_command_family() -> None:
    """The guide runs simulate (json, text, trace, synthetic), explain and test."""
    commands = " | ".join(_commands())
    for needle in ("--format json", "--trace", "--population", "explain", "journeydsl test"):
        assert needle in commands


@pytest.mark.parametrize("command", _commands())
def test_console_blocks_show_the_real_output(
    cli: Cli, command: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The block's output is exactly what the command prints today."""
    monkeypatch.chdir(ROOT)
    actual = _normal(_run(cli, command))
    text = DOC.read_text(encoding="utf-8")
    block = next(m for m in CONSOLE.finditer(text) if m["cmd"] == command)
    if os.environ.get("UPDATE_DOCS"):
        replacement = f"```console\n$ {command}\n{actual}\n```"
        DOC.write_text(text[: block.start()] + replacement + text[block.end() :], encoding="utf-8")
        return
    assert _normal(block["out"]) == actual


def test_the_python_example_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """The library example runs from the repository root and its assertion holds."""
    monkeypatch.chdir(ROOT)
    (code,) = PYTHON.findall(DOC.read_text(encoding="utf-8"))
    exec(compile(code, f"{DOC}:python", "exec"), {"__name__": "simulate_guide"})
