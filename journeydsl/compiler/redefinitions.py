"""One journey id and version defined differently in two files (JD106 across files).

The runtime tells journeys apart by id and version (a stored instance names both), so two
different graphs under one id and version cannot both be loaded. :class:`Definitions` is the one
place that decides it: ``journeydsl run`` (and ``worker``, ``quarantine replay``) refuse such
files with :func:`conflict_message`, and ``journeydsl check`` reports them as a diagnostic with
:func:`redefinitions`. The same journey in both spellings (``a.journey`` and the ``a.yaml`` that
``fmt`` made of it) compiles to the same graph and is one definition, not a conflict.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from journeydsl import ir
from journeydsl.diagnostics import Diagnostic, Diagnostics, Span

__all__ = ["ADVICE", "Definition", "Definitions", "conflict_message", "redefinitions"]

#: What to do about a conflict.
ADVICE: Final = "give one of them a new version"


@dataclass(frozen=True, slots=True)
class Definition:
    """A compiled journey and the file it was read from."""

    file: str
    journey: ir.Journey

    def conflicts_with(self, other: ir.Journey) -> bool:
        """True when ``other``, of the same id and version, is another graph (spans aside)."""
        return self.journey.to_json() != other.to_json()


class Definitions:
    """The journeys read so far, by id and version; the first file to define one keeps it."""

    def __init__(self) -> None:
        self._first: dict[tuple[str, int], Definition] = {}

    def add(self, file: str, journey: ir.Journey) -> Definition | None:
        """Record ``journey``, read from ``file``, and give None; or, when its id and version
        are taken, record nothing and give the earlier definition (see
        :meth:`Definition.conflicts_with`)."""
        key = (journey.id, journey.version)
        earlier = self._first.get(key)
        if earlier is None:
            self._first[key] = Definition(file, journey)
        return earlier


def conflict_message(journey: ir.Journey, earlier: Definition) -> str:
    """The words for ``journey`` being defined otherwise by ``earlier`` (without the advice)."""
    return (
        f"journey {journey.id} version {journey.version} is also defined, differently, "
        f"in {earlier.file}"
    )


def redefinitions(journeys: Iterable[tuple[str, ir.Journey, Span]]) -> list[Diagnostic]:
    """A JD106 error for every journey (file, compiled journey, where its definition is written)
    whose id and version an earlier one of ``journeys`` defines differently, at the later one."""
    definitions = Definitions()
    diags = Diagnostics()
    for file, journey, span in journeys:
        earlier = definitions.add(file, journey)
        if earlier is not None and earlier.conflicts_with(journey):
            diags.error("JD106", conflict_message(journey, earlier), span, ADVICE)
    return diags.items
