"""Confined catalogs: a journey reads the catalogs it ``uses`` only from inside its root folder
(its own, or ``root=`` / ``--root``), only regular files of at most 1 MiB, held to the limits of
journey YAML; anything else is JD113 at the ``uses`` path, and the refused file is never read
nor shown."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import threading
import tracemalloc
from pathlib import Path

import pytest

from journeydsl.cli import build_parser, main
from journeydsl.compiler import CompileResult, compile_file, compile_source
from journeydsl.confine import MAX_CATALOG_BYTES, FileRefusedError, read_regular
from journeydsl.diagnostics import Diagnostic
from tests.catalogs import EXAMPLES, example_catalogs_in

#: A string that must never reach any output: it is in the secret file outside the root.
MARKER = "SECRET_MARKER_7f3a9c"
SECRET = f"{MARKER}_key: {MARKER}_value\nroot_password: {MARKER}\n"


def journey_using(folder: Path, events: str, name: str = "j.journey") -> Path:
    """A journey in ``folder`` whose events catalog is ``events`` (written as given)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(
        f'journey j\nuses events "{events}"\noutcomes done\nentry on card_issued\nexit done\n',
        encoding="utf-8",
    )
    return path


def refusal(result: CompileResult) -> Diagnostic:
    """The one JD113 of ``result``, which must sit on the `uses events` string (line 2)."""
    found = [d for d in result.diagnostics if d.code == "JD113"]
    assert len(found) == 1, [str(d) for d in result.diagnostics]
    (d,) = found
    assert (d.span.file, d.span.line, d.span.column) == (result.file, 2, len("uses events ") + 1)
    return d


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    """A file outside the journey's folder whose content must never be shown."""
    path = tmp_path / "secrets.yaml"
    path.write_text(SECRET, encoding="utf-8")
    return path


# --------------------------------------------------------------------------- paths out of the root


def test_an_absolute_path_outside_the_root_is_refused(tmp_path: Path, secret: Path) -> None:
    """`uses events "/abs/elsewhere.yaml"` is JD113 "outside the root folder", with the fix."""
    d = refusal(compile_file(journey_using(tmp_path / "journeys", str(secret))))
    assert "is outside the root folder" in d.message
    assert d.hint is not None
    assert "--root" in d.hint
    assert "next to the journey" in d.hint


def test_a_dotdot_escape_is_refused(tmp_path: Path, secret: Path) -> None:
    """`uses events "../secrets.yaml"` leaves the journey's folder: JD113."""
    d = refusal(compile_file(journey_using(tmp_path / "journeys", "../secrets.yaml")))
    assert "is outside the root folder" in d.message


def test_a_symbolic_link_to_a_file_outside_is_refused(tmp_path: Path, secret: Path) -> None:
    """A link inside the folder that resolves outside it is JD113, named as a link."""
    folder = tmp_path / "journeys"
    folder.mkdir()
    (folder / "events.yaml").symlink_to(secret)
    d = refusal(compile_file(journey_using(folder, "events.yaml")))
    assert "symbolic link to a file outside the root folder" in d.message


def test_a_loop_of_symbolic_links_is_a_diagnostic(tmp_path: Path) -> None:
    """Links that point at each other are a diagnostic at the `uses` path (JD113 where Python
    reports the loop while resolving, JD109 where it is found on opening), not an exception."""
    (tmp_path / "a.yaml").symlink_to(tmp_path / "b.yaml")
    (tmp_path / "b.yaml").symlink_to(tmp_path / "a.yaml")
    result = compile_file(journey_using(tmp_path, "a.yaml"))
    (d,) = [d for d in result.diagnostics if d.code in ("JD109", "JD113")]
    assert (d.span.line, d.span.column) == (2, len("uses events ") + 1)
    assert "symbolic links" in d.message


def test_the_yaml_spelling_is_confined_too(tmp_path: Path, secret: Path) -> None:
    """`uses: {events: ../secrets.yaml}` in a YAML journey is JD113 at the path's scalar."""
    path = tmp_path / "journeys" / "j.yaml"
    path.parent.mkdir()
    path.write_text(
        "journey: j\nuses: {events: ../secrets.yaml}\nentry: {event: card_issued}\n"
        "steps: [{exit: done}]\n",
        encoding="utf-8",
    )
    found = [d for d in compile_file(path).diagnostics if d.code == "JD113"]
    assert [(d.span.line, d.span.column) for d in found] == [(2, len("uses: {events: ") + 1)]


