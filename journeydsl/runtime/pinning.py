"""A journey version's graph, pinned in the state store.

An instance runs the version it started on, step by step, by the ids of its steps: a journey
file changed without a new ``version`` would change the graph under the instances waiting in
it (a step they wait at may be gone, or mean something else). So :func:`pin_graphs`, called
before an engine is built (``journeydsl run`` does), notes the digest of each version's graph
in the store (``graph:JOURNEY:VERSION`` in its meta) the first time, and refuses another graph
under the same id and version, while instances of that version are still running in the store,
with :class:`JourneyChangedError`. With none running, the new graph is simply noted (nothing
runs on the old one). A store that cannot say what runs in it (neither ``live_journeys()`` nor
``all_instances()``) is held to its noted graphs."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping

from journeydsl import ir
from journeydsl.runtime.protocols import StateStore

__all__ = [
    "JourneyChangedError",
    "VersionMissingError",
    "changed_versions",
    "graph_digest",
    "missing_versions",
    "pin_graphs",
]


class JourneyChangedError(ValueError):
    """A journey's graph changed without a new version while instances of that version run."""


class VersionMissingError(ValueError):
    """Instances of a version of a journey run in the store, but that version was not given:
    their events would be taken for the journey without reaching them, their timers never fire."""


#: What a reward drawn from a budget carries of the budget's declaration (its size and dates):
#: data of the events catalog, which may change while instances run (raising a budget is an
#: edit of the catalog, docs/language.md), not the graph they move on.
_BUDGET_FIELDS = ("total", "starts", "ends")


def graph_digest(journey: ir.Journey) -> str:
    """The digest of ``journey``'s graph (its canonical JSON: both spellings give the same),
    without the sizes and dates of the budgets its rewards draw from."""
    doc = journey.to_json()
    doc["nodes"] = [
        {k: v for k, v in node.items() if k not in _BUDGET_FIELDS} if "budget" in node else node
        for node in doc.get("nodes", ())
    ]
    return _digest(doc)


def _digest(doc: object) -> str:
    text = json.dumps(doc, sort_keys=True, ensure_ascii=True)
    return hashlib.sha256(text.encode("ascii")).hexdigest()[:32]


def _noted_as(journey: ir.Journey, stored: str) -> bool:
    """Whether ``stored`` is ``journey``'s graph noted by an earlier journeydsl, whose digest
    took the budgets' sizes and dates in."""
    return stored == _digest(journey.to_json())


def _key(journey: ir.Journey) -> str:
    return f"graph:{journey.id}:{journey.version}"


def _running(state: StateStore) -> dict[tuple[str, int], int] | None:
    """How many instances that have not ended each (journey, version) has in ``state``; None
    when the store cannot say."""
    live = getattr(state, "live_journeys", None)
    if callable(live):
        return dict(live())
    every = getattr(state, "all_instances", None)
    if not callable(every):
        return None
    counts: dict[tuple[str, int], int] = {}
    for inst in every():
        if inst["status"] != "ended":
            key = (inst["journey"], inst["version"])
            counts[key] = counts.get(key, 0) + 1
    return counts


def changed_versions(
    state: StateStore, versions: Mapping[tuple[str, int], ir.Journey]
) -> tuple[list[str], dict[str, str]]:
    """What is wrong with running ``versions`` on ``state``: one message per version whose
    graph is not the one noted for its running instances; and the digests to note."""
    problems: list[str] = []
    notes: dict[str, str] = {}
    running: dict[tuple[str, int], int] | None = None
    for (jid, version), journey in sorted(versions.items()):
        digest = graph_digest(journey)
        stored = state.get_meta(_key(journey))
        if stored == digest:
            continue
        if stored is not None and not _noted_as(journey, stored):
            if running is None:
                running = _running(state)
            count = None if running is None else running.get((jid, version), 0)
            if count != 0:
                latest = max(v for j, v in versions if j == jid)
                many = (
                    "its running instances"
                    if count is None
                    else f"its {count} running instance{'s' * (count != 1)}"
                )
                problems.append(
                    f"journey '{jid}' version {version} is not the graph {many} in this state "
                    "store started on: the journey was changed, but its version was not. Give "
                    f"the change a new version (`version {latest + 1}`) and run both files, so "
                    f"that the running instances finish on version {version} (or move them with "
                    "a checked mapping: journeydsl migrate), or put the earlier file back"
                )
                continue
        notes[_key(journey)] = digest
    return problems, notes


def pin_graphs(state: StateStore, journeys: Iterable[ir.Journey]) -> None:
    """Note the graphs of ``journeys`` in ``state`` (one commit, only when something is new);
    :class:`JourneyChangedError` when one is not the graph its running instances started on.
    Call it before building the engine over ``state``."""
    problems, notes = changed_versions(state, {(j.id, j.version): j for j in journeys})
    if problems:
        raise JourneyChangedError("; ".join(problems))
    if notes:
        state.commit([], [], meta=notes)


def missing_versions(state: StateStore, journeys: Iterable[ir.Journey]) -> str:
    """The versions of the journeys ``journeys`` run that have instances not ended in
    ``state`` but are not among ``journeys`` (``"onboarding v1 (3 live)"``, for a message); ""
    when there are none, or the store cannot say."""
    live = getattr(state, "live_journeys", None)
    if not callable(live):
        return ""
    given = {(j.id, j.version) for j in journeys}
    ids = {jid for jid, _ in given}
    counts: dict[tuple[str, int], int] = dict(live())
    missing = sorted(k for k, n in counts.items() if n and k[0] in ids and k not in given)
    return ", ".join(
        f"{jid} v{version} ({counts[(jid, version)]} live)" for jid, version in missing
    )
