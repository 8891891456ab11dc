"""docs/embedding.md: its Python blocks run, in order, in one session, from the repository root."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "embedding.md"


def _blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)


def test_embedding_guide_has_code() -> None:
    """The guide keeps its worked example (at least six code blocks)."""
    assert len(_blocks()) >= 6


def test_embedding_guide_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every block of the embedding guide runs without error and its assertions hold."""
    import structlog

    monkeypatch.chdir(ROOT)
    namespace: dict[str, object] = {"__name__": "embedding_guide"}
    try:
        for i, code in enumerate(_blocks()):
            exec(compile(code, f"{DOC}:block{i + 1}", "exec"), namespace)
    finally:  # the guide configures structlog; give the other tests their quiet setup back
        structlog.reset_defaults()
        structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    assert namespace["instance"]["status"] == "waiting"  # type: ignore[index]
