"""Moving waiting instances from one version of a journey to the next, through a declared mapping.

By default a new version changes nothing for instances in flight: each finishes on the version it
started on, and only new entrants take the new one (load both versions in the engine). When the
old version must go, a *migration mapping* names, for every step of the old version where an
instance can wait, the step of the new version where it waits on::

    # onboarding_v1_to_v2.yaml
    migrate: onboarding_new_cardholder
    from_version: 1
    to_version: 2
    steps:
      wait_for_card_activated: remind_wait
      wait_until: nudge_wait

:func:`check_mapping` checks it against both compiled versions (``journeydsl check --migrate
MAPPING OLD NEW`` runs it): every waiting step of the old version is mapped (JD701), each name
exists (JD702), each target waits the same way (a timer for a timer, an event for an event, a
condition for a condition, JD703), the new version finds every variable it relies on at the target
already set by the old one at the source, with the same type (JD704), and the mapping is about
these two versions (JD705); a target from which the new version runs again a send, ticket or
action the instances passed is a warning (JD706: it would happen twice).

:func:`migrate` applies it to a state store in **one** commit (all instances or none): each
waiting instance of the old version gets the new version, the mapped step, its visit counts
carried over by step, and a ``migrated`` entry in its decision log. What it keeps: its variables,
its trigger, its timer (the due time the old version computed: the new version's timing applies
from its next wait), and the outbox. Effects already in the outbox keep their keys (which name the
old version), so they are delivered exactly once; the new version's effects have new keys. Run it
while no engine works on the store (a maintenance pause); it is idempotent: instances already on
the new version are left alone.

An instance inside a ``parallel`` block waits in each of its branches: every waiting branch moves
to the mapped step of its own wait, and the block keeps its id. So a step inside branch N of block
B maps to a step inside branch N of block B in the new version (give the block a label), and a
step outside every block to one outside (JD703); a branch already done or cancelled stays so.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Final, Protocol, cast

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode

from journeydsl import ir
from journeydsl.confine import NotUtf8Error, utf8_text
from journeydsl.diagnostics import Diagnostic, Diagnostics, Span, did_you_mean
from journeydsl.ir_offers import ChooseOffer
from journeydsl.runtime.decisions import MIGRATED, last_step
from journeydsl.runtime.protocols import StateStore
from journeydsl.runtime.records import InstanceRecord, wait_of

__all__ = [
    "MigrationError",
    "MigrationReport",
    "StepMapping",
    "branch_of",
    "check_mapping",
    "load_mapping",
    "migrate",
    "read_mapping",
    "set_before",
    "waiting_steps",
]

_KEYS: Final = ("migrate", "from_version", "to_version", "steps")
_MAX_BYTES: Final = 1_000_000


@dataclass(frozen=True, slots=True)
class StepMapping:
    """A parsed mapping file; ``spans`` locates each source step's entry (for diagnostics)."""

    file: str
    journey: str
    from_version: int
    to_version: int
    steps: dict[str, str]
    spans: dict[str, tuple[Span, Span]] = field(default_factory=dict)
    span: Span = field(default_factory=lambda: Span("<mapping>", 1, 1, 1, 2))
    header: dict[str, Span] = field(default_factory=dict)


class MigrationError(Exception):
    """The mapping does not check against the two versions; ``diagnostics`` says why."""

    def __init__(self, diagnostics: Sequence[Diagnostic]) -> None:
        self.diagnostics = list(diagnostics)
        super().__init__("; ".join(f"{d.span}: {d.message}" for d in self.diagnostics))


@dataclass(slots=True)
class MigrationReport:
    """What :func:`migrate` did."""

    migrated: int = 0
    already: int = 0
    ended: int = 0
    other: int = 0
    by_step: Counter[str] = field(default_factory=Counter)


# --------------------------------------------------------------------------- the mapping file


