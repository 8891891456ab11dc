"""Hand-offs on the command line: ``simulate`` and ``explain`` run the journeys a journey hands
off to (``enter``) alongside it, loaded from its folder when they are not given."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from journeydsl import ir

__all__ = ["add_targets"]


def _missing(journeys: Sequence[ir.Journey]) -> list[str]:
    given = {j.id for j in journeys}
    return sorted(
        {
            n.journey
            for j in journeys
            for n in j.nodes.values()
            if isinstance(n, ir.Enter) and n.journey not in given
        }
    )


def add_targets(
    journeys: list[ir.Journey], files: Sequence[str], err: TextIO, root: Path | None
) -> list[str] | None:
    """Add to ``journeys`` those they hand off to (and those hand off to, …), compiled from the
    folders of ``files``; their files, or None after printing why one cannot be added."""
    from journeydsl.cli.simulate import compile_journey
    from journeydsl.compiler.handoff import target_file

    added: list[str] = []
    while missing := _missing(journeys):
        name = missing[0]
        found = next((f for f in (target_file(s, name) for s in files) if f is not None), None)
        if found is None:
            print(f"error: no journey '{name}' next to the journeys given: give its file", file=err)
            return None
        more = compile_journey(str(found), err, root)
        if more is None:
            return None
        if more.id != name:
            print(f"{found}: error: holds journey '{more.id}', not '{name}'", file=err)
            return None
        journeys.append(more)
        added.append(str(found))
    return added