# --------------------------------------------------------------------------- paths inside the root


def test_an_absolute_path_inside_the_root_is_read(tmp_path: Path) -> None:
    """A catalog next to the journey may be named by its absolute path."""
    example_catalogs_in(tmp_path)
    result = compile_file(journey_using(tmp_path, str(tmp_path / "events.yaml")))
    assert result.ok, [str(d) for d in result.diagnostics]


def test_links_and_dotdot_that_stay_inside_the_root_are_read(tmp_path: Path) -> None:
    """A link to a catalog in a subfolder, and `sub/../events.yaml`, stay inside: both read."""
    (tmp_path / "shared").mkdir()
    example_catalogs_in(tmp_path / "shared")
    (tmp_path / "events.yaml").symlink_to(tmp_path / "shared" / "events.yaml")
    assert compile_file(journey_using(tmp_path, "events.yaml")).ok
    assert compile_file(journey_using(tmp_path, "shared/../events.yaml", "k.journey")).ok


def test_root_allows_a_catalog_in_a_parent_folder(tmp_path: Path) -> None:
    """`../catalogs/events.yaml` is refused by default and read with root= the parent folder."""
    (tmp_path / "catalogs").mkdir()
    example_catalogs_in(tmp_path / "catalogs")
    path = journey_using(tmp_path / "journeys", "../catalogs/events.yaml")
    refusal(compile_file(path))
    allowed = compile_file(path, root=tmp_path)
    assert allowed.ok, [str(d) for d in allowed.diagnostics]
    text = path.read_text(encoding="utf-8")
    assert compile_source(text, str(path), root=tmp_path).ok


def test_the_root_option_allows_a_catalog_in_a_parent_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`journeydsl check --root DIR` reads a catalog in DIR above the journey; without it, exit 1
    with JD113."""
    (tmp_path / "catalogs").mkdir()
    example_catalogs_in(tmp_path / "catalogs")
    path = str(journey_using(tmp_path / "journeys", "../catalogs/events.yaml"))
    assert main(["check", path]) == 1
    assert "error[JD113]" in capsys.readouterr().out
    assert main(["check", "--root", str(tmp_path), path]) == 0
    assert "0 errors" in capsys.readouterr().out
    assert main(["graph", "--root", str(tmp_path), path]) == 0
    assert "flowchart TD" in capsys.readouterr().out


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """catalogs/ with the example catalogs, and journeys/ with the onboarding journey (using
    them one folder up) and its scenario tests."""
    (tmp_path / "catalogs").mkdir()
    example_catalogs_in(tmp_path / "catalogs")
    (tmp_path / "journeys").mkdir()
    name = "onboarding_new_cardholder"
    source = (EXAMPLES / f"{name}.journey").read_text(encoding="utf-8")
    (tmp_path / "journeys" / f"{name}.journey").write_text(
        source.replace('"events.yaml"', '"../catalogs/events.yaml"').replace(
            '"templates.yaml"', '"../catalogs/templates.yaml"'
        ),
        encoding="utf-8",
    )
    tests = (EXAMPLES / f"{name}.test.yaml").read_text(encoding="utf-8")
    (tmp_path / "journeys" / f"{name}.test.yaml").write_text(tests, encoding="utf-8")
    return tmp_path


def test_test_and_run_take_the_root_to_the_compiler(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`journeydsl test` and `journeydsl run` refuse the catalogs one folder up, and read them
    with `--root` the project folder."""
    tests = str(project / "journeys" / "onboarding_new_cardholder.test.yaml")
    assert main(["test", tests]) == 1
    assert "JD113" in capsys.readouterr().err
    assert main(["test", "--root", str(project), tests]) == 0
    assert "0 failed" in capsys.readouterr().out
    journey = str(project / "journeys" / "onboarding_new_cardholder.journey")
    run = [
        "run",
        journey,
        "--db",
        str(project / "state.sqlite"),
        "--events",
        str(EXAMPLES / "events" / "onboarding.jsonl"),
        "--actions",
        str(project / "actions.jsonl"),
        "--profiles",
        str(EXAMPLES / "events" / "onboarding_profiles.jsonl"),
    ]
    assert main(run) == 1
    assert "error[JD113]" in capsys.readouterr().err
    assert main([*run, "--root", str(project)]) == 0
    assert (project / "actions.jsonl").read_text(encoding="utf-8")


