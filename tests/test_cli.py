"""The command line: exit codes, output formats, and the YAML/DSL identity of `graph`."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from journeydsl.cli import main
from tests.catalogs import USES, example_catalogs_in

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
JOURNEYS = (
    "onboarding_new_cardholder",
    "dormant_reactivation",
    "annual_fee_reminder",
    "birthday_greeting",
    "weekly_spend_digest",
    "tet_spend_campaign",
    "business_hours_follow_up",
)

BROKEN = f"""\
journey broken version 1
{USES}outcomes done
entry on card_issued
send email welcome_activaton_guide transactional
exit done
"""


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def broken(tmp_path: Path) -> Path:
    path = tmp_path / "broken.journey"
    path.write_text(BROKEN, encoding="utf-8")
    example_catalogs_in(tmp_path)
    return path


def test_check_accepts_all_examples(capsys: pytest.CaptureFixture[str]) -> None:
    """`check examples/` checks every journey below it (each .journey file, in subfolders too,
    and the YAML spellings beside them), not the catalogs, behaviour models or scenario files,
    and exits 0 (the folder given is the root, so journeys in subfolders use the catalogs above
    them)."""
    code, out, _ = run(capsys, "check", str(EXAMPLES))
    dsl = list(EXAMPLES.rglob("*.journey"))
    journeys = len(dsl) + sum(p.with_suffix(".yaml").exists() for p in dsl)
    assert journeys >= 4
    assert code == 0
    assert f"checked {journeys} journeys: 0 errors, 0 warnings" in out


def test_check_error_exits_1_with_caret_and_hint(
    capsys: pytest.CaptureFixture[str], broken: Path
) -> None:
    """An error gives exit 1 and `file:line:col: error[CODE]` with a caret and a did-you-mean."""
    code, out, _ = run(capsys, "check", str(broken))
    assert code == 1
    assert f"{broken}:6:12: error[JD205]: undefined template 'welcome_activaton_guide'" in out
    assert "^^^^^^^^^^^^^^^^^^^^^^^" in out
    assert "did you mean 'welcome_activation_guide'?" in out


def test_check_missing_path_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    """A path that does not exist exits 2 (usage), not 1 (journey error)."""
    code, _, err = run(capsys, "check", "no/such/file.journey")
    assert code == 2
    assert "no such file" in err


def test_bad_flag_is_a_usage_error() -> None:
    """argparse errors exit 2."""
    with pytest.raises(SystemExit) as exc:
        main(["check", "--format", "xml", str(EXAMPLES)])
    assert exc.value.code == 2


def test_check_json_format(capsys: pytest.CaptureFixture[str], broken: Path) -> None:
    """`--format json` gives machine-readable diagnostics with code, line and column."""
    code, out, _ = run(capsys, "check", "--format", "json", str(broken))
    payload = json.loads(out)
    assert code == 1
    assert payload["ok"] is False
    assert payload["errors"] == 1
    (d,) = payload["diagnostics"]
    assert (d["code"], d["line"], d["column"], d["severity"]) == ("JD205", 6, 12, "error")


def test_check_github_format(capsys: pytest.CaptureFixture[str], broken: Path) -> None:
    """`--format github` emits workflow commands that annotate the pull request."""
    _, out, _ = run(capsys, "check", "--format", "github", str(broken))
    assert out.startswith(f"::error file={broken},line=6,col=12,")
    assert "title=JD205::" in out


def test_check_stats_reports_message_budget(capsys: pytest.CaptureFixture[str]) -> None:
    """`--stats` reports the worst-case messages per channel computed from the graph."""
    path = EXAMPLES / "onboarding_new_cardholder.journey"
    code, out, _ = run(capsys, "check", "--stats", "--format", "json", str(path))
    assert code == 0
    stats = json.loads(out)["files"][0]["stats"]
    assert stats["message_budget"] == {"email": 10, "push": 7, "sms": 9, "zns": 9, "total": 13}


@pytest.mark.parametrize("name", JOURNEYS)
def test_graph_json_identical_for_both_spellings(
    capsys: pytest.CaptureFixture[str], name: str
) -> None:
    """The YAML and DSL spellings of an example give byte-identical `graph --format json`."""
    _, dsl, _ = run(capsys, "graph", str(EXAMPLES / f"{name}.journey"), "--format", "json")
    _, yml, _ = run(capsys, "graph", str(EXAMPLES / f"{name}.yaml"), "--format", "json")
    assert dsl == yml
    graph = json.loads(dsl)
    assert "span" not in dsl
    assert "examples/" not in dsl
    assert graph["journey"] == name


@pytest.mark.parametrize(("fmt", "marker"), [("mermaid", "flowchart TD"), ("dot", "digraph")])
def test_graph_text_formats(capsys: pytest.CaptureFixture[str], fmt: str, marker: str) -> None:
    """Mermaid and dot renderings start with their header and draw every node."""
    path = EXAMPLES / "dormant_reactivation.journey"
    code, out, _ = run(capsys, "graph", str(path), "--format", fmt)
    assert code == 0
    assert out.startswith(marker)
    assert "ticket_telesales" in out


def test_a_wait_without_a_timeout_has_no_timeout_edge_in_any_graph(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """`graph` (Mermaid and DOT) and the report's SVG draw the same edges: a `wait for` with
    `within` has a timeout edge, one without a timeout has none (it never times out)."""
    from journeydsl.compiler import compile_file
    from journeydsl.simulate.svg import graph_edges

    path = tmp_path / "waits.journey"
    path.write_text(
        f"journey waits version 1\n{USES}outcomes done\nentry on card_issued\n"
        "wait for card_activated within 3d\nwait for app_installed\nexit done\n",
        encoding="utf-8",
    )
    example_catalogs_in(tmp_path)
    code, mermaid, _ = run(capsys, "graph", str(path), "--format", "mermaid")
    assert code == 0
    code, dot, _ = run(capsys, "graph", str(path), "--format", "dot")
    assert code == 0
    assert mermaid.count("|timeout|") == 1
    assert dot.count('[label="timeout"]') == 1
    journey = compile_file(path).journey
    assert journey is not None
    _, edges, _ = graph_edges(journey)
    assert [e.label for e in edges].count("timeout") == 1


def test_graph_of_broken_journey_exits_1(capsys: pytest.CaptureFixture[str], broken: Path) -> None:
    """`graph` refuses a journey with errors and prints the diagnostics on stderr."""
    code, out, err = run(capsys, "graph", str(broken))
    assert code == 1
    assert out == ""
    assert "JD205" in err


@pytest.mark.parametrize("name", JOURNEYS)
def test_fmt_converts_both_ways_preserving_the_graph(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, name: str
) -> None:
    """`fmt` DSL → YAML → DSL keeps the compiled graph identical."""
    src = EXAMPLES / f"{name}.journey"
    as_yaml = tmp_path / f"{name}.yaml"
    back = tmp_path / "back" / f"{name}.journey"
    back.parent.mkdir()
    for catalog in ("events.yaml", "templates.yaml"):
        (tmp_path / catalog).write_text((EXAMPLES / catalog).read_text(encoding="utf-8"))
    shutil.copy(src, tmp_path / src.name)
    src = tmp_path / src.name
    assert main(["fmt", str(src), "--to", "yaml", "-o", str(as_yaml)]) == 0
    # Written one folder down, the journey names its catalogs one folder up.
    assert main(["fmt", str(as_yaml), "--to", "dsl", "-o", str(back)]) == 0
    assert 'uses events "../events.yaml"' in back.read_text(encoding="utf-8")
    capsys.readouterr()
    graphs = []
    for path in (src, as_yaml, back):
        code, out, err = run(
            capsys, "graph", str(path), "--format", "json", "--root", str(tmp_path)
        )
        assert code == 0, err
        graphs.append(out)
    assert graphs[0] == graphs[1] == graphs[2]


def test_schema_is_json_schema(capsys: pytest.CaptureFixture[str]) -> None:
    """`schema` prints a JSON Schema document describing the YAML form."""
    code, out, _ = run(capsys, "schema")
    schema = json.loads(out)
    assert code == 0
    assert schema["$schema"].startswith("https://json-schema.org/")
    assert "steps" in json.dumps(schema)


def test_console_script_runs_in_a_subprocess() -> None:
    """`python -m journeydsl check` works as a real process with the documented exit code."""
    proc = subprocess.run(
        [sys.executable, "-m", "journeydsl", "check", "--root", str(EXAMPLES), str(EXAMPLES)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_a_folder_given_to_check_is_the_root_of_its_journeys_but_a_file_is_not(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A journey in a subfolder reaching `../events.yaml` checks clean when its parent folder is
    given, and is refused (JD113) when given alone without --root."""
    variant = next((EXAMPLES / "variants").glob("*.journey"))
    assert run(capsys, "check", str(EXAMPLES / "variants"))[0] == 1
    code, out, _ = run(capsys, "check", str(variant))
    assert code == 1
    assert "JD113" in out
    assert run(capsys, "check", "--root", str(EXAMPLES), str(variant))[0] == 0


