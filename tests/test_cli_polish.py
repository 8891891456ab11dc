"""The command line helps whoever types it: a misspelt option gets the one it meant, every
argument has a help text, `explain` refuses a customer it never saw, `fmt -o` keeps the
catalogs reachable from the output's folder, `fmt --check` names files out of layout and
`graph` draws no end node that nothing reaches."""

from __future__ import annotations

import argparse
import re
import shutil
from pathlib import Path

import pytest

from journeydsl.cli import build_parser, main

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
ONBOARDING = EXAMPLES / "onboarding_new_cardholder.journey"
RECORDED = [
    "--events",
    str(EXAMPLES / "events" / "onboarding.jsonl"),
    "--profiles",
    str(EXAMPLES / "events" / "onboarding_profiles.jsonl"),
]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run the CLI; a usage error's exit becomes its code."""
    try:
        code = main(list(argv))
    except SystemExit as exc:
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _leaves(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> list[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    """Every command's own parser (``quarantine list`` included), with the words that reach it."""
    out = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                out.extend(_leaves(sub, (*path, name)))
    return out or [(path, parser)]


def _all_actions(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> list[tuple[tuple[str, ...], argparse.Action]]:
    out = []
    for action in parser._actions:
        out.append((path, action))
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                out.extend(_all_actions(sub, (*path, name)))
    return out


def test_every_argument_of_every_command_has_a_help_text() -> None:
    """Walking the whole parser finds no argument, option or command group without help."""
    found = _all_actions(build_parser())
    assert len(found) > 60
    missing = [
        f"{' '.join(path) or 'journeydsl'} {'/'.join(a.option_strings) or a.dest}"
        for path, a in found
        if not a.help or a.help == argparse.SUPPRESS
    ]
    assert not missing, missing


def test_top_level_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    """The description of `journeydsl --help` names every command, not a few of them."""
    with pytest.raises(SystemExit):
        main(["--help"])
    out = " ".join(capsys.readouterr().out.split())
    names = [path[0] for path, _ in _leaves(build_parser())]
    listed = re.search(r"as code: ([a-z, ]+)\.", out)
    assert listed is not None, out
    assert listed.group(1).split(", ") == list(dict.fromkeys(names))


def _misspelt(option: str) -> str:
    """``option`` with a letter doubled in its middle: not an abbreviation of anything."""
    i = len(option) // 2 + 1
    return option[:i] + option[i] + option[i:]


def _with_options() -> list[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    """The commands that take options besides --help (``rule`` takes none)."""
    return [
        (path, parser)
        for path, parser in _leaves(build_parser())
        if any(
            o.startswith("--") and o != "--help" for a in parser._actions for o in a.option_strings
        )
    ]


@pytest.mark.parametrize(
    ("path", "parser"),
    _with_options(),
    ids=lambda v: " ".join(v) if isinstance(v, tuple) else "",
)
def test_a_misspelt_option_gets_did_you_mean_in_every_command(
    path: tuple[str, ...], parser: argparse.ArgumentParser, capsys: pytest.CaptureFixture[str]
) -> None:
    """For each command, its longest option misspelt is refused (exit 2) with that option
    suggested, before any complaint about missing arguments."""
    options = [o for a in parser._actions for o in a.option_strings if o.startswith("--")]
    options = [o for o in options if o not in ("--help", "--version")]
    option = max(options, key=len)
    code, _, err = run(capsys, *path, _misspelt(option))
    assert code == 2
    assert f"did you mean `{option}`?" in err


def test_every_command_but_rule_is_tried_with_a_misspelt_option() -> None:
    """The table of commands tried above leaves none out but the one without options."""
    tried = {path for path, _ in _with_options()}
    assert {path for path, _ in _leaves(build_parser())} - tried == {("rule",)}


def test_the_us_spelling_of_behaviour_is_accepted(tmp_path: Path) -> None:
    """`--behavior` is the same option as `--behaviour`, and an abbreviation of both is not
    ambiguous."""
    for spelling in (["--behavior", "b.yaml"], ["--behavior=b.yaml"], ["--behav", "b.yaml"]):
        args = build_parser("simulate").parse_args(
            ["simulate", str(ONBOARDING), "--population", "3", *spelling]
        )
        assert args.behaviour == "b.yaml", spelling


def test_a_misspelt_choice_gets_did_you_mean(capsys: pytest.CaptureFixture[str]) -> None:
    """A value outside an option's choices suggests the close one."""
    code, _, err = run(capsys, "check", str(ONBOARDING), "--format", "jsn")
    assert code == 2
    assert "did you mean 'json'?" in err


def test_a_misspelt_command_gets_did_you_mean(capsys: pytest.CaptureFixture[str]) -> None:
    """A command that does not exist suggests the close one."""
    code, _, err = run(capsys, "chek", str(ONBOARDING))
    assert code == 2
    assert "did you mean 'check'?" in err


def test_explain_of_an_unknown_customer_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    """`explain --customer` of an id the simulation never saw is an error that suggests a close
    id; a known customer is explained with exit 0."""
    code, out, err = run(capsys, "explain", str(ONBOARDING), *RECORDED, "--customer", "c-01")
    assert code == 1
    assert out == ""
    assert "no customer 'c-01'" in err
    assert "did you mean 'c-001'?" in err
    code, out, _ = run(capsys, "explain", str(ONBOARDING), *RECORDED, "--customer", "c-001")
    assert code == 0
    assert "onboarding_new_cardholder v1" in out


SYNTHETIC = [
    "--population",
    "3",
    "--behaviour",
    str(EXAMPLES / "behaviour" / "onboarding.yaml"),
]


@pytest.mark.parametrize(
    ("given", "says"),
    [
        (
            ["--days", "10000000"],
            "--days must be from 1 to 355,742 (a run ends before 3000-01-01 UTC, the end of the "
            "range of events; it starts 2026-01-05T00:00:00+07:00), not 10,000,000",
        ),
        (
            ["--days", "99999999999999999999"],
            "--days must be from 1 to 355,742 (a run ends before 3000-01-01 UTC, the end of the "
            "range of events; it starts 2026-01-05T00:00:00+07:00), not "
            "99,999,999,999,999,999,999",
        ),
        (
            ["--until", "9999-12-31T23:59:59+07:00"],
            "--until 9999-12-31T23:59:59+07:00 is out of range: a run starts and ends within the "
            "years 1900 to 2999, the range of events",
        ),
        (
            ["--start", "1800-01-01"],
            "--start 1800-01-01 is out of range: a run starts and ends within the years 1900 to "
            "2999, the range of events",
        ),
        (
            ["--start", "2999-12-01"],
            "the run would end 90 days after the start 2999-12-01T00:00:00+07:00, past the end of "
            "the range of events (3000-01-01 UTC): give --until or --days",
        ),
    ],
)
@pytest.mark.parametrize("mode", ["synthetic", "recorded"])
def test_a_time_range_past_the_range_of_events_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], given: list[str], says: str, mode: str
) -> None:
    """--days, --until and --start outside the years 1900-2999 are refused with one line that
    says the accepted range (exit 2), in both modes (OverflowError in synthetic mode)."""
    inputs = SYNTHETIC if mode == "synthetic" else RECORDED
    if mode == "recorded" and given[0] == "--days":
        says = says.replace("2026-01-05T00:00:00+07:00", "2026-01-05T10:00:00+07:00")
        says = says.replace("355,742", "355,741")
    code, out, err = run(capsys, "simulate", str(ONBOARDING), *inputs, *given)
    assert (code, out, err) == (2, "", f"journeydsl: error: {says}\n")


@pytest.mark.parametrize("size", ["0", "100000001", "99999999999999999999"])
def test_a_population_out_of_range_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], size: str
) -> None:
    """--population takes 1 to 100,000,000 and says so (exit 2): 20 digits were a MemoryError."""
    behaviour = str(EXAMPLES / "behaviour" / "onboarding.yaml")
    code, out, err = run(
        capsys, "simulate", str(ONBOARDING), "--population", size, "--behaviour", behaviour
    )
    assert (code, out) == (2, "")
    assert err == (
        f"journeydsl: error: --population must be from 1 to 100,000,000, not {int(size):,} "
        "(every part of a run lists the population's ids to split them)\n"
    )


