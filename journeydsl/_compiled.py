"""What the optional compiled build (mypyc, see "The compiled build" in docs/performance.md) needs
the source to say, without making mypyc a dependency of the pure-Python package:
:func:`mypyc_attr` marks the classes that hosts and tests may subclass in Python (mypyc reads the
mark when it compiles; at run time it is a no-op)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

__all__ = ["mypyc_attr"]

_C = TypeVar("_C")

if TYPE_CHECKING:
    from mypy_extensions import mypyc_attr as mypyc_attr
else:

    def mypyc_attr(*attrs: str, **kwattrs: object) -> Callable[[_C], _C]:
        """No-op: what mypy_extensions.mypyc_attr is outside a compiled build."""

        def keep(cls: _C) -> _C:
            return cls

        return keep
