"""Spreading a simulation past one machine: ``simulate --part K/N -o PART`` runs one part of the
customers and writes its part file (merged by ``journeydsl merge``, :mod:`journeydsl.cli.merge`),
and ``simulate --executor dask --address tcp://…`` runs every part on a Dask cluster. See
docs/simulate.md, "Spreading a simulation"."""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TextIO

from journeydsl.cli.common import UsageError
from journeydsl.exitcodes import ExitCode

if TYPE_CHECKING:
    from journeydsl.runtime.protocols import Profile
    from journeydsl.simulate.inputs import LoadedEnrolment, LoadedEvent
    from journeydsl.simulate.parallel import Context, Executor, Plan

__all__ = ["add_spread_arguments", "check_spread", "executor_of", "part_spec", "write_part"]


#: The most parts ``--part K/N`` spreads a run into (``journeydsl.simulate.parts.MAX_PARTS``,
#: repeated here so that building the parser imports nothing heavy).
MAX_PARTS = 1_000_000


def part_spec(text: str) -> tuple[int, int]:
    """``K/N`` as (K, N), 1 ≤ K ≤ N ≤ :data:`MAX_PARTS`."""
    found = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
    if found is None:
        raise argparse.ArgumentTypeError(f"expected K/N (part K of N), e.g. 2/8, not {text!r}")
    k_digits, n_digits = (g.lstrip("0") or "0" for g in found.groups())
    longest = len(str(MAX_PARTS))  # (checked before int(): it refuses 4,300 digits and more)
    if len(n_digits) > longest or not 1 <= int(n_digits) <= MAX_PARTS:
        raise argparse.ArgumentTypeError(
            f"{text[:40]}: N must be from 1 to {MAX_PARTS:,} (merge reads one file per part)"
        )
    n = int(n_digits)
    k = int(k_digits) if len(k_digits) <= longest else n + 1
    if not 1 <= k <= n:
        raise argparse.ArgumentTypeError(f"{text[:40]}: K must be between 1 and N")
    return k, n


def add_spread_arguments(p: argparse.ArgumentParser) -> None:
    """``--part``, ``--executor`` and ``--address`` of ``journeydsl simulate``."""
    g = p.add_argument_group("spreading a run (docs/simulate.md, Spreading a simulation)")
    g.add_argument(
        "--part",
        type=part_spec,
        metavar="K/N",
        help="run only part K of N of the customers (the split --workers makes) and write its "
        "part file to --output; `journeydsl merge` makes the report of the N part files",
    )
    g.add_argument(
        "--executor",
        choices=("processes", "dask"),
        default="processes",
        help="where the parts run: processes of this machine (--workers, the default), or the "
        "workers of a Dask cluster (--address; needs the `distributed` extra)",
    )
    g.add_argument(
        "--address",
        metavar="URL",
        help="the Dask scheduler for --executor dask, e.g. tcp://10.0.0.5:8786",
    )


def check_spread(args: argparse.Namespace) -> None:
    """Refuse the spreading options that do not go together."""
    dask = args.executor == "dask"
    if args.part is not None:
        if not args.output:
            raise UsageError("--part writes a part file: name it with -o FILE")
        if getattr(args, "csv", None):
            raise UsageError("--csv goes with `journeydsl merge`, which reports the whole run")
        if dask:
            raise UsageError(
                "--part runs one part here, --executor dask runs them all on the cluster: "
                "give one of them"
            )
    if dask and not args.address:
        raise UsageError("--executor dask needs --address tcp://HOST:PORT (the Dask scheduler)")
    if dask and not re.match(r"(tcp|tls|ws|wss)://[^/]", args.address):
        raise UsageError(
            f"--address {args.address}: expected the Dask scheduler's tcp://HOST:PORT (or "
            "tls://, ws://, wss://); the built-in executor is Dask's"
        )
    if args.address and not dask:
        raise UsageError("--address goes with --executor dask")
    if dask and args.workers != 1:
        raise UsageError("--workers starts processes here; with --executor dask leave it out")


def executor_of(args: argparse.Namespace) -> Executor | None:
    """The executor ``--executor`` names (None: the processes of ``--workers``)."""
    if getattr(args, "executor", "processes") != "dask":
        return None
    from journeydsl.simulate.executors import dask_executor

    return dask_executor(args.address)


def _file_hash(path: str | None) -> str | None:
    from journeydsl.simulate.parts import file_hash

    return file_hash(path)


def run_header(
    args: argparse.Namespace, plan: Plan, title: str, costs: dict[str, Decimal] | None
) -> dict[str, Any]:
    """What every part of the run must share, as the part file's ``run`` object."""
    from journeydsl import __version__

    synthetic = plan.behaviour is not None
    enrol = getattr(args, "enrol", None)
    return {
        "journeydsl": __version__,
        "journeys": [
            {
                "path": v.path,
                "params": [list(kv) for kv in v.params],
                "hash": h,
                "policies": v.policies,
                "policies_hash": _file_hash(v.policies),
            }
            for v, h in zip(args.variants, args.journey_hashes, strict=True)
        ],
        "compare": getattr(args, "compare", None),
        "compare_policies": getattr(args, "compare_policies", None),
        "sweep": getattr(args, "sweep", None),
        "behaviour": plan.behaviour,
        "behaviour_hash": _file_hash(plan.behaviour),
        "population": plan.population if synthetic else None,
        "seed": plan.seed if synthetic else None,
        "events": args.events,
        "events_hash": _file_hash(args.events),
        "profiles": args.profiles,
        "profiles_hash": _file_hash(args.profiles),
        "enrol": enrol,
        "enrol_hash": _file_hash(enrol),
        "default_consent": plan.default_consent,
        "policies": plan.policies,
        "policies_hash": _file_hash(plan.policies),
        "root": plan.root,
        "start": plan.start.isoformat(),
        "until": plan.until.isoformat(),
        "chunk": plan.chunk,
        "report": args.format,
        "detail": plan.detail,
        "trace": plan.trace,
        "title": title,
        "costs": {k: str(v) for k, v in costs.items()} if costs is not None else None,
    }


def write_part(
    args: argparse.Namespace,
    plan: Plan,
    context: Context | None,
    title: str,
    costs: dict[str, Decimal] | None,
    err: TextIO,
    progress: Callable[[int, int], None] | None,
    *,
    events: Sequence[LoadedEvent],
    profiles: Sequence[Profile],
    enrolments: Sequence[LoadedEnrolment],
) -> int:
    """Run part ``args.part`` of the plan (over ``--workers`` processes) and write its part
    file to ``args.output``."""
    from journeydsl.simulate.parallel import run_mergers
    from journeydsl.simulate.parts import part_document

    mergers, _ = run_mergers(
        plan,
        workers=args.workers,
        context=context,
        events=events,
        profiles=profiles,
        progress=progress,
        enrolments=enrolments,
        part=args.part,
    )
    doc = part_document(run_header(args, plan, title, costs), args.part, mergers)
    try:
        with open(args.output, "w", encoding="utf-8") as sink:
            json.dump(doc, sink, ensure_ascii=False, separators=(",", ":"))
            sink.write("\n")
    except OSError as exc:
        print(f"journeydsl: error: {exc.filename or args.output}: {exc.strerror or exc}", file=err)
        return ExitCode.USAGE
    return ExitCode.OK
