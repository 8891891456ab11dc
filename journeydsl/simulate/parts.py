"""Simulations spread past one machine: ``simulate --part K/N`` writes what part K of a run did,
``journeydsl merge`` combines the N parts into the report of the whole run.

A run is split into tasks of customers exactly as ``--workers`` splits it
(:func:`~journeydsl.simulate.parallel.plan_tasks`); part ``K`` of ``N`` runs every N-th task from
the (K-1)-th, and writes, per journey of the run, the sum of its tasks (the counts of
:class:`~journeydsl.simulate.tally.Tally` and its companions, plus the sorted actions and
instances when the report needs them) to a **part file**: versioned JSON, whose ``run`` object
holds everything the parts must share (the journeys and a hash of their sources, the seed, the
population or a hash of the recorded inputs, the time range, the options of the report). Sums
are order-free and the sorted lists merge by their keys, so the parts, merged in any order, give
the report of a single run byte for byte.

The file (``version`` 1)::

    {"format": "journeydsl-simulate-part", "version": 1, "part": K, "parts": N,
     "run": {...}, "results": [{per journey: "tally", "channels", "stats", "quarantined",
     "duplicates", "actions", "instances", "timezones", "trace", "policy", "pairs",
     "capacity"}, ...]}
"""

from __future__ import annotations

import hashlib
import heapq
import itertools
import json
import operator
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

from journeydsl.simulate.driver import RunStats, action_sort_key, instance_sort_key
from journeydsl.simulate.inputs import Problem
from journeydsl.simulate.paired import PairTally
from journeydsl.simulate.parallel import Merger, _Part
from journeydsl.simulate.policy_figures import PolicyTally
from journeydsl.simulate.tally import ChannelStats, Tally

__all__ = [
    "FORMAT",
    "MAX_PARTS",
    "RUN_KEYS",
    "VERSION",
    "PartError",
    "PartFile",
    "check_parts",
    "file_hash",
    "merge_parts",
    "parse_part",
    "part_document",
    "read_part",
    "sources_hash",
]

#: What a part file says it is, and the version of its layout.
FORMAT = "journeydsl-simulate-part"
VERSION = 1
#: The most parts a run may be spread into (``--part K/N``: N). ``merge`` reads one file per
#: part, so a larger N is surely a mistake; what a part costs does not depend on N.
MAX_PARTS = 1_000_000
#: The missing parts ``merge`` names before it counts the rest.
_SHOWN_MISSING = 10

#: The instance fields the reports of a merged run read (the rest of a record stays behind).
_INSTANCE_FIELDS = ("id", "customer_id", "journey", "status", "outcome", "entered_at", "ended_at")
#: What ``journeydsl merge`` reads from a part file's ``run`` object.
RUN_KEYS = (
    "journeys",
    "compare",
    "sweep",
    "root",
    "start",
    "until",
    "report",
    "detail",
    "trace",
    "title",
    "costs",
)
#: Tally counters keyed by (queue, priority), (kind, name), (step, exit / offer), (budget, day)
#: or (budget, day, amount): written as lists, the key's parts then the count.
_PAIR_KEYED = frozenset(
    {
        "tickets",
        "rewards",
        "ticket_exits",
        "offers",
        "budget_draws",
        "budget_spend",
        "budget_amounts",
    }
)


#: Tally counters added to the layout of version 1 since it was first written: a part file that
#: lacks one is read as having counted none (the budget forecast then pays each day's demand up
#: to what is left, instead of whole draws).
_ADDED = frozenset({"budget_amounts"})


class PartError(Exception):
    """Part files that cannot be merged; ``usage``: the set of files given is wrong (a part
    missing or given twice), otherwise a file is not a usable part."""

    def __init__(self, message: str, *, usage: bool = False) -> None:
        super().__init__(message)
        self.usage = usage


@dataclass
class PartFile:
    """One part file as read: part ``part`` of ``parts``, the run it belongs to, and per journey
    of the run what the part did."""

    path: str
    part: int
    parts: int
    run: dict[str, Any]
    results: list[_Part]


def sources_hash(texts: Iterable[str], params: Iterable[tuple[str, str]] = ()) -> str:
    """A journey's hash: SHA-256 of its source and its catalogs' texts (in a stable order) and
    the parameter values it is compiled with."""
    digest = hashlib.sha256()
    for text in sorted(texts):
        digest.update(hashlib.sha256(text.encode()).digest())
    digest.update(json.dumps(sorted(params)).encode())
    return digest.hexdigest()


