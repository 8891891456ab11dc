"""``journeydsl fmt`` and ``journeydsl schema``: a journey in its canonical YAML or DSL spelling,
and the JSON Schema of the YAML spelling."""

from __future__ import annotations

import argparse
import json
import os
import re
from dataclasses import replace
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, TextIO

from journeydsl.cli.common import Command, add_skip_option, fail_usage, looks_like_journey
from journeydsl.exitcodes import ExitCode

if TYPE_CHECKING:
    from journeydsl import ast as A

__all__ = [
    "COMMANDS",
    "SCHEMA_KINDS",
    "add_fmt_arguments",
    "add_schema_arguments",
    "cmd_fmt",
    "cmd_schema",
    "left_behind",
    "rebase_uses",
]


def add_fmt_arguments(fmt: argparse.ArgumentParser) -> None:
    """The options of ``journeydsl fmt``."""
    fmt.add_argument(
        "files",
        nargs="+",
        metavar="FILE",
        help="the journey file (.journey or .yaml); several only with --check",
    )
    fmt.add_argument(
        "--to", choices=("yaml", "dsl"), help="target spelling (default: the other one)"
    )
    fmt.add_argument(
        "-o",
        "--output",
        metavar="OUT",
        help="write here instead of stdout; relative `uses` paths are rewritten to name the "
        "same catalogs from OUT's folder",
    )
    fmt.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 when a file is not in its canonical layout (in its own "
        "spelling; comments and blank lines are not compared) and name it",
    )
    add_skip_option(fmt)


def _parsed(path: Path, err: TextIO) -> tuple[A.Journey, str] | None:
    """The journey in ``path`` and its text, or None after printing why it does not parse."""
    from journeydsl.compiler import parse_source, read_source
    from journeydsl.diagnostics import Diagnostics, render_text

    if not path.exists():
        fail_usage(f"{path}: no such file")
    text, refused = read_source(path)
    if text is None:  # a folder, a FIFO, a device, a file too large
        print(render_text(refused, {}), file=err)
        return None
    tree, found = parse_source(text, str(path))
    bag = Diagnostics(list(found))
    if tree is None or bag.has_errors:
        print(render_text(bag.sorted(), {str(path): text}), file=err)
        return None
    return tree, text


def _is_yaml(path: Path) -> bool:
    return path.suffix in (".yaml", ".yml")


