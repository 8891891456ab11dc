"""What the optional compiled build (mypyc, see "The compiled build" in docs/performance.md) needs
the source to say, without making mypyc a dependency of the pure-Python package:
:func:`mypyc_attr` marks the classes that hosts and tests may subclass in Python (mypyc reads the
mark when it compiles; at run time it is a no-op). :func:`build` says which build runs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

__all__ = ["build", "compiled_modules", "mypyc_attr"]

_C = TypeVar("_C")

if TYPE_CHECKING:
    from mypy_extensions import mypyc_attr as mypyc_attr
else:

    def mypyc_attr(*attrs: str, **kwattrs: object) -> Callable[[_C], _C]:
        """No-op: what mypy_extensions.mypyc_attr is outside a compiled build."""

        def keep(cls: _C) -> _C:
            return cls

        return keep


def compiled_modules() -> list[str]:
    """The package's modules that run compiled (extension modules beside their sources), by
    dotted name; empty in the pure-Python build. Nothing is imported to tell."""
    root = Path(__file__).resolve().parent
    names = []
    for found in root.rglob("*.so"):
        parts = found.relative_to(root).with_name(found.name.split(".", 1)[0]).parts
        names.append(".".join(("journeydsl", *parts)))
    return sorted(names)


def build() -> str:
    """``compiled: N modules`` or ``pure Python``: what ``journeydsl --version`` says."""
    compiled = compiled_modules()
    return f"compiled: {len(compiled)} modules" if compiled else "pure Python"