def file_hash(path: str | None) -> str | None:
    """SHA-256 of a file's bytes (None without a file)."""
    if path is None:
        return None
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


# --------------------------------------------------------------------------- writing


_C = TypeVar("_C", Tally, PolicyTally, PairTally)


def _counts(obj: Tally | PolicyTally | PairTally) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in fields(obj):
        value = getattr(obj, f.name)
        if f.name in _PAIR_KEYED and isinstance(obj, Tally):
            out[f.name] = [[*key, n] for key, n in value.items()]
        elif isinstance(value, Counter):
            out[f.name] = dict(value)
        else:
            out[f.name] = value
    return out


def _problem(p: Problem) -> dict[str, Any]:
    return {"where": p.where, "reason": p.reason, "at": p.at.isoformat() if p.at else None}


def _collapse(m: Merger) -> dict[str, Any]:
    """One journey's merged tasks as JSON."""

    def merged(lists: list[list[tuple[tuple[Any, ...], dict[str, Any]]]]) -> list[Any]:
        return [v for _, v in heapq.merge(*lists, key=operator.itemgetter(0))]

    instances = [{f: record[f] for f in _INSTANCE_FIELDS} for record in merged(m.instances)]
    return {
        "tally": _counts(m.tally),
        "channels": [
            [name, s.delivered, s.transient, s.permanent, str(s.cost)]
            for name, s in m.channels.items()
        ],
        "stats": {f.name: getattr(m.stats, f.name) for f in fields(m.stats)},
        "quarantined": [_problem(p) for p in m.quarantined],
        "duplicates": [_problem(p) for p in m.duplicates],
        "actions": merged(m.actions),
        "instances": instances,
        "timezones": m.timezones,
        "trace": m.trace,
        "policy": _counts(m.policy) if m.policy is not None else None,
        "pairs": _counts(m.pairs) if m.pairs is not None else None,
        "capacity": m.capacity,
    }


def part_document(
    run: Mapping[str, Any], part: tuple[int, int], mergers: Sequence[Merger]
) -> dict[str, Any]:
    """The part file of part ``K`` of ``N`` (``part``) of ``run``, from its merged tasks."""
    return {
        "format": FORMAT,
        "version": VERSION,
        "part": part[0],
        "parts": part[1],
        "run": dict(run),
        "results": [_collapse(m) for m in mergers],
    }


# --------------------------------------------------------------------------- reading


def _typed(cls: type[_C], data: Mapping[str, Any]) -> _C:
    given: dict[str, Any] = {}
    for f in fields(cls):
        # (a part written before a field was added to the layout lacks it: counted as none)
        value = data.get(f.name, []) if f.name in _ADDED else data[f.name]
        if f.name in _PAIR_KEYED and cls is Tally:
            given[f.name] = Counter(
                {tuple(str(k) for k in row[:-1]): int(row[-1]) for row in value}
            )
        elif f.default_factory is Counter:
            given[f.name] = Counter(value)
        else:
            given[f.name] = value
    return cls(**given)


def _problems(items: Iterable[Mapping[str, Any]]) -> list[Problem]:
    return [
        Problem(p["where"], p["reason"], datetime.fromisoformat(p["at"]) if p["at"] else None)
        for p in items
    ]


def _action_key(a: Mapping[str, Any]) -> tuple[Any, ...]:
    """:func:`~journeydsl.simulate.driver.action_sort_key` of an action in its report form."""
    return action_sort_key({**a, "at": datetime.fromisoformat(a["at"])})


def _keyed(
    items: Iterable[Mapping[str, Any]], key: Callable[[Mapping[str, Any]], tuple[Any, ...]]
) -> list[tuple[tuple[Any, ...], dict[str, Any]]]:
    """Items with the sort keys a merge orders them by (computed again, never read)."""
    return [(key(item), dict(item)) for item in items]