def _span(file: str, node: Node) -> Span:
    s, e = node.start_mark, node.end_mark
    end_column = max(e.column, s.column + 1) if e.line == s.line else e.column
    return Span(file, s.line + 1, s.column + 1, e.line + 1, end_column + 1)


def load_mapping(text: str, file: str) -> tuple[StepMapping | None, list[Diagnostic]]:
    """Parse a mapping file; (the mapping or None, the diagnostics). Never raises."""
    from journeydsl.syntax.limits import check_tags

    diags = Diagnostics()
    here = Span.point(file, 1, 1)
    if len(text) > _MAX_BYTES:
        diags.error("JD112", f"a mapping file is at most {_MAX_BYTES:,} characters", here)
        return None, diags.sorted()
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = Span.point(file, mark.line + 1, mark.column + 1) if mark else here
        diags.error("JD100", f"not valid YAML: {exc.problem or exc}", where)
        return None, diags.sorted()
    except (yaml.YAMLError, RecursionError) as exc:
        diags.error("JD100", f"not valid YAML: {exc}", here)
        return None, diags.sorted()
    if not isinstance(root, MappingNode):
        diags.error(
            "JD105",
            "a mapping file is a YAML mapping with migrate, from_version, to_version and steps",
            _span(file, root) if root is not None else here,
        )
        return None, diags.sorted()
    if not check_tags(root, file, diags):
        return None, diags.sorted()
    fields: dict[str, tuple[Node, Node]] = {}
    for k, v in root.value:
        name = str(k.value) if isinstance(k, ScalarNode) else ""
        if name not in _KEYS:
            diags.error(
                "JD103",
                f"unknown key '{name}' in a mapping file",
                _span(file, k),
                did_you_mean(name, _KEYS) or f"the keys are {', '.join(_KEYS)}",
            )
        elif name in fields:
            diags.error("JD106", f"'{name}' is given twice", _span(file, k))
        else:
            fields[name] = (k, v)
    for name in _KEYS:
        if name not in fields:
            diags.error("JD104", f"the mapping file needs '{name}:'", _span(file, root))
    if diags.has_errors:
        return None, diags.sorted()
    journey = _scalar(fields["migrate"][1], file, diags, "the journey's name")
    versions = [
        _version(fields[key][1], file, diags, key) for key in ("from_version", "to_version")
    ]
    steps: dict[str, str] = {}
    spans: dict[str, tuple[Span, Span]] = {}
    steps_node = fields["steps"][1]
    if not isinstance(steps_node, MappingNode):
        diags.error(
            "JD105",
            "'steps' maps each waiting step of the old version to a step of the new one",
            _span(file, steps_node),
            "e.g.  steps: {wait_for_card_activated: remind_wait}",
        )
    else:
        for k, v in steps_node.value:
            source = _scalar(k, file, diags, "a step id")
            target = _scalar(v, file, diags, "a step id")
            if source is None or target is None:
                continue
            if source in steps:
                diags.error("JD106", f"step '{source}' is mapped twice", _span(file, k))
                continue
            steps[source] = target
            spans[source] = (_span(file, k), _span(file, v))
    if diags.has_errors or journey is None or None in versions:
        return None, diags.sorted()
    header = {key: _span(file, fields[key][1]) for key in ("migrate", "from_version", "to_version")}
    header["steps"] = _span(file, fields["steps"][0])
    mapping = StepMapping(
        file,
        journey,
        versions[0] or 0,
        versions[1] or 0,
        steps,
        spans,
        _span(file, root),
        header,
    )
    return mapping, diags.sorted()


def _scalar(node: Node, file: str, diags: Diagnostics, what: str) -> str | None:
    if isinstance(node, ScalarNode) and str(node.value).strip():
        return str(node.value).strip()
    diags.error("JD105", f"expected {what}", _span(file, node))
    return None