def cmd_fmt(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``journeydsl fmt``: exit 1 when the journey does not parse (the reasons on ``err``), or,
    with ``--check``, when a file is not in canonical layout."""
    from journeydsl.syntax.printer import print_dsl, print_yaml

    if args.check:
        paths = [Path(f) for f in args.files]
        if args.skip_other_files:
            paths = [p for p in paths if looks_like_journey(p)]
        return _check_layout(paths, out, err)
    if len(args.files) != 1:
        fail_usage("fmt converts one file at a time; several files only with --check")
    p = Path(args.files[0])
    parsed = _parsed(p, err)
    if parsed is None:
        return ExitCode.ERRORS
    tree = parsed[0]
    target = args.to or ("dsl" if _is_yaml(p) else "yaml")
    if args.output:
        tree = rebase_uses(tree, p.parent, Path(args.output).parent)
        for note in left_behind(tree, p.parent, Path(args.output).parent):
            err.write(f"journeydsl fmt: note: {note}\n")
    rendered = print_yaml(tree) if target == "yaml" else print_dsl(tree)
    if not args.output:
        out.write(rendered)
        return ExitCode.OK
    try:
        Path(args.output).write_text(rendered, encoding="utf-8")
    except OSError as exc:
        fail_usage(f"{args.output}: {exc.strerror or exc}")
    return ExitCode.OK


def _code_lines(text: str) -> list[str]:
    """The lines of ``text`` that hold code: comments (a ``#`` at the start or after a space)
    and blank lines dropped, trailing spaces trimmed; a byte-order mark is not code."""
    out = []
    for line in text.removeprefix("\ufeff").splitlines():
        code = _COMMENT.sub("", line).rstrip()
        if code.strip():
            out.append(code)
    return out


_COMMENT = re.compile(r"(^|\s)#.*$")


def _check_layout(paths: list[Path], out: TextIO, err: TextIO) -> int:
    """``fmt --check``: name each file whose code is not laid out as ``fmt`` prints it."""
    from journeydsl.syntax.printer import print_dsl, print_yaml

    bad = 0
    for path in paths:
        parsed = _parsed(path, err)
        if parsed is None:
            bad += 1
            continue
        tree, text = parsed
        canonical = print_yaml(tree) if _is_yaml(path) else print_dsl(tree)
        if _code_lines(canonical) != _code_lines(text):
            print(
                f"{path}: not in canonical layout (journeydsl fmt --to "
                f"{'yaml' if _is_yaml(path) else 'dsl'} {path} shows it)",
                file=out,
            )
            bad += 1
    n = len(paths)
    print(f"fmt --check: {n - bad} of {n} file{'s' * (n != 1)} canonical", file=out)
    return ExitCode.OK if bad == 0 else ExitCode.ERRORS


def _rebased(path: str, source_dir: Path, output_dir: Path) -> str:
    """``path``, relative to ``source_dir``, made relative to ``output_dir`` (POSIX slashes);
    an absolute path is kept."""
    if PurePosixPath(path).is_absolute() or Path(path).is_absolute():
        return path
    target = os.path.normpath(os.path.abspath(source_dir / path))
    return Path(os.path.relpath(target, os.path.abspath(output_dir))).as_posix()


def rebase_uses(tree: A.Journey, source_dir: Path, output_dir: Path) -> A.Journey:
    """The journey with its relative ``uses`` paths (catalogs) rewritten to name the same files
    from ``output_dir``, where the formatted journey is written."""
    changes = {}
    for name in ("events_catalog", "templates_catalog"):
        lit = getattr(tree, name)
        if lit is not None:
            changes[name] = replace(lit, value=_rebased(lit.value, source_dir, output_dir))
    return replace(tree, **changes)


def left_behind(tree: A.Journey, source_dir: Path, output_dir: Path) -> list[str]:
    """What the journey finds in its own folder but a copy written to ``output_dir`` would not:
    the fragments it includes (JD214 there) and the journeys it hands off to (JD213 there)."""
    from journeydsl.ast_reuse import Enter, Include
    from journeydsl.compiler.fragments import fragment_file
    from journeydsl.compiler.goals import goal_steps
    from journeydsl.compiler.handoff import target_file
    from journeydsl.compiler.steps import _walk

    if os.path.abspath(source_dir) == os.path.abspath(output_dir):
        return []
    notes: dict[str, str] = {}
    for step in _walk(tree.steps + goal_steps(tree)):
        if isinstance(step, Include):
            name = step.fragment.name
            found = fragment_file(source_dir, name)
            if found is not None and fragment_file(output_dir, name) is None:
                notes[name] = (
                    f"it includes fragment '{name}' ({found}), which is not in {output_dir}: "
                    f"copy it there, or the copy does not compile (JD214)"
                )
        elif isinstance(step, Enter):
            name = step.journey.name
            found = target_file(str(source_dir / "x.journey"), name)
            if found is not None and target_file(str(output_dir / "x.journey"), name) is None:
                notes[f"enter {name}"] = (
                    f"it hands off to journey '{name}' ({found}), which is not in {output_dir}: "
                    f"copy it there, or the copy does not compile (JD213)"
                )
    return list(notes.values())


#: The file kinds ``schema --kind`` knows (:data:`journeydsl.cli.schemas.KINDS`, repeated so that
#: building the parser imports no model).
SCHEMA_KINDS = (
    "journey", "events", "templates", "policies", "behaviour", "test", "migration", "fragment",
)  # fmt: skip


def add_schema_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``journeydsl schema``."""
    parser.add_argument(
        "--kind",
        choices=SCHEMA_KINDS,
        default="journey",
        help="the file kind: a journey in YAML (default), the events or templates catalog, "
        "contact policies, a behaviour model, scenario tests, or a migration mapping",
    )


def cmd_schema(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``journeydsl schema``: the JSON Schema of one file kind."""
    from journeydsl.cli.schemas import json_schema

    print(json.dumps(json_schema(args.kind), indent=2, ensure_ascii=False), file=out)
    return ExitCode.OK


#: The commands this module defines.
COMMANDS = {
    "fmt": Command(add_fmt_arguments, cmd_fmt),
    "schema": Command(add_schema_arguments, cmd_schema),
}
