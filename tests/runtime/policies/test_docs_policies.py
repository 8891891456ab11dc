"""docs/policies.md is run: every ```yaml policies.yaml block is a policy file that loads (relative
paths resolve against examples/), every code named in its check table exists, and its Python
blocks run in order, in one session, from the repository root."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

from journeydsl.diagnostics import CODES
from journeydsl.runtime.policies import load_policies

ROOT = Path(__file__).resolve().parents[3]
DOC = ROOT / "docs" / "policies.md"
TEXT = DOC.read_text(encoding="utf-8")
POLICY_BLOCKS = re.findall(r"```yaml policies\.yaml\n(.*?)```", TEXT, re.S)
PYTHON_BLOCKS = re.findall(r"```python\n(.*?)```", TEXT, re.S)


def test_the_guide_keeps_its_examples() -> None:
    """At least one policy-file example per policy, and the worked Python example."""
    assert len(POLICY_BLOCKS) >= 9
    assert len(PYTHON_BLOCKS) >= 4


@pytest.mark.parametrize(
    "block", POLICY_BLOCKS, ids=[f"yaml{i + 1}" for i in range(len(POLICY_BLOCKS))]
)
def test_each_policy_file_example_loads(block: str) -> None:
    """Each policy example is a valid policy file."""
    policies = load_policies(ROOT / "examples" / "policies.yaml", block)
    assert policies.model_fields_set


def test_the_check_table_names_real_policy_codes() -> None:
    """The JD6xx rows of the guide are exactly the policy codes of diagnostics.CODES."""
    rows = set(re.findall(r"^\|\s*(JD6\d\d)\s*\|", TEXT, flags=re.MULTILINE))
    assert rows == {c for c in CODES if c.startswith("JD6")}


def test_the_python_examples_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every Python block runs without error and its assertions hold."""
    import structlog

    monkeypatch.chdir(ROOT)
    namespace: dict[str, object] = {"__name__": "policies_guide"}
    try:
        for i, code in enumerate(PYTHON_BLOCKS):
            exec(compile(code, f"{DOC}:block{i + 1}", "exec"), namespace)
    finally:
        structlog.reset_defaults()
        structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))


CONSOLE = re.compile(r"```console\n\$ (?P<cmd>[^\n]*)\n(?P<out>.*?)```", re.S)


def _normal(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.splitlines()).strip("\n")


@pytest.mark.parametrize("command", [m["cmd"] for m in CONSOLE.finditer(TEXT)])
def test_console_blocks_show_the_real_output(
    command: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A console block's output is exactly what its command prints today (UPDATE_DOCS=1
    rewrites it after a deliberate change)."""
    import os
    import shlex

    from journeydsl.cli import main

    monkeypatch.chdir(ROOT)
    words = shlex.split(command)
    assert words[0] == "journeydsl"
    main(words[1:])
    actual = _normal(capsys.readouterr().out)
    text = DOC.read_text(encoding="utf-8")
    block = next(m for m in CONSOLE.finditer(text) if m["cmd"] == command)
    if os.environ.get("UPDATE_DOCS"):
        replacement = f"```console\n$ {command}\n{actual}\n```"
        DOC.write_text(text[: block.start()] + replacement + text[block.end() :], encoding="utf-8")
        return
    assert _normal(block["out"]) == actual