def _version(node: Node, file: str, diags: Diagnostics, key: str) -> int | None:
    text = str(node.value).strip() if isinstance(node, ScalarNode) else ""
    if text.isascii() and text.isdigit() and len(text) <= 9 and int(text) >= 1:
        return int(text)
    diags.error("JD105", f"'{key}' is a version number such as 2", _span(file, node))
    return None


def read_mapping(path: str | Path) -> tuple[StepMapping | None, list[Diagnostic], str]:
    """:func:`load_mapping` on a file; (mapping, diagnostics, the text read)."""
    file = str(path)
    try:
        text = utf8_text(Path(path).read_bytes())
    except (OSError, UnicodeDecodeError) as exc:
        diags = Diagnostics()
        at = (exc.line, exc.column) if isinstance(exc, NotUtf8Error) else (1, 1)
        diags.error("JD110", f"cannot read the mapping file: {exc}", Span.point(file, *at))
        return None, diags.sorted(), ""
    mapping, found = load_mapping(text, file)
    return mapping, found, text


# --------------------------------------------------------------------------- checking


def _rests(node: ir.Node) -> bool:
    """Whether an instance can rest at ``node``: a wait, or a ticket with exits (it waits for
    its queue's decision)."""
    return isinstance(node, ir.WAITING_KINDS) or (isinstance(node, ir.Ticket) and node.waits)


def waiting_steps(journey: ir.Journey) -> dict[str, ir.Node]:
    """The steps where an instance of ``journey`` can rest between two events or timers."""
    return {nid: n for nid, n in journey.nodes.items() if _rests(n)}


def _wait_kind(node: ir.Node) -> str:
    if isinstance(node, ir.Ticket):
        return "ticket"
    if isinstance(node, ir.Wait):
        return "timer"
    if isinstance(node, ir.WaitFirst):
        return "first"
    assert isinstance(node, ir.WaitFor)
    return "event" if node.event else "condition"


_KIND_WORDS: Final = {
    "timer": "waits for a time",
    "event": "waits for an event",
    "condition": "waits for a condition",
    "first": "waits for the first of several events or conditions",
    "ticket": "waits for a ticket queue's decision",
}


def _sets(node: ir.Node) -> str | None:
    if isinstance(node, ir.Set | ir.Decide | ChooseOffer):  # (a choose: its offer)
        return node.var
    if isinstance(node, ir.RepeatStart | ir.RepeatNext):
        return node.counter
    return None


def set_before(journey: ir.Journey) -> dict[str, frozenset[str]]:
    """For each step, the variables set on every path from the start to it (a must-analysis,
    as JD208 uses): what the journey may rely on there."""
    every = set(journey.variables)
    every |= {n.counter for n in journey.nodes.values() if isinstance(n, ir.RepeatStart)}
    every |= {n.var for n in journey.nodes.values() if isinstance(n, ir.Decide | ChooseOffer)}
    top = frozenset(every)
    preds: dict[str, list[str]] = {nid: [] for nid in journey.nodes}
    for node in journey.nodes.values():
        for succ in node.successors():
            preds.setdefault(succ, []).append(node.id)
    before: dict[str, frozenset[str]] = dict.fromkeys(journey.nodes, top)
    if journey.start is None:
        return before
    before[journey.start] = frozenset(n for n, _ in journey.entry.inputs)  # (hand-off inputs)

    def after(nid: str, to: str) -> frozenset[str]:
        node = journey.nodes[nid]
        var = _sets(node)
        if isinstance(node, ir.Decide) and to in node.failure_targets():
            return before[nid]  # (a decision sets its answer on its answer edge only)
        if isinstance(node, ChooseOffer) and node.none_exit and to == node.on_none:
            return before[nid]  # (and a choose its offer, not on its `none` exit)
        return before[nid] | {var} if var else before[nid]

    changed = True
    while changed:
        changed = False
        for nid in journey.nodes:
            if nid == journey.start:
                continue
            ps = [p for p in preds.get(nid, []) if p in before]
            if not ps:
                continue
            new = frozenset.intersection(*(after(p, nid) for p in ps))
            if new != before[nid]:
                before[nid] = new
                changed = True
    return before