def _result(data: Mapping[str, Any]) -> _Part:
    return _Part(
        tally=_typed(Tally, data["tally"]),
        channels={
            str(name): ChannelStats(int(d), int(t), int(p), Decimal(cost))
            for name, d, t, p, cost in data["channels"]
        },
        stats=RunStats(**data["stats"]),
        quarantined=_problems(data["quarantined"]),
        duplicates=_problems(data["duplicates"]),
        actions=_keyed(data["actions"], _action_key),
        instances=_keyed(data["instances"], instance_sort_key),
        timezones=dict(data["timezones"]),
        trace=data["trace"],
        policy=_typed(PolicyTally, data["policy"]) if data["policy"] is not None else None,
        pairs=_typed(PairTally, data["pairs"]) if data["pairs"] is not None else None,
        capacity=dict(data.get("capacity") or {}),
    )


def parse_part(path: str, text: str) -> PartFile:
    """Read a part file's text (``path`` names it in errors)."""
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise PartError(
            f"{path}: not a part file of `journeydsl simulate --part` ({exc})"
        ) from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise PartError(f"{path}: not a part file of `journeydsl simulate --part`")
    if doc.get("version") != VERSION:
        raise PartError(
            f"{path}: a part file of version {doc.get('version')!r}; this journeydsl merges "
            f"version {VERSION} (simulate the parts again with this version)"
        )
    try:
        part, parts = int(doc["part"]), int(doc["parts"])
        results = [_result(r) for r in doc["results"]]
        run = dict(doc["run"])
        missing = [key for key in RUN_KEYS if key not in run]
        if missing:
            raise KeyError(missing[0])
        for journey in run["journeys"]:
            if not {"path", "hash", "params"} <= set(journey):
                raise KeyError("a journey's path, hash or params")
    except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
        raise PartError(f"{path}: a damaged part file ({type(exc).__name__}: {exc})") from None
    if not 1 <= part <= parts <= MAX_PARTS:
        raise PartError(f"{path}: a damaged part file (part {part} of {parts})")
    return PartFile(path, part, parts, run, results)


def read_part(path: str) -> PartFile:
    """Read the part file at ``path``."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PartError(f"{path}: no such file", usage=True) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PartError(f"{path}: cannot be read ({exc})") from None
    return parse_part(path, text)


# --------------------------------------------------------------------------- merging


def _shown(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def check_parts(parts: Sequence[PartFile]) -> None:
    """Refuse parts that do not make up one run: parts of different runs (naming the files and
    every setting that differs), a part given twice, or a part missing."""
    if not parts:
        raise PartError("no part files given", usage=True)
    first = parts[0]
    for other in parts[1:]:
        differ = []
        if other.parts != first.parts:
            differ.append(f"N is {first.parts} in {first.path}, {other.parts} in {other.path}")
        for key in sorted(first.run.keys() | other.run.keys()):
            a, b = first.run.get(key), other.run.get(key)
            if a != b:
                differ.append(f"{key} is {_shown(a)} in {first.path}, {_shown(b)} in {other.path}")
        if differ:
            raise PartError(
                f"{first.path} and {other.path} are parts of different runs: " + "; ".join(differ)
            )
    seen: dict[int, str] = {}
    for p in parts:
        if p.part in seen:
            raise PartError(
                f"part {p.part}/{p.parts} is given twice: {seen[p.part]} and {p.path}", usage=True
            )
        seen[p.part] = p.path
    absent = first.parts - len(seen)
    if absent > 0:
        # The first few missing only: a scan of len(seen) + a few numbers, whatever N is.
        missing = list(
            itertools.islice(
                (k for k in range(1, first.parts + 1) if k not in seen), _SHOWN_MISSING
            )
        )
        given = ", ".join(f"{k}/{first.parts} {seen[k]}" for k in sorted(seen))
        names = ", ".join(f"{k}/{first.parts}" for k in missing)
        if absent > len(missing):
            names += f" and {absent - len(missing):,} more"
        raise PartError(
            f"part{'s' if absent > 1 else ''} {names} missing (given: {given})", usage=True
        )


def merge_parts(parts: Sequence[PartFile]) -> list[Merger]:
    """Per journey of the run, the parts (checked by :func:`check_parts`) merged."""
    mergers = [Merger() for _ in parts[0].results]
    for p in sorted(parts, key=lambda p: p.part):
        if len(p.results) != len(mergers):
            raise PartError(f"{p.path}: a damaged part file (results of {len(p.results)} journeys)")
        for m, one in zip(mergers, p.results, strict=True):
            m.add(one)
    return mergers