SAME = f"""\
journey same
{USES}entry on card_issued
tag {{tag}}
"""


def test_check_reports_a_journey_defined_differently_in_two_files(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """`check` gives JD106 at the second file's journey name, naming the first, as `run` refuses
    the two; the same journey in its other spelling (a.yaml) is no conflict."""
    example_catalogs_in(tmp_path)
    a, b = tmp_path / "a.journey", tmp_path / "b.journey"
    a.write_text(SAME.format(tag="a"), encoding="utf-8")
    b.write_text(SAME.format(tag="b"), encoding="utf-8")
    assert run(capsys, "fmt", "--to", "yaml", "-o", str(tmp_path / "a.yaml"), str(a))[0] == 0
    code, out, _ = run(capsys, "check", "--format", "json", str(tmp_path))
    assert code == 1
    payload = json.loads(out)
    (d,) = payload["diagnostics"]
    assert (d["code"], d["file"], d["line"], d["column"]) == ("JD106", str(b), 1, 9)
    assert d["message"] == f"journey same version 1 is also defined, differently, in {a}"
    assert [(Path(f["file"]).name, f["ok"]) for f in payload["files"]] == [
        ("a.journey", True),
        ("a.yaml", True),
        ("b.journey", False),
    ]
    events = tmp_path / "events.jsonl"
    events.write_text("", encoding="utf-8")
    argv = ["run", str(a), str(b), "--db", str(tmp_path / "s.db"), "--events", str(events)]
    code, _, err = run(capsys, *argv, "--actions", str(tmp_path / "actions.jsonl"))
    assert code == 1
    assert f"{b}: error: {d['message']}; give one of them a new version" in err


def test_check_github_format_escapes_the_properties(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A file named `a,b:c.journey` is `file=a%2Cb%3Ac.journey`: `,` and `:` would end the value."""
    path = tmp_path / "a,b:c%.journey"
    path.write_text(BROKEN, encoding="utf-8")
    example_catalogs_in(tmp_path)
    _, out, _ = run(capsys, "check", "--format", "github", str(path))
    escaped = str(path).replace("%", "%25").replace(":", "%3A").replace(",", "%2C")
    assert out.startswith(f"::error file={escaped},line=6,col=12,")
    assert "a,b:c" not in out.split("::")[1]


def test_github_commands_escape_properties_and_messages_as_github_reads_them() -> None:
    """Properties escape % CR LF : and ,; the message only % CR LF (its ':' and ',' stay)."""
    from journeydsl.diagnostics import Diagnostics, Span, render_github

    diags = Diagnostics()
    diags.error("JD105", "100%: a,\nb\r", Span("x,y:z%\n.journey", 1, 2, 1, 3), "h: i")
    (line,) = render_github(diags.items).splitlines()
    assert line == (
        "::error file=x%2Cy%3Az%25%0A.journey,line=1,col=2,endLine=1,endColumn=3,title=JD105"
        "::100%25: a,%0Ab%0D (h: i)"
    )


@pytest.mark.parametrize("command", ["check", "run", "simulate"])
def test_a_policy_file_that_is_a_folder_is_a_usage_error_saying_so(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, command: str
) -> None:
    """`check`, `run` and `simulate` given `--policies` naming a folder stop with exit 2 and one
    line saying it is a folder (not "no such policy file"); a missing one still says that."""
    journey = str(EXAMPLES / "onboarding_new_cardholder.journey")
    events = tmp_path / "events.jsonl"
    events.write_text("", encoding="utf-8")
    more = {
        "check": [],
        "run": ["--events", str(events), "--db", str(tmp_path / "s.db"), "--actions",
                str(tmp_path / "a.jsonl")],
        "simulate": ["--events", str(events)],
    }[command]  # fmt: skip
    code, _, err = run(capsys, command, journey, "--policies", str(tmp_path), *more)
    assert code == 2
    assert f"{tmp_path}: is a folder, not a file" in err
    assert "Traceback" not in err
    missing = tmp_path / "nope.yaml"
    code, _, err = run(capsys, command, journey, "--policies", str(missing), *more)
    assert code == 2
    assert f"{missing}: no such policy file" in err


@pytest.mark.parametrize("command", ["run", "simulate"])
def test_an_input_file_that_is_a_folder_or_unreadable_is_a_usage_error_saying_so(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    command: str,
) -> None:
    """`run` and `simulate` given an events or profiles path that is a folder, or a file they
    may not read, stop with exit 2 and one line saying which and why (no traceback, no "no such
    file" for a folder that exists)."""
    journey = str(EXAMPLES / "onboarding_new_cardholder.journey")
    events = tmp_path / "events.jsonl"
    events.write_text("", encoding="utf-8")
    locked = tmp_path / "profiles.jsonl"
    locked.write_text("", encoding="utf-8")
    opened = Path.open

    def open_(self: Path, *args: object, **kwargs: object) -> object:
        if self.name == locked.name:
            raise PermissionError(13, "Permission denied", str(self))
        return opened(self, *args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(Path, "open", open_)
    more = ["--db", str(tmp_path / "s.db"), "--actions", str(tmp_path / "a.jsonl")]
    extra = more if command == "run" else []
    code, _, err = run(capsys, command, journey, "--events", str(tmp_path), *extra)
    assert code == 2
    assert f"{tmp_path}: is a folder, not a file" in err
    code, _, err = run(
        capsys, command, journey, "--events", str(events), "--profiles", str(locked), *extra
    )
    assert code == 2
    assert f"{locked}: cannot be read: Permission denied" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("suffix", [".journey", ".yaml"])
def test_fmt_check_takes_a_canonical_file_saved_with_a_bom_and_crlf_as_canonical(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, suffix: str
) -> None:
    """A canonical journey saved on Windows ("UTF-8 with BOM", CRLF line ends) passes `fmt
    --check`: neither is layout, and a pre-commit hook must not fail every such file."""
    example_catalogs_in(tmp_path)
    source = EXAMPLES / f"onboarding_new_cardholder{suffix}"
    to = "yaml" if suffix == ".yaml" else "dsl"
    canonical = tmp_path / f"canonical{suffix}"
    assert main(["fmt", str(source), "--to", to, "-o", str(canonical)]) == 0
    windows = tmp_path / f"windows{suffix}"
    text = canonical.read_text(encoding="utf-8")
    windows.write_bytes(b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode("utf-8"))
    code, out, _ = run(capsys, "fmt", "--check", str(windows))
    assert (code, out) == (0, "fmt --check: 1 of 1 file canonical\n")


@pytest.mark.parametrize("db", ["", ":memory:", "FOLDER"])
@pytest.mark.parametrize(
    "command",
    [
        ["run", str(EXAMPLES / "onboarding_new_cardholder.journey")],
        ["status"],
        ["quarantine", "list"],
        ["pause", "onboarding_new_cardholder"],
        ["db", "migrate"],
    ],
)
def test_a_db_that_keeps_nothing_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str], db: str
) -> None:
    """An empty --db (an unset shell variable) or :memory: is refused with exit 2 before
    anything runs, instead of a run on a temporary database that loses every waiting instance
    and pending effect when it ends (and exits 0); so is a folder, named as one."""
    db = str(tmp_path) if db == "FOLDER" else db
    events = tmp_path / "events.jsonl"
    events.write_text(
        json.dumps(
            {
                "customer_id": "c-001",
                "type": "card_issued",
                "at": "2026-01-05T10:00:00+07:00",
                "data": {"card_id": "k", "product": "gold"},
            }
        )
        + "\n"
    )
    actions = tmp_path / "actions.jsonl"
    extra = ["--events", str(events), "--actions", str(actions)] if command[0] == "run" else []
    assert main([*command, "--db", db, *extra]) == 2
    err = capsys.readouterr().err
    assert err.startswith("journeydsl: error: --db ")
    assert "name the state file (a path) or a PostgreSQL database" in err
    assert not actions.exists()


@pytest.mark.parametrize("kind", ["folder", "device", "fifo"])
def test_an_actions_file_that_is_not_a_regular_file_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    """--actions naming a folder, a device (/dev/null forgets what is written) or a FIFO (which
    blocks the run) is refused with exit 2 before the state file is made, instead of a run
    that stops with exit 1 after touching it, forgets its actions, or hangs."""
    import os

    if kind == "folder":
        actions = tmp_path / "out"
        actions.mkdir()
    elif kind == "device":
        actions = Path(os.devnull)
    else:
        actions = tmp_path / "fifo"
        os.mkfifo(actions)
    events = tmp_path / "events.jsonl"
    events.write_text("")
    db = tmp_path / "state.db"
    argv = ["run", str(EXAMPLES / "onboarding_new_cardholder.journey"), "--db", str(db)]
    assert main([*argv, "--events", str(events), "--actions", str(actions)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"journeydsl: error: --actions {actions}: is ")
    assert not db.exists()