# ---- parallel (concurrent paths): an instance waiting inside a block waits in each branch


def branch_of(journey: ir.Journey) -> dict[str, tuple[str, int]]:
    """For each step inside a branch of a parallel block: (the block's id, the branch's number)."""
    out: dict[str, tuple[str, int]] = {}
    for fork in journey.nodes.values():
        if not isinstance(fork, ir.Parallel):
            continue
        for n, start in enumerate(fork.branches, 1):
            stack = [start]
            while stack:
                nid = stack.pop()
                if nid == fork.done or nid in out or nid not in journey.nodes:
                    continue
                out[nid] = (fork.id, n)
                stack.extend(journey.nodes[nid].successors())
    return out


def _check_branches(
    mapping: StepMapping, old: ir.Journey, new: ir.Journey, diags: Diagnostics
) -> None:
    """A step inside branch N of parallel block B maps to a step inside branch N of a block of
    the same id B in the new version, and a step outside every block to one outside."""
    old_in, new_in = branch_of(old), branch_of(new)
    for source, target in mapping.steps.items():
        if source not in old.nodes or target not in new.nodes:
            continue  # (JD702 says so)
        was, will = old_in.get(source), new_in.get(target)
        if was == will:
            continue
        where = f"branch {was[1]} of parallel block '{was[0]}'" if was else "no parallel block"
        there = f"branch {will[1]} of parallel block '{will[0]}'" if will else "no parallel block"
        diags.error(
            "JD703",
            f"'{source}' waits in {where}, but '{target}' of version {new.version} is in {there}",
            mapping.spans[source][1],
            "map a step inside a parallel block to the same branch of the block with the same "
            "id (give the block a label), and a step outside to one outside",
        )


def _move_branches(inst: InstanceRecord, mapping: StepMapping) -> tuple[dict[str, Any], list[str]]:
    """The ``par`` record of ``inst`` with each waiting branch at its mapped step, and the steps
    its branches waited at."""
    par = inst["par"]
    branches: list[dict[str, Any]] = []
    sources: list[str] = []
    for slot in par["branches"]:
        moved: dict[str, Any] = dict(slot)
        if slot["state"] == "waiting" and slot["wait"] is not None:
            source = slot["wait"]["node"]
            sources.append(source)
            moved["node"] = mapping.steps[source]
            moved["wait"] = {**slot["wait"], "node": mapping.steps[source]}
        branches.append(moved)
    return {**par, "branches": branches}, sources


def _var_types(journey: ir.Journey) -> dict[str, str]:
    types = {k: str(v) for k, v in journey.variables.items()}
    for n in journey.nodes.values():
        if isinstance(n, ir.RepeatStart):
            types.setdefault(n.counter, "int")
    return types


