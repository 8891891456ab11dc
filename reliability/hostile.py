"""Hostile-input campaign: fuzzed journeys (YAML and DSL), expressions, catalogs, behaviour
files, event and profile lines. Bad input must end in diagnostics, or a clear error naming the
file and the line; never in a traceback. A bad event must be quarantined without touching anyone's
journey.

    python -m reliability.hostile --size 5000

``size`` inputs are generated with hypothesis per target (:mod:`reliability._generators`):

* ``yaml``, ``dsl``: mutated example journeys, random YAML documents, random text, compiled with
  :func:`journeydsl.compiler.compile_source` (catalogs from examples/). Oracle: no exception;
  every diagnostic names a file and a line.
* ``expressions``: journeys with random expressions in every place one can stand.
* ``catalogs``: mutated events and templates catalogs, loaded as ``uses`` does.
* ``behaviour``, ``policies``: mutated behaviour and policy files and random YAML, loaded with
  :func:`journeydsl.simulate.behaviour.load_behaviour` and
  :func:`journeydsl.runtime.policies.loader.load_policies`. Oracle: the result, or
  :class:`~journeydsl.yamlfile.InputError` whose errors name the file and a line.
* ``events``: the example stream with corrupted events (each must be quarantined) and garbage
  lines inserted, run with ``journeydsl run``. Oracle: every bad line is quarantined and
  reported with its line number, and the actions are exactly those of the clean stream.
* ``event_lines``: random event-shaped and arbitrary JSON lines through ``journeydsl run`` and
  ``journeydsl simulate``'s reader. Oracle: no exception.
* ``profiles``: corrupted profile lines through the profiles loader. Oracle: no exception.

Journeys as inputs that could hurt the host (values that grow from themselves, catalog paths out
of the folder, alias bombs), checked and run in child processes held to a time and a memory
limit, are the campaign :mod:`reliability.hostile_journeys`.

A crash is any other exception. Figures: ``inputs`` and ``crashes`` per target and in total, and
crash classes (exception type and where it was raised) with a sample input each. ``KNOWN`` lists
crash classes tolerated while a fix is pending; it is empty, so any crash fails the campaign.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import shutil
import sys
import tempfile
import traceback
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from journeydsl.catalog import Catalog, load_events, load_templates
from journeydsl.cli.run import run as journeydsl_run
from journeydsl.compiler import compile_source
from journeydsl.diagnostics import Diagnostic, Diagnostics, Span
from journeydsl.runtime.stores.sqlite import SQLiteStore
from journeydsl.simulate.behaviour import load_behaviour
from journeydsl.simulate.inputs import read_events, schemas_of
from journeydsl.yamlfile import InputError
from reliability import _generators as gen
from reliability._common import (
    EXAMPLES,
    JOURNEYS,
    START,
    compiled,
    run_examples,
    stream,
    write_jsonl,
)

TARGETS = (
    "yaml",
    "dsl",
    "expressions",
    "catalogs",
    "behaviour",
    "policies",
    "events",
    "event_lines",
    "profiles",
)

#: Crash classes found by this campaign in modules it may not change, each pinned by a strict
#: xfail test in reliability/test_hostile.py: (target, exception type, module it escaped from).
KNOWN: frozenset[tuple[str, str, str]] = frozenset()


@dataclass
class Tally:
    """Inputs tried and crashes found, per target."""

    inputs: Counter[str] = field(default_factory=Counter)
    crashes: Counter[str] = field(default_factory=Counter)
    classes: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)
    poisoned: int = 0
    quarantined: int = 0
    bad_lines: int = 0
    unplaced: int = 0

    def crash(self, target: str, exc: BaseException, sample: str) -> None:
        """Record a crash, by class (exception type and the package module it escaped from)."""
        self.crashes[target] += 1
        where = _origin(exc)
        key = (target, type(exc).__name__, where)
        entry = self.classes.setdefault(
            key,
            {
                "target": target,
                "exception": type(exc).__name__,
                "module": where,
                "message": str(exc)[:160],
                "sample": sample[:200],
                "count": 0,
                "known": key in KNOWN,
            },
        )
        entry["count"] += 1


def _origin(exc: BaseException) -> str:
    """The last frame of the traceback inside journeydsl/, as a repository path."""
    found = "?"
    for frame in traceback.extract_tb(exc.__traceback__):
        path = frame.filename.replace(os.sep, "/")
        if "/journeydsl/" in path:
            found = "journeydsl/" + path.rsplit("/journeydsl/", 1)[1]
    return found


def _placed(d: Diagnostic) -> bool:
    return bool(d.span.file) and d.span.line >= 1 and d.span.column >= 1


# --------------------------------------------------------------------------- the targets


def _compile_target(target: str, tally: Tally, suffix: str) -> Callable[[str], None]:
    def body(text: str) -> None:
        tally.inputs[target] += 1
        try:
            result = compile_source(text, str(EXAMPLES / f"fuzz{suffix}"))
        except Exception as exc:
            tally.crash(target, exc, text)
            return
        tally.unplaced += sum(1 for d in result.diagnostics if not _placed(d))

    return body


def _catalog_target(tally: Tally, work: Path) -> Callable[[tuple[str, str]], None]:
    def body(item: tuple[str, str]) -> None:
        kind, text = item
        tally.inputs["catalogs"] += 1
        path = work / f"{kind}.yaml"
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        diags = Diagnostics()
        loader = load_events if kind == "events" else load_templates
        try:
            loader(path, Catalog(), diags, Span.point("fuzz.journey", 1, 1), {})
        except Exception as exc:
            tally.crash("catalogs", exc, text)
            return
        tally.unplaced += sum(1 for d in diags.items if not _placed(d))

    return body


def _yaml_file_target(
    target: str, tally: Tally, load: Callable[[str, str], object]
) -> Callable[[str], None]:
    """A YAML input file (behaviour, policies): the loaded model, or InputError naming the file
    and a line for every mistake."""
    name = f"fuzz/{target}.yaml"

    def body(text: str) -> None:
        tally.inputs[target] += 1
        try:
            load(name, text)
        except InputError as exc:
            if not exc.errors or any(e.file != name or e.line < 1 for e in exc.errors):
                tally.unplaced += 1
        except Exception as exc:
            tally.crash(target, exc, text)

    return body


def _load_policies(name: str, text: str) -> object:
    from journeydsl.runtime.policies.loader import load_policies

    return load_policies(name, text)


def _events_target(tally: Tally, work: Path, size: int, rng_seed: int) -> None:
    """The clean example stream, then the same stream with corrupted events and garbage lines
    among it: every bad line must be quarantined and reported with its line number, and no
    customer's actions may change."""
    customers = max(10, min(200, size // 20))
    events, profiles = stream(customers, rng_seed)
    events = [e for e in events if e["at"] >= START.isoformat()]  # no history: no dormant days
    write_jsonl(work / "profiles.jsonl", profiles)
    clean = _journeydsl_run(work / "clean", events)
    rng = random.Random(rng_seed)
    marked: list[tuple[bool, Any]] = [(False, e) for e in events]
    for _ in range(size):
        victim = events[rng.randrange(len(events))]
        hostile: Any = (
            gen.GARBAGE[rng.randrange(len(gen.GARBAGE))]
            if rng.random() < 0.2
            else gen.broken(victim, rng)
        )
        marked.insert(rng.randrange(len(marked) + 1), (True, hostile))
    tally.inputs["events"] += size
    try:
        dirty = _journeydsl_run(work / "dirty", [line for _, line in marked])
    except Exception as exc:
        tally.crash("events", exc, "(the stream with corrupted lines)")
        return
    reported = {
        int(line.rsplit(": quarantined: ", 1)[0].rsplit(":", 1)[1])
        for line in dirty[1].splitlines()
        if ": quarantined: " in line
    }
    # A line equal to an earlier one is the same event: it is skipped as already done (or
    # quarantined again when it is not an event at all), so only first occurrences must be
    # reported.
    seen: set[str] = set()
    expected = set()
    for i, (bad, line) in enumerate(marked, 1):
        text = line if isinstance(line, str) else json.dumps(line, ensure_ascii=False)
        if bad and text not in seen:
            expected.add(i)
        seen.add(text)
    tally.bad_lines += len(expected)
    tally.quarantined += len(expected & reported)
    tally.unplaced += len(expected - reported)
    changed = clean[0] ^ dirty[0]
    tally.poisoned += len({json.loads(line)["customer_id"] for line in changed})


def _journeydsl_run(work: Path, lines: Sequence[Any]) -> tuple[set[str], str]:
    """``journeydsl run`` of both example journeys over ``lines`` in a fresh folder ``work``
    (profiles from its parent): (the action lines, stderr)."""
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    path = work / "events.jsonl"
    with path.open("w", encoding="utf-8", errors="surrogatepass") as f:
        for line in lines:
            text = line if isinstance(line, str) else json.dumps(line, ensure_ascii=False)
            f.write(text + "\n")
    err = io.StringIO()
    actions = work / "actions.jsonl"
    code = journeydsl_run(
        [str(j) for j in JOURNEYS],
        db=work / "state.sqlite",
        events=str(path),
        actions=actions,
        profiles=work.parent / "profiles.jsonl",
        now=START + timedelta(days=60),
        err=err,
        fsync=False,
    )
    if code != 0:
        raise RuntimeError(f"journeydsl run exited {code}: {err.getvalue()[-500:]}")
    return set(actions.read_text(encoding="utf-8").splitlines()), err.getvalue()


def _event_lines_target(tally: Tally, work: Path, n: int, rng_seed: int) -> None:
    """Random lines, 200 at a time, through ``journeydsl run`` and simulate's reader; a batch
    that raises is retried line by line to count and sample the lines that crash."""
    schemas = schemas_of([compiled(j) for j in JOURNEYS])
    if not (work / "profiles.jsonl").exists():
        write_jsonl(work / "profiles.jsonl", [])

    def through_run(lines: Sequence[str]) -> None:
        _journeydsl_run(work / "lines", lines)

    def through_reader(lines: Sequence[str]) -> None:
        path = work / "reader.jsonl"
        path.write_text("".join(x + "\n" for x in lines), encoding="utf-8", errors="surrogatepass")
        read_events(path, schemas)

    batch: list[str] = []

    def flush() -> None:
        for check in (through_run, through_reader):
            try:
                check(batch)
                continue
            except Exception:
                pass
            for line in batch:
                try:
                    check([line])
                except Exception as exc:
                    tally.crash("event_lines", exc, line)
        batch.clear()

    def body(line: str) -> None:
        tally.inputs["event_lines"] += 1
        batch.append(line)
        if len(batch) >= 200:
            flush()

    run_examples(gen.random_event_lines(), n, rng_seed, body)
    if batch:
        flush()


def _profiles_target(tally: Tally, work: Path, n: int, rng_seed: int) -> None:
    rng = random.Random(rng_seed)
    _, profiles = stream(20, rng_seed)
    garbage = [*gen.GARBAGE, '{"customer_id": "c\\ud800"}', '{"customer_id": 5}']
    for i in range(n):
        tally.inputs["profiles"] += 1
        if rng.random() < 0.3:
            line = garbage[rng.randrange(len(garbage))]
        else:
            p = dict(profiles[rng.randrange(len(profiles))])
            key = rng.choice(["customer_id", "attributes", "consent", "timezone", "tags"])
            p[key] = rng.choice(
                [None, 5, "x", [1], {"a": [1]}, "Mars/Olympus", "Asia", "\ud800", {}, "A" * 300]
            )
            line = json.dumps(p, ensure_ascii=False)
        path = work / "profiles-fuzz.jsonl"
        path.write_text(line + "\n", encoding="utf-8", errors="surrogatepass")
        db = work / f"profiles-{i % 2}.sqlite"
        try:
            with SQLiteStore(db, synchronous="OFF") as store:
                store.load_profiles_jsonl(path)
        except Exception as exc:
            tally.crash("profiles", exc, line)


# --------------------------------------------------------------------------- the campaign


def run(
    size: int, seed: int, targets: Sequence[str] | None = None, atheris_runs: int = 0
) -> dict[str, Any]:
    """``size`` inputs per target (``targets``: all by default); returns the figures.
    ``atheris_runs`` > 0 also runs the atheris harness (:mod:`reliability.fuzz_atheris`)."""
    chosen = list(targets or TARGETS)
    unknown = set(chosen) - set(TARGETS)
    if unknown:
        raise ValueError(f"unknown targets {sorted(unknown)}; choose from {', '.join(TARGETS)}")
    tally = Tally()
    work = Path(tempfile.mkdtemp(prefix="jd-hostile-"))
    try:
        if "yaml" in chosen:
            run_examples(gen.journey_yaml(), size, seed, _compile_target("yaml", tally, ".yaml"))
        if "dsl" in chosen:
            body = _compile_target("dsl", tally, ".journey")
            run_examples(gen.journey_dsl(), size, seed, body)
        if "expressions" in chosen:
            body = _compile_target("expressions", tally, ".journey")
            run_examples(gen.expression_journeys(), size, seed, body)
        if "catalogs" in chosen:
            run_examples(gen.catalogs(), size, seed, _catalog_target(tally, work))
        if "behaviour" in chosen:
            body = _yaml_file_target("behaviour", tally, load_behaviour)
            run_examples(gen.behaviour_files(), size, seed, body)
        if "policies" in chosen:
            body = _yaml_file_target("policies", tally, _load_policies)
            run_examples(gen.policy_files(), size, seed, body)
        if "events" in chosen:
            _events_target(tally, work, size, seed)
        if "event_lines" in chosen:
            _event_lines_target(tally, work, size, seed)
        if "profiles" in chosen:
            _profiles_target(tally, work, size, seed)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    classes = sorted(tally.classes.values(), key=lambda c: (c["target"], c["exception"]))
    figures: dict[str, Any] = {
        "inputs": sum(tally.inputs.values()),
        "crashes": sum(tally.crashes.values()),
        "crashes_unknown": sum(c["count"] for c in classes if not c["known"]),
        "by_target": {t: {"inputs": tally.inputs[t], "crashes": tally.crashes[t]} for t in chosen},
        "crash_classes": classes,
        "diagnostics_without_position": tally.unplaced,
        "bad_event_lines": tally.bad_lines,
        "bad_event_lines_quarantined": tally.quarantined,
        "customers_poisoned": tally.poisoned,
    }
    if atheris_runs:
        from reliability import fuzz_atheris

        figures["atheris"] = fuzz_atheris.campaign(atheris_runs, seed)
    return figures


#: The figures that must be zero.
MUST_BE_ZERO = ("crashes_unknown", "diagnostics_without_position", "customers_poisoned")


def _extra(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--targets", nargs="+", choices=TARGETS, help="default: all")
    parser.add_argument(
        "--atheris-runs",
        type=int,
        default=0,
        help="also run the atheris harness this many times per target (needs atheris)",
    )


def main(argv: Sequence[str] | None = None) -> int:
    """The command line; exit 1 when a must-be-zero figure is not zero."""
    from reliability._common import main_for

    figures = main_for("hostile", run, argv, default_size=5000, extra=_extra)
    return 1 if any(figures[k] for k in MUST_BE_ZERO) else 0


if __name__ == "__main__":
    sys.exit(main())