def _help_of(command: str, option: str) -> str:
    parser = dict(_leaves(build_parser()))[(command,)]
    (action,) = [a for a in parser._actions if option in a.option_strings]
    return str(action.help)


def test_explain_policies_help_is_its_own() -> None:
    """`explain --policies` says what explain shows, not what the simulate report shows."""
    assert _help_of("explain", "--policies") != _help_of("simulate", "--policies")
    assert "log" in _help_of("explain", "--policies")


def test_fmt_output_in_another_folder_rewrites_uses_paths(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`fmt -o OTHER/x.yaml` names the same catalogs from OTHER, so the output checks clean."""
    project = tmp_path / "project"
    shutil.copytree(EXAMPLES, project / "examples")
    (project / "other").mkdir()
    out = project / "other" / "x.yaml"
    code, _, _ = run(capsys, "fmt", str(project / "examples" / ONBOARDING.name), "-o", str(out))
    assert code == 0
    text = out.read_text(encoding="utf-8")
    assert "events: ../examples/events.yaml" in text
    assert "templates: ../examples/templates.yaml" in text
    code, report, _ = run(capsys, "check", "--root", str(project), str(out))
    assert code == 0, report
    assert "0 errors, 0 warnings" in report


def test_fmt_output_in_the_same_folder_keeps_uses_paths(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Written beside its source, a journey keeps its `uses` paths as they were."""
    shutil.copytree(EXAMPLES, tmp_path / "examples")
    out = tmp_path / "examples" / "copy.yaml"
    assert run(capsys, "fmt", str(tmp_path / "examples" / ONBOARDING.name), "-o", str(out))[0] == 0
    assert "events: events.yaml" in out.read_text(encoding="utf-8")
    assert run(capsys, "check", str(out))[0] == 0


def test_fmt_output_in_another_folder_names_what_it_leaves_behind(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`fmt -o OTHER/x.yaml` of a journey that includes a fragment and hands off to another
    journey says that OTHER lacks them (its check would fail, JD214 and JD213); beside its
    source, or with them copied over, it says nothing."""
    shutil.copytree(EXAMPLES, tmp_path / "examples")
    (tmp_path / "other").mkdir()
    source = tmp_path / "examples" / "handoff_twice.journey"
    source.write_text(
        (EXAMPLES / "activation_handoff.journey")
        .read_text(encoding="utf-8")
        .replace("journey activation_handoff", "journey handoff_twice")
        .replace(
            "\nwait for card_activated within 7d {",
            "\ninclude remind_activation(days: 2d, round: 1)\nwait for card_activated within 7d {",
            1,
        ),
        encoding="utf-8",
    )
    assert run(capsys, "check", str(source))[0] == 0
    code, _, err = run(capsys, "fmt", str(source), "-o", str(tmp_path / "other" / "x.yaml"))
    assert code == 0
    notes = [line for line in err.splitlines() if line.startswith("journeydsl fmt: note:")]
    assert len(notes) == 2
    assert "fragment 'remind_activation'" in notes[0]
    assert "(JD214)" in notes[0]
    assert "journey 'activation_call'" in notes[1]
    assert "(JD213)" in notes[1]
    for name in ("remind_activation.fragment", "activation_call.journey"):
        shutil.copy(EXAMPLES / name, tmp_path / "other" / name)
    code, _, err = run(capsys, "fmt", str(source), "-o", str(tmp_path / "other" / "x.yaml"))
    assert (code, err) == (0, "")
    code, _, err = run(capsys, "fmt", str(source), "-o", str(tmp_path / "examples" / "x.yaml"))
    assert (code, err) == (0, "")


def test_fmt_to_a_missing_folder_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An output path in a folder that does not exist is exit 2 with the reason, no traceback."""
    code, _, err = run(capsys, "fmt", str(ONBOARDING), "-o", str(tmp_path / "no" / "x.yaml"))
    assert code == 2
    assert "No such file or directory" in err


def test_fmt_check_names_files_out_of_layout(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`fmt --check` passes a file as fmt prints it (comments aside) and names one that is not."""
    shutil.copytree(EXAMPLES, tmp_path / "examples")
    canonical = tmp_path / "examples" / "canonical.journey"
    assert run(capsys, "fmt", "--to", "dsl", str(ONBOARDING), "-o", str(canonical))[0] == 0
    canonical.write_text("# a comment fmt does not compare\n" + canonical.read_text("utf-8"))
    code, out, _ = run(capsys, "fmt", "--check", str(canonical))
    assert code == 0, out
    assert "1 of 1 file canonical" in out
    crooked = tmp_path / "examples" / "crooked.journey"
    crooked.write_text(canonical.read_text("utf-8").replace("\n  ", "\n    ", 1))
    code, out, _ = run(capsys, "fmt", "--check", str(canonical), str(crooked))
    assert code == 1
    assert f"{crooked}: not in canonical layout" in out
    assert str(canonical) + ":" not in out


def test_fmt_converts_one_file_at_a_time(capsys: pytest.CaptureFixture[str]) -> None:
    """Several files without --check are a usage error."""
    code, _, err = run(capsys, "fmt", str(ONBOARDING), str(ONBOARDING))
    assert code == 2
    assert "one file at a time" in err


@pytest.mark.parametrize("fmt", ["dot", "mermaid"])
@pytest.mark.parametrize("name", ["onboarding_new_cardholder", "dormant_reactivation"])
def test_graph_draws_no_unconnected_end_node(
    fmt: str, name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A journey whose every path exits with an outcome has no `end: completed` node."""
    code, out, _ = run(capsys, "graph", str(EXAMPLES / f"{name}.journey"), "--format", fmt)
    assert code == 0
    assert "end: completed" not in out
    assert "__end" not in out
    assert "END" not in out


@pytest.mark.parametrize(("fmt", "end"), [("dot", "__end"), ("mermaid", "END")])
def test_graph_draws_the_end_node_when_a_path_reaches_it(
    fmt: str, end: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A journey whose last step falls through to the end draws the end node, with an edge."""
    shutil.copytree(EXAMPLES, tmp_path / "examples")
    journey = tmp_path / "examples" / "falls_through.journey"
    journey.write_text(
        "journey falls_through version 1\n"
        'uses events "events.yaml"\n'
        "entry on card_issued\n"
        "wait 1d\n",
        encoding="utf-8",
    )
    code, out, _ = run(capsys, "graph", str(journey), "--format", fmt)
    assert code == 0, out
    assert "end: completed" in out
    edges = [line for line in out.splitlines() if ("->" in line or "-->" in line) and end in line]
    assert edges, out


def test_a_missing_catalog_hint_is_spelt_like_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A YAML journey without an events catalog is told the YAML spelling of `uses`."""
    journey = tmp_path / "j.yaml"
    journey.write_text(
        "journey: j\nversion: 1\nentry: {event: card_issued}\nsteps:\n  - wait: 1d\n",
        encoding="utf-8",
    )
    code, out, _ = run(capsys, "check", str(journey))
    assert code == 1
    assert "hint: add `uses: {events: events.yaml}`" in out
    assert 'uses events "events.yaml"' not in out