def check_mapping(mapping: StepMapping, old: ir.Journey, new: ir.Journey) -> list[Diagnostic]:
    """Every problem with moving ``old``'s waiting instances to ``new`` through ``mapping``."""
    diags = Diagnostics()
    if mapping.journey != old.id or mapping.journey != new.id:
        diags.error(
            "JD705",
            f"the mapping is for journey '{mapping.journey}', but the versions given are of "
            f"'{old.id}' and '{new.id}'",
            mapping.header.get("migrate", mapping.span),
        )
    for key, journey in (("from_version", old), ("to_version", new)):
        want = mapping.from_version if key == "from_version" else mapping.to_version
        if want != journey.version:
            diags.error(
                "JD705",
                f"'{key}' is {want}, but the journey given is version {journey.version}",
                mapping.header.get(key, mapping.span),
            )
    if new.version <= old.version:
        diags.error(
            "JD705",
            f"instances move to a newer version: {new.version} is not newer than {old.version}",
            mapping.header.get("to_version", mapping.span),
        )
    waits = waiting_steps(old)
    for step in sorted(set(waits) - set(mapping.steps), key=lambda s: list(old.nodes).index(s)):
        node = waits[step]
        diags.error(
            "JD701",
            f"step '{step}' of version {old.version} ({node.span}) is where instances wait, "
            f"but the mapping does not say where they go in version {new.version}",
            mapping.header.get("steps", mapping.span),
            f"add  {step}: <a step of version {new.version} that {_KIND_WORDS[_wait_kind(node)]}>",
        )
    _check_branches(mapping, old, new, diags)
    old_before, new_before = set_before(old), set_before(new)
    old_types, new_types = _var_types(old), _var_types(new)
    for source, target in mapping.steps.items():
        at_source, at_target = mapping.spans[source]
        if source not in old.nodes:
            diags.error(
                "JD702",
                f"version {old.version} has no step '{source}'",
                at_source,
                did_you_mean(source, waits) or f"its waiting steps are: {', '.join(waits)}",
            )
            continue
        if source not in waits:
            diags.error(
                "JD703",
                f"step '{source}' of version {old.version} is not a wait: no instance rests there",
                at_source,
                f"map only the waiting steps: {', '.join(waits)}",
            )
            continue
        if target not in new.nodes:
            targets = waiting_steps(new)
            diags.error(
                "JD702",
                f"version {new.version} has no step '{target}'",
                at_target,
                did_you_mean(target, new.nodes) or f"its waiting steps are: {', '.join(targets)}",
            )
            continue
        kind = _wait_kind(waits[source])
        target_node = new.nodes[target]
        if not _rests(target_node) or _wait_kind(target_node) != kind:
            what = (
                _KIND_WORDS[_wait_kind(target_node)]
                if _rests(target_node)
                else f"is a '{target_node.kind}' step"
            )
            diags.error(
                "JD703",
                f"'{source}' {_KIND_WORDS[kind]}, but '{target}' of version {new.version} {what}",
                at_target,
                "map a wait onto a wait of the same kind: the instance's timer and what it "
                "waits for carry over",
            )
            continue
        _check_repeats(mapping, old, new, source, target, diags)
        for var in sorted(new_before[target] - old_before[source]):
            diags.error(
                "JD704",
                f"at '{target}', version {new.version} relies on variable '{var}', which "
                f"instances waiting at '{source}' of version {old.version} may not have set",
                at_target,
                f"map '{source}' to a step of version {new.version} before '{var}' is set",
            )
        for var in sorted(new_before[target] & old_before[source]):
            if old_types.get(var) != new_types.get(var):
                diags.error(
                    "JD704",
                    f"variable '{var}' is {old_types.get(var)} in version {old.version} but "
                    f"{new_types.get(var)} in version {new.version}",
                    at_target,
                    "keep a variable's type across versions, or give the new one another name",
                )
    return diags.sorted()


def _effects_from(journey: ir.Journey, start: str) -> set[str]:
    """The ids of the steps with an effect (a send, a ticket, an action or reward) reachable
    from ``start`` (after it) in ``journey``."""
    seen = ir.reachable_from(journey, journey.nodes[start].successors())
    return {n for n in seen if isinstance(journey.nodes[n], ir.Send | ir.Ticket | ir.Action)}


