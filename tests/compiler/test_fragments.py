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


NUDGE = """fragment nudge(gap: duration) {
  wait gap
  if has(card_activated since entry) { break }
  send push first_spend_nudge marketing
}
"""


def test_a_break_in_a_fragment_included_in_a_repeat_is_accepted(folder: Path) -> None:
    """A `break` inside a fragment acts on the repeat around the include site: it takes no id
    of the site (it is no step of its own), so it is not reported as a labelled break."""
    (folder / "nudge.fragment").write_text(NUDGE)
    result = _compile(folder, "repeat max 3 {\n  include nudge(gap: 2d)\n}\nexit done\n")
    assert [d.code for d in result.diagnostics if d.severity == "error"] == []
    outside = _compile(folder, "include nudge(gap: 1d)\nexit done\n", "k.journey")
    errors = [d for d in outside.diagnostics if d.severity == "error"]
    assert [(d.code, d.message.split(" (in fragment")[0]) for d in errors] == [
        ("JD105", "`break` is only allowed inside a `repeat`")
    ]


def test_fragments_nested_past_the_limit_are_one_error_not_a_crash(folder: Path) -> None:
    """Twelve fragments, each including the next twice: one JD118 naming the chain (the
    message's chain used to raise ValueError, a traceback from `check`)."""
    for n in range(12):
        body = f"  include f{n + 1}()\n  include f{n + 1}()\n" if n < 11 else "  wait 1d\n"
        (folder / f"f{n}.fragment").write_text(f"fragment f{n}() {{\n{body}}}\n")
    result = _compile(folder, "include f0()\nexit done\n")
    errors = [(d.code, d.message.split(" (in fragment")[0]) for d in result.diagnostics]
    errors = [e for e in errors if e[0] != "JD506"]  # (the header's unused outcome)
    chain = " → ".join(f"f{n}" for n in range(11))
    assert errors == [("JD118", f"fragments nest more than 10 deep: {chain}")]


def test_includes_that_multiply_past_the_step_limit_are_refused(folder: Path) -> None:
    """Four levels of fragments including the next ten times (10,000 steps; six levels were a
    million, expanded for minutes) stop at 5,000 steps with one JD112."""
    for n in range(5):
        body = f"  include g{n + 1}()\n" * 10 if n < 4 else "  wait 1d\n"
        (folder / f"g{n}.fragment").write_text(f"fragment g{n}() {{\n{body}}}\n")
    result = _compile(folder, "include g0()\nexit done\n")
    errors = [(d.code, d.message.split(" (in fragment")[0]) for d in result.diagnostics]
    errors = [e for e in errors if e[0] != "JD506"]  # (the header's unused outcome)
    assert errors == [
        ("JD112", "with its fragments included, the journey has more than 5,000 steps")
    ]
