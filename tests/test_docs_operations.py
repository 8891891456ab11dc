"""docs/operations.md: its Python blocks run, in order, in one session, from the repository root,
against a PostgreSQL database of their own (``DSN``)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "operations.md"


def _blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)


@pytest.mark.postgres
def test_operations_guide_runs(monkeypatch: pytest.MonkeyPatch, pg_dsn: str) -> None:
    """Every Python block of the operations guide (the Worker example) runs against a real
    PostgreSQL database and its assertions hold."""
    monkeypatch.chdir(ROOT)
    blocks = _blocks()
    assert blocks
    namespace: dict[str, object] = {"__name__": "operations_guide", "DSN": pg_dsn}
    for i, code in enumerate(blocks):
        exec(compile(code, f"{DOC}:block{i + 1}", "exec"), namespace)
    assert namespace["health"].state == "stopped"  # type: ignore[attr-defined]