def test_a_root_that_is_not_a_folder_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--root no/such/folder` exits 2 and names the folder."""
    path = str(journey_using(tmp_path, "events.yaml"))
    with pytest.raises(SystemExit) as exc:
        main(["check", "--root", str(tmp_path / "nope"), path])
    assert exc.value.code == 2
    assert "nope: no such folder" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv",
    [
        ["check", "j.journey"],
        ["graph", "j.journey"],
        ["simulate", "j.journey", "--population", "1", "--behaviour", "b.yaml"],
        ["explain", "j.journey", "--customer", "c1", "--events", "e.jsonl"],
        ["test", "t.test.yaml"],
        ["run", "j.journey", "--db", "s.db", "--events", "e.jsonl", "--actions", "a.jsonl"],
        ["quarantine", "replay", "j.journey", "--db", "s.db", "--actions", "a.jsonl"],
    ],
    ids=lambda argv: " ".join(argv[:2]),
)
def test_every_command_that_compiles_journeys_takes_root(argv: list[str], tmp_path: Path) -> None:
    """check, graph, simulate, explain, test, run and quarantine replay accept --root DIR."""
    args = build_parser(argv[0]).parse_args([*argv, "--root", str(tmp_path)])
    assert args.root == tmp_path


# ------------------------------------------------------------------------- files of the wrong kind


def _memory_capped() -> None:
    """Cap the child's address space, so that reading /dev/zero fails it instead of the host."""
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (2 * 2**30, 2 * 2**30))


def _refusals_in_a_capped_child(*argv: str) -> list[str]:
    """The JD113 messages of `journeydsl check --format json ARGV`, run in a child process with
    capped memory, so that a regression fails the test rather than the machine."""
    proc = subprocess.run(
        [sys.executable, "-m", "journeydsl", "check", "--format", "json", *argv],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
        preexec_fn=_memory_capped,
    )
    assert proc.stdout, proc.stderr[-2000:]
    return [d["message"] for d in json.loads(proc.stdout)["diagnostics"] if d["code"] == "JD113"]


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero here")
def test_dev_zero_is_refused_without_being_read(tmp_path: Path) -> None:
    """`/dev/zero` is outside the journey's folder; with `/` as the root it is refused as a
    device (checked with stat, so it is never opened)."""
    path = str(journey_using(tmp_path, "/dev/zero"))
    assert _refusals_in_a_capped_child(path) == [
        f"catalog file '/dev/zero' is outside the root folder '{tmp_path}': it is not read"
    ]
    assert _refusals_in_a_capped_child("--root", "/", path) == [
        "catalog file '/dev/zero' is a character device, not a regular file: it is not read"
    ]


def test_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    """A FIFO next to the journey is JD113; compiling returns though no process writes to it."""
    if not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs here")
    os.mkfifo(tmp_path / "events.yaml")
    results: list[CompileResult] = []
    worker = threading.Thread(
        target=lambda: results.append(compile_file(journey_using(tmp_path, "events.yaml"))),
        daemon=True,
    )
    worker.start()
    worker.join(timeout=60)  # a guard against hanging the suite, not a timing assertion
    assert results, "compiling blocked on the FIFO"
    assert "is a FIFO (named pipe), not a regular file" in refusal(results[0]).message


def test_a_folder_is_refused(tmp_path: Path) -> None:
    """`uses events "sub"` naming a folder is JD113 "is a folder"."""
    (tmp_path / "sub").mkdir()
    assert "is a folder" in refusal(compile_file(journey_using(tmp_path, "sub"))).message


def test_a_catalog_over_the_size_limit_is_refused(tmp_path: Path) -> None:
    """A catalog of MAX_CATALOG_BYTES is read; one byte more is JD113, and the limit is named."""
    padding = "# padding\n"
    body = "events: {card_issued: {}}\n"
    fill = MAX_CATALOG_BYTES - len(body)
    text = body + padding * (fill // len(padding)) + "#" * (fill % len(padding))
    assert len(text.encode()) == MAX_CATALOG_BYTES
    (tmp_path / "events.yaml").write_text(text, encoding="utf-8")
    assert compile_file(journey_using(tmp_path, "events.yaml")).ok
    (tmp_path / "events.yaml").write_text(text + "#", encoding="utf-8")
    d = refusal(compile_file(journey_using(tmp_path, "events.yaml")))
    assert f"is larger than the limit of {MAX_CATALOG_BYTES:,} bytes" in d.message


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="no procfs here")
def test_no_more_than_the_limit_and_one_byte_is_read_when_stat_says_zero() -> None:
    """A file whose size stat cannot tell (procfs says 0) is read up to limit + 1 bytes, then
    refused as too large."""
    assert os.stat("/proc/self/maps").st_size == 0
    assert stat.S_ISREG(os.stat("/proc/self/maps").st_mode)
    with pytest.raises(FileRefusedError) as exc:
        read_regular(Path("/proc/self/maps"), 16)
    assert exc.value.cause == "size"


# ------------------------------------------------------------------------- YAML limits in catalogs


def test_an_alias_bomb_in_an_enum_is_refused_before_it_expands(tmp_path: Path) -> None:
    """An enum whose `values` alias 9^6 values is JD112 at the catalog's line; no event is read
    from it, and reading it allocates nothing near the expansion's size."""
    lines = ["bomb:", "  l0: &l0 [v, v, v, v, v, v, v, v, v]"]
    lines += [f"  l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 9) + "]" for i in range(1, 6)]
    lines += ["events:", "  card_issued:", "    kind: {type: enum, values: *l5}"]
    (tmp_path / "events.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    tracemalloc.start()
    try:
        result = compile_file(journey_using(tmp_path, "events.yaml"))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    bombs = [d for d in result.diagnostics if d.code == "JD112"]
    assert [d.span.file for d in bombs] == [str(tmp_path / "events.yaml")]
    assert "alias bomb" in bombs[0].message
    assert result.catalog is not None
    assert result.catalog.events == {}
    assert peak < 8 * 2**20  # the 531,441 values, expanded, take tens of megabytes


def test_an_enum_value_must_be_a_plain_name(tmp_path: Path) -> None:
    """`values: [[a, b]]` is JD109 at the nested list, not a value spelled from its repr."""
    (tmp_path / "events.yaml").write_text(
        "events:\n  card_issued:\n    kind: {type: enum, values: [[a, b]]}\n", encoding="utf-8"
    )
    result = compile_file(journey_using(tmp_path, "events.yaml"))
    assert [(d.code, d.span.file, d.span.line) for d in result.diagnostics] == [
        ("JD109", str(tmp_path / "events.yaml"), 3)
    ]


# --------------------------------------------------------------------------- nothing leaks


@pytest.mark.parametrize("fmt", ["text", "json", "github"])
@pytest.mark.parametrize("how", ["absolute", "dotdot", "symlink", "root_elsewhere"])
def test_a_refused_file_never_appears_in_any_output(
    how: str, fmt: str, tmp_path: Path, secret: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The refused file's content (its keys, its values, its lines) is in no output format,
    however the journey reaches for it; the refusal itself is reported."""
    folder = tmp_path / "journeys"
    folder.mkdir()
    argv = ["check", "--format", fmt]
    if how == "absolute":
        path = journey_using(folder, str(secret))
    elif how == "dotdot":
        path = journey_using(folder, "../secrets.yaml")
    elif how == "symlink":
        (folder / "events.yaml").symlink_to(secret)
        path = journey_using(folder, "events.yaml")
    else:  # a root that holds the journey's catalogs, but not the secret
        (folder / "catalogs").mkdir()
        path = journey_using(folder, "../secrets.yaml")
        argv += ["--root", str(folder)]
    assert main([*argv, str(path)]) == 1
    captured = capsys.readouterr()
    assert MARKER not in captured.out + captured.err
    assert "JD113" in captured.out


def test_a_catalog_inside_the_root_is_still_shown_in_its_diagnostics(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The excerpt of a mistake in an allowed catalog still shows its line (the refusal is about
    files outside the root, not about catalogs)."""
    (tmp_path / "events.yaml").write_text("events: {}\nsections_typo: {}\n", encoding="utf-8")
    assert main(["check", str(journey_using(tmp_path, "events.yaml"))]) == 1
    assert "   2 | sections_typo: {}" in capsys.readouterr().out


def test_the_examples_need_no_root_but_their_subfolders_do() -> None:
    """The top-level examples read their catalogs from their own folder; the variants read them
    one folder up, so they compile with the examples folder as the root, and only with it."""
    assert compile_file(EXAMPLES / "onboarding_new_cardholder.journey").ok
    variant = EXAMPLES / "variants" / "onboarding_remind_every_2d.journey"
    assert {d.code for d in compile_file(variant).diagnostics} >= {"JD113"}
    assert compile_file(variant, root=EXAMPLES).ok
