"""JD610: the journey ids a policy file names, checked against the journeys ``journeydsl check
--policies`` was given.

A policy file names journeys in four places: a cap's ``journeys: [ID, …]`` (at the top level
and in a journey's override), the per-journey overrides ``journeys: {ID: …}``, and an entry
rate's ``journey: ID``. The runtime matches them to journey ids exactly, so a misspelt id
(``lifecycle_low_frequncy``) makes the rule apply to nothing, without a word: the campaign's cap,
priority, holdout or entry rate silently never applies. Each name that is no checked journey's
id is a warning at its line in the policy file (or in the file it extends), with a "did you
mean" when a checked journey's id is close.
"""

from __future__ import annotations

import contextlib
from collections.abc import Collection, Iterable, Iterator
from pathlib import Path

from journeydsl.confine import FileRefusedError, read_regular
from journeydsl.diagnostics import Diagnostic, Diagnostics, Span, did_you_mean
from journeydsl.runtime.policies.loader import MAX_POLICY_BYTES
from journeydsl.yamlfile import Loc, YamlDocument

__all__ = ["check_journey_names", "named_journeys"]


def _caps(data: object, loc: Loc) -> Iterator[tuple[str, Loc, str]]:
    caps = data.get("frequency_caps") if isinstance(data, dict) else None
    for i, cap in enumerate(caps if isinstance(caps, list) else []):
        names = cap.get("journeys") if isinstance(cap, dict) else None
        label = f"{'.'.join(map(str, loc))}{'.' if loc else ''}frequency_caps[{i}].journeys"
        for j, name in enumerate(names if isinstance(names, list) else []):
            if isinstance(name, str):
                yield name, (*loc, "frequency_caps", i, "journeys", j), label


def named_journeys(doc: YamlDocument) -> Iterator[tuple[str, Loc, bool, str]]:
    """Every journey id ``doc`` names: ``(id, where, at_key, what)``, ``what`` saying where it
    is written (``frequency_caps[0].journeys``)."""
    data = doc.data
    for name, loc, what in _caps(data, ()):
        yield name, loc, False, what
    rates = data.get("entry_rates") if isinstance(data, dict) else None
    for i, rate in enumerate(rates if isinstance(rates, list) else []):
        rated = rate.get("journey") if isinstance(rate, dict) else None
        if isinstance(rated, str):
            yield rated, ("entry_rates", i, "journey"), False, f"entry_rates[{i}].journey"
    overrides = data.get("journeys") if isinstance(data, dict) else None
    for jid, part in (overrides if isinstance(overrides, dict) else {}).items():
        yield str(jid), ("journeys", jid), True, "an override under journeys"
        for name, loc, what in _caps(part, ("journeys", jid)):
            yield name, loc, False, what


def check_journey_names(
    documents: Iterable[YamlDocument],
    journey_ids: Collection[str],
    *,
    sources: dict[str, str] | None = None,
) -> list[Diagnostic]:
    """JD610: a warning at each journey id the policy files ``documents`` name (the file and
    those it extends, as :func:`~journeydsl.runtime.policies.load_policies` read them) that
    none of ``journey_ids`` (the journeys checked) is; none when no journey was checked. The
    text of a file warned about is added to ``sources`` (for caret excerpts)."""
    diags = Diagnostics()
    if not journey_ids:
        return []
    for doc in documents:
        for name, loc, at_key, what in named_journeys(doc):
            if name in journey_ids:
                continue
            if sources is not None and doc.file not in sources:
                with contextlib.suppress(OSError, UnicodeDecodeError, FileRefusedError):
                    text = read_regular(Path(doc.file), MAX_POLICY_BYTES).decode("utf-8")
                    sources[doc.file] = text
            line, column = doc.position(loc, key=at_key)
            close = did_you_mean(name, journey_ids)
            given = (
                f"if '{name}' is a journey not given to this check, check the policy file with "
                "every journey the engine runs (`journeydsl check --policies FILE FOLDER/`)"
            )
            diags.warning(
                "JD610",
                f"the policy file names the journey '{name}' ({what}), but none of the journeys "
                f"checked ({len(journey_ids):,}) has that id: what it says for '{name}' never "
                "applies",
                Span.point(doc.file, line, column),
                f"{close} Or, {given}"
                if close
                else f"correct the id (a journey's `journey ID` line), or, {given}",
            )
    return diags.sorted()
