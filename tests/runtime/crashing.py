"""Crash at every call: a fuse that counts the calls an engine makes into what it is given (its
stores, channels, decision functions) and blows at call number ``at``, before the call or, with
``after``, once it returned; and the proxy that routes the calls through it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["Crash", "Fuse", "Proxy"]


class Crash(BaseException):
    """The injected crash (a BaseException: no handler takes it for a failed call)."""


@dataclass
class Fuse:
    """Counts calls; blows at call number ``at`` (None: never)."""

    at: int | None = None
    after: bool = False
    calls: int = 0

    def hit(self, name: str = "") -> bool:
        """Count one call (of ``name``); whether it is the one that blows."""
        self.calls += 1
        return self.at is not None and self.calls == self.at


class Proxy:
    """Wraps an object; every public method call (or a call of it) goes through the fuse, which
    raises ``crash`` (:class:`Crash` by default; an ``Exception`` subclass makes the crash a
    failure the engine may handle, as a gateway's error)."""

    def __init__(self, inner: Any, fuse: Fuse, crash: type[BaseException] | None = None) -> None:
        self._inner = inner
        self._fuse = fuse
        self._crash = crash or Crash

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if name.startswith("_") or not callable(attr):
            return attr
        return self._fused(name, attr)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._fused("__call__", self._inner)(*args, **kwargs)

    def _fused(self, name: str, attr: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            blow = self._fuse.hit(name)
            if blow and not self._fuse.after:
                raise self._crash(f"before {name}")
            result = attr(*args, **kwargs)
            if blow:
                raise self._crash(f"after {name}")
            return result

        return call
