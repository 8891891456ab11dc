"""The reports of ``journeydsl simulate`` (and of ``journeydsl merge``, which writes the report of
a run from its parts): one journey, ``--compare``, ``--sweep`` and several journeys, as text,
JSON or HTML, with ``--csv`` and ``--trace``."""

from __future__ import annotations

import argparse
from contextlib import nullcontext
from pathlib import Path
from typing import TextIO

from journeydsl.cli.simulate import Run
from journeydsl.cli.variants import Variant
from journeydsl.exitcodes import ExitCode

__all__ = ["write_report"]


def write_report(args: argparse.Namespace, run: Run, out: TextIO, err: TextIO) -> int:
    """Write the report of a finished run as the options ask (``--format``, ``--output``,
    ``--csv``, ``--trace``): that of ``simulate`` and of ``merge``."""
    from journeydsl.simulate.driver import SimulationResult, dumps
    from journeydsl.simulate.report import render_text, render_trace

    if getattr(args, "sweep", None):
        return _sweep_output(args, run, out, err)
    if run.other is not None:
        return _compare_output(args, run, out, err)
    if len(run.result.journeys) > 1:
        return _several_output(args, run, out, err)
    result = run.result
    try:
        if getattr(args, "csv", None):
            from journeydsl.simulate.csvexport import write_run_csv

            write_run_csv(result, Path(args.csv), costs=run.costs, failures=run.failures)
        with open(args.output, "w", encoding="utf-8") if args.output else nullcontext(out) as sink:
            if args.format == "json":
                sink.write(dumps(result.to_json()))
            elif args.format == "html":
                from journeydsl.simulate.html import render_html

                sink.write(
                    render_html(
                        result,
                        title=run.title,
                        costs=run.costs,
                        failures=run.failures,
                        detail=bool(getattr(args, "detail", False)),
                    )
                )
            else:
                render_text(
                    result,
                    sink,
                    title=run.title,
                    costs=run.costs,
                    failures=run.failures,
                )
    except OSError as exc:
        return _write_failed(exc, args, err)
    if args.trace:
        if run.trace is not None:
            trace = run.trace
        else:
            assert isinstance(result, SimulationResult)  # a run in parts renders its own
            trace = render_trace(result, args.trace)
        # JSON or HTML on stdout must stay parseable: the timeline then goes to stderr.
        (err if args.format in ("json", "html") and not args.output else out).write("\n" + trace)
    return ExitCode.OK


def _compare_output(args: argparse.Namespace, run: Run, out: TextIO, err: TextIO) -> int:
    """``--compare``: the side-by-side report, as text, one JSON document or one HTML page."""
    from journeydsl.simulate.compare import Side, compare_document, render_compare
    from journeydsl.simulate.driver import dumps

    assert run.other is not None
    doc = compare_document(
        Side(run.result, args.journey, run.costs, run.failures),
        Side(run.other, args.variants[1].label, run.costs, run.other_failures),
        getattr(run.other, "pairs", None),
    )
    try:
        if getattr(args, "csv", None):
            from journeydsl.simulate.csvexport import write_compare_csv

            write_compare_csv(doc, Path(args.csv))
        with open(args.output, "w", encoding="utf-8") if args.output else nullcontext(out) as sink:
            if args.format == "json":
                sink.write(dumps(doc))
            elif args.format == "html":
                from journeydsl.simulate.compare_html import render_compare_html

                sink.write(render_compare_html(doc, title=run.title))
            else:
                render_compare(
                    doc, sink, title=run.title, start=run.result.start, until=run.result.until
                )
    except OSError as exc:
        return _write_failed(exc, args, err)
    return ExitCode.OK


def _sweep_output(args: argparse.Namespace, run: Run, out: TextIO, err: TextIO) -> int:
    """``--sweep``: the variants side by side, as text, one JSON document or one HTML page."""
    from journeydsl.simulate.compare import Side
    from journeydsl.simulate.driver import dumps
    from journeydsl.simulate.sweep import render_sweep, sweep_document, write_sweep_csv

    chosen: list[Variant] = args.variants
    name = args.sweep.partition("=")[0].strip()
    doc = sweep_document(
        name,
        [
            (dict(v.params)[name], Side(result, v.label, run.costs, failures))
            for v, (result, failures) in zip(chosen, run.variants, strict=True)
        ],
    )
    try:
        if getattr(args, "csv", None):
            write_sweep_csv(doc, Path(args.csv))
        with open(args.output, "w", encoding="utf-8") if args.output else nullcontext(out) as sink:
            if args.format == "json":
                sink.write(dumps(doc))
            elif args.format == "html":
                from journeydsl.simulate.compare_html import render_sweep_html

                sink.write(render_sweep_html(doc, title=run.title))
            else:
                render_sweep(doc, sink, title=run.title)
    except OSError as exc:
        return _write_failed(exc, args, err)
    return ExitCode.OK


def _several_output(args: argparse.Namespace, run: Run, out: TextIO, err: TextIO) -> int:
    """Several journeys run together: each journey's report and the figures of all together
    (``--csv``: each journey's tables in a folder of its own, and ``journeys.csv``)."""
    from journeydsl.simulate.driver import SimulationResult, dumps
    from journeydsl.simulate.multi import multi_document, render_multi_text
    from journeydsl.simulate.report import render_trace

    result = run.result
    try:
        if getattr(args, "csv", None):
            from journeydsl.simulate.csvexport import write_several_csv

            write_several_csv(result, Path(args.csv), costs=run.costs)
        with open(args.output, "w", encoding="utf-8") if args.output else nullcontext(out) as sink:
            if args.format == "json":
                sink.write(dumps(multi_document(result, run.costs)))
            else:
                render_multi_text(
                    result, sink, title=run.title, costs=run.costs, failures=run.failures
                )
    except OSError as exc:
        return _write_failed(exc, args, err)
    if args.trace:
        assert isinstance(result, SimulationResult)  # several journeys run in one piece
        trace = render_trace(result, args.trace)
        (err if args.format == "json" and not args.output else out).write("\n" + trace)
    return ExitCode.OK


def _write_failed(exc: OSError, args: argparse.Namespace, err: TextIO) -> int:
    """Say which file (or the standard output) could not be written, and why (exit 2)."""
    where = exc.filename or args.output or "standard output"
    print(f"journeydsl: error: {where}: {exc.strerror or exc}", file=err)
    return ExitCode.USAGE
