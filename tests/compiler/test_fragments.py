"""Fragments: `include NAME(…)` expands a fragment file at compile time, each include site
checked on its own, with ids of its own; fmt keeps the include; recursion is refused."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from journeydsl.compiler import CompileResult, compile_file, parse_source
from journeydsl.syntax.printer import print_dsl, print_yaml

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
HEADER = """journey j version 1
uses events "events.yaml"
uses templates "templates.yaml"
outcomes activated, done
entry on card_issued
"""


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    for name in ("events.yaml", "templates.yaml", "remind_activation.fragment"):
        shutil.copy(EXAMPLES / name, tmp_path / name)
    return tmp_path


def _compile(folder: Path, steps: str, name: str = "j.journey") -> CompileResult:
    path = folder / name
    path.write_text(HEADER + "\n" + steps)
    return compile_file(path)


def _graph(result: CompileResult) -> dict[str, object]:
    assert result.journey is not None, [str(d) for d in result.diagnostics]
    graph: dict[str, object] = json.loads(json.dumps(result.journey.to_json(), default=str))
    return graph


def test_an_include_compiles_to_the_steps_written_in_place(folder: Path) -> None:
    """A journey that includes a fragment has the graph of the same steps written in place,
    with the ids of the include site: nothing of the include is left for the runtime."""
    included = _compile(folder, "include remind_activation(days: 2d, round: 1)\nexit done\n")
    site = "include_remind_activation"
    written = _compile(
        folder,
        f"{site}__wait_for_card_activated: wait for card_activated within 2d {{\n"
        f"  {site}__exit_activated: exit activated\n}}\n"
        f"{site}__push_activation_reminder: "
        "send push activation_reminder transactional { round: 1 }\nexit done\n",
        "k.journey",
    )
    assert _graph(included) == _graph(written)


def test_each_include_site_has_ids_of_its_own_that_other_sites_do_not_move(
    folder: Path,
) -> None:
    """Unlabelled sites are include_NAME, include_NAME_2; a labelled site's ids stay the same
    when another include is added before it."""
    two = "include remind_activation(days: 2d, round: 1)\n" * 2
    result = _compile(folder, two + "later: include remind_activation(days: 5d, round: 3)\n")
    assert result.journey is not None
    ids = list(result.journey.nodes)
    assert ids[:3] == [
        "include_remind_activation__wait_for_card_activated",
        "include_remind_activation__exit_activated",
        "include_remind_activation__push_activation_reminder",
    ]
    assert ids[3] == "include_remind_activation_2__wait_for_card_activated"
    assert ids[6:] == [
        "later__wait_for_card_activated",
        "later__exit_activated",
        "later__push_activation_reminder",
    ]
    fewer = _compile(folder, "later: include remind_activation(days: 5d, round: 3)\n", "k.journey")
    assert fewer.journey is not None
    assert list(fewer.journey.nodes) == ids[6:]


def test_a_mistake_inside_a_fragment_is_reported_per_include_site(folder: Path) -> None:
    """An unknown event and an undeclared outcome inside the fragment: reported at the
    fragment's own line once per include site, each message naming its site; the fragment's
    text is among the sources (for the caret)."""
    (folder / "bad.fragment").write_text(
        "fragment bad(days: duration) {\n  wait for card_activatd within days\n  exit finished\n}\n"
    )
    result = _compile(folder, "include bad(days: 1d)\nsecond: include bad(days: 2d)\nexit done\n")
    where = str(folder / "bad.fragment")
    found = sorted(
        (d.code, d.span.file, d.span.line, d.span.column, d.message.rsplit(":", 2)[-2])
        for d in result.diagnostics
        if d.code in ("JD201", "JD207")
    )
    assert found == [
        ("JD201", where, 2, 12, "7"),
        ("JD201", where, 2, 12, "8"),
        ("JD207", where, 3, 8, "7"),
        ("JD207", where, 3, 8, "8"),
    ]
    inside = [d for d in result.diagnostics if d.span.file == where]
    assert all("in fragment 'bad' included at" in d.message for d in inside)
    assert result.sources[where].startswith("fragment bad(")


def test_a_fragment_that_includes_itself_is_refused(folder: Path) -> None:
    """Directly or through another fragment: JD118 with the chain, and no endless expansion."""
    (folder / "a.fragment").write_text("fragment a() {\n  wait 1d\n  include b()\n}\n")
    (folder / "b.fragment").write_text("fragment b() {\n  include a()\n}\n")
    (folder / "c.fragment").write_text("fragment c() {\n  include c()\n}\n")
    result = _compile(folder, "include a()\ninclude c()\nexit done\n")
    messages = sorted(d.message.split(" (")[0] for d in result.diagnostics if d.code == "JD118")
    assert messages == [
        "fragment 'a' includes itself: a → b → a",
        "fragment 'c' includes itself: c → c",
    ]
    assert not result.ok


def test_fmt_keeps_the_include_in_both_spellings() -> None:
    """The printers write the include as it is, never the fragment's steps, and the text goes
    through YAML and back unchanged."""
    text = (EXAMPLES / "activation_reminders.journey").read_text()
    tree, _ = parse_source(text, "activation_reminders.journey")
    assert tree is not None
    dsl, yml = print_dsl(tree), print_yaml(tree)
    assert "second_reminder: include remind_activation(days: 3d, round: 2)" in dsl
    assert "include: remind_activation" in yml
    assert "wait" not in dsl
    assert "wait" not in yml
    again, _ = parse_source(yml, "activation_reminders.yaml")
    assert again is not None
    assert print_dsl(again) == dsl


def test_both_spellings_of_a_fragment_expand_alike(tmp_path: Path) -> None:
    """The YAML fragment file, alone in its folder, gives the graph the DSL one gives."""
    graphs = []
    for spelling in ("remind_activation.fragment", "remind_activation.fragment.yaml"):
        folder = tmp_path / spelling.replace(".", "_")
        folder.mkdir()
        for name in ("events.yaml", "templates.yaml", "activation_reminders.journey", spelling):
            shutil.copy(EXAMPLES / name, folder / name)
        graphs.append(_graph(compile_file(folder / "activation_reminders.journey")))
    assert graphs[0] == graphs[1]


def test_a_fragment_that_does_not_parse_is_reported_once(folder: Path) -> None:
    """A syntax error in the fragment file is reported at its line, once however many sites."""
    (folder / "broken.fragment").write_text("fragment broken() {\n  wiat 1d\n}\n")
    result = _compile(folder, "include broken()\ninclude broken()\nexit done\n")
    errors = [d for d in result.diagnostics if d.severity == "error"]
    assert [(d.code, Path(d.span.file).name, d.span.line) for d in errors] == [
        ("JD102", "broken.fragment", 2)
    ]