def _check_repeats(
    mapping: StepMapping,
    old: ir.Journey,
    new: ir.Journey,
    source: str,
    target: str,
    diags: Diagnostics,
) -> None:
    """JD706 (a warning): from ``target`` the new version runs effects, by the ids of the old
    version's effect steps, that an instance waiting at ``source`` could no longer reach (it
    passed them): they would happen again, under the new version's keys."""
    preds: dict[str, list[str]] = {}
    for node in old.nodes.values():
        for succ in node.successors():
            preds.setdefault(succ, []).append(node.id)
    passed: set[str] = set()  # (the steps on the paths that lead to ``source``)
    stack = list(preds.get(source, []))
    while stack:
        nid = stack.pop()
        if nid not in passed:
            passed.add(nid)
            stack.extend(preds.get(nid, []))
    passed -= _effects_from(old, source)  # (a loop's steps come again: not passed for good)
    effects = (ir.Send, ir.Ticket, ir.Action)
    again = sorted(
        n for n in _effects_from(new, target) if n in passed and isinstance(old.nodes[n], effects)
    )
    if again:
        diags.warning(
            "JD706",
            f"instances waiting at '{source}' of version {old.version} have passed "
            f"{', '.join(repr(n) for n in again)} and cannot come back to "
            f"{'them' if len(again) > 1 else 'it'}, but from '{target}' version {new.version} "
            f"runs {'them' if len(again) > 1 else 'it'} again: a second time, under new keys",
            mapping.spans[source][1],
            "map it to a step after those, or give a step meant to run again a new id",
        )


# --------------------------------------------------------------------------- migrating


class _Scannable(Protocol):
    def all_instances(self) -> list[InstanceRecord]: ...


def migrate(
    state: StateStore,
    mapping: StepMapping,
    old: ir.Journey,
    new: ir.Journey,
    *,
    at: datetime,
    instances: Iterable[InstanceRecord] | None = None,
) -> MigrationReport:
    """Move every waiting instance of ``old`` to ``new`` through ``mapping``, in one commit.

    ``instances`` are the records to consider; by default the store's ``all_instances()`` (both
    built-in stores have it). ``at`` is the time written in the decision logs. Raises
    :class:`MigrationError` (before writing anything) when the mapping does not check.
    """
    problems = [d for d in check_mapping(mapping, old, new) if d.severity == "error"]
    if problems:
        raise MigrationError(problems)
    if instances is None:
        scan: Any = state
        if not callable(getattr(scan, "all_instances", None)):
            raise TypeError("pass instances=..., or a store with all_instances()")
        instances = scan.all_instances()
    report = MigrationReport()
    records: list[InstanceRecord] = []
    for inst in instances:
        if inst.get("journey") != old.id:
            continue
        if inst.get("version") == new.version:
            report.already += 1
            continue
        if inst.get("version") != old.version:
            report.other += 1
            continue
        if inst.get("status") != "waiting" or not inst.get("wait"):
            report.ended += inst.get("status") == "ended"
            report.other += inst.get("status") != "ended"
            continue
        wait = wait_of(inst)
        source = wait["node"]
        moved: dict[str, Any] = dict(inst)
        sources = [source]
        if "par" in inst:  # waiting in each branch: each moves; the block keeps its id
            moved["par"], sources = _move_branches(inst, mapping)
        target = mapping.steps.get(source, source)
        moved["version"] = new.version
        moved["node"] = target
        moved["wait"] = {**wait, "node": target}
        moved["visits"] = _visits(inst.get("visits", {}), mapping, new)
        log = list(inst.get("log", []))
        if len(log) < 1000:
            log.append(
                {
                    "at": at.isoformat(),
                    "node": target,
                    "what": MIGRATED,
                    "from_version": old.version,
                    "from_node": source,
                    "to_version": new.version,
                    # (no step: events and timers go on as of the instance's own last step)
                    "step_at": last_step(inst).isoformat(),
                }
            )
        moved["log"] = log
        records.append(cast(InstanceRecord, moved))
        report.migrated += 1
        for step in sources:
            report.by_step[step] += 1
    if records:
        state.commit(records, [])
    return report


def _visits(visits: dict[str, int], mapping: StepMapping, new: ir.Journey) -> dict[str, int]:
    """Visit counts by step of the new version: a mapped step's count moves to its target, a
    step that exists under the same id keeps its own, the rest are dropped."""
    out: dict[str, int] = {}
    for step, count in visits.items():
        target = mapping.steps.get(step, step)
        if target in new.nodes:
            out[target] = max(out.get(target, 0), count)
    return out
