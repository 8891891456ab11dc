"""docs/cli.md is run: each `console` block's commands print what the block shows (a `…` line
stands for lines left out); the settings, modeline, editor, pre-commit and workflow examples
name only keys, kinds, hooks and inputs that exist."""

from __future__ import annotations

import contextlib
import json
import re
import shlex
import tomllib
from pathlib import Path

import jsonschema
import pytest
import yaml

from journeydsl.cli import main
from journeydsl.cli.config import load_config
from journeydsl.cli.schemas import KINDS, json_schema

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "cli.md"
_FENCE = re.compile(r"^```(\S*)\n(.*?)^```", re.S | re.M)


def blocks(info: str) -> list[str]:
    """The texts of the doc's fenced blocks whose info string is ``info``."""
    return [text for kind, text in _FENCE.findall(DOC.read_text("utf-8")) if kind == info]


def _sessions() -> list[tuple[str, list[str]]]:
    """Each console command with the lines it is shown to print."""
    out: list[tuple[str, list[str]]] = []
    for text in blocks("console"):
        for line in text.splitlines():
            if line.startswith("$ "):
                out.append((line[2:], []))
            else:
                out[-1][1].append(line)
    return out


SESSIONS = _sessions()


def test_the_doc_runs_commands() -> None:
    """The page keeps its examples: rule, schema, check --format github, preview, a typo."""
    words = {shlex.split(command)[1] for command, _ in SESSIONS}
    assert {"rule", "schema", "check", "preview", "simulate"} <= words


@pytest.mark.parametrize(("command", "shown"), SESSIONS, ids=[c for c, _ in SESSIONS])
def test_console_example_prints_what_it_shows(
    command: str,
    shown: list[str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The command, run from the repository root, prints the lines shown (stdout, then stderr)."""
    monkeypatch.chdir(ROOT)
    argv = shlex.split(command)
    assert argv[0] == "journeydsl"
    with contextlib.suppress(SystemExit):  # a usage error exits, as from the shell
        main(argv[1:])
    captured = capsys.readouterr()
    printed = (captured.out + captured.err).rstrip("\n").splitlines()
    if "…" in shown:
        cut = shown.index("…")
        head, tail = shown[:cut], shown[cut + 1 :]
        assert printed[: len(head)] == head
        if tail:
            assert printed[len(printed) - len(tail) :] == tail
    else:
        assert printed == shown


def test_the_settings_example_is_read_as_documented(tmp_path: Path) -> None:
    """The [tool.journeydsl] example loads: its codes, and paths relative to its file."""
    (toml,) = blocks("toml")
    (tmp_path / "examples").mkdir()
    (tmp_path / "pyproject.toml").write_text(toml, encoding="utf-8")
    tomllib.loads(toml)
    config = load_config(tmp_path)
    assert config.ignore == ("JD506",)
    assert config.select == ("JD1", "JD2", "JD3", "JD4", "JD5")
    assert config.root == tmp_path / "examples"
    assert config.policies == tmp_path / "examples" / "policies.yaml"


def test_the_schema_loop_writes_every_kind() -> None:
    """The shell loop that writes the schemas names every kind there is."""
    (script,) = blocks("bash")
    kinds = re.search(r"for kind in ([a-z ]+);", script)
    assert kinds is not None
    assert kinds.group(1).split() == list(KINDS)


def test_the_modeline_example_validates() -> None:
    """The templates file with a modeline names a schema file of its kind and validates."""
    (example,) = [b for b in blocks("yaml") if "yaml-language-server" in b]
    first = example.splitlines()[0]
    assert first == "# yaml-language-server: $schema=../.schemas/templates.schema.json"
    jsonschema.validate(yaml.safe_load(example), json_schema("templates"))


def test_the_editor_settings_name_existing_kinds() -> None:
    """Each schema file the VS Code settings map is one `schema --kind` writes."""
    (settings,) = blocks("json")
    for name in json.loads(settings)["yaml.schemas"]:
        assert Path(name).name.removesuffix(".schema.json") in KINDS


def test_the_pre_commit_example_names_the_hooks() -> None:
    """The .pre-commit-config example uses the hook ids the hooks file declares."""
    (config,) = [b for b in blocks("yaml") if "repos:" in b]
    ids = {h["id"] for h in yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text("utf-8"))}
    used = {h["id"] for r in yaml.safe_load(config)["repos"] for h in r["hooks"]}
    assert used == ids


def test_the_workflow_example_gives_the_action_its_inputs() -> None:
    """The workflow example gives the Action only inputs it declares."""
    (workflow,) = [b for b in blocks("yaml") if "jobs:" in b]
    steps = yaml.safe_load(workflow)["jobs"]["journeys"]["steps"]
    (ours,) = [s for s in steps if "journeydsl" in s.get("uses", "")]
    inputs = yaml.safe_load((ROOT / "action.yml").read_text("utf-8"))["inputs"]
    assert set(ours["with"]) <= set(inputs)
