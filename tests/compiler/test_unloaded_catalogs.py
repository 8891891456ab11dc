"""A catalog that could not be loaded (refused, missing, not YAML, the wrong shape) is one error,
not a cascade: the "undefined event/attribute/template" diagnostics it would answer are folded
into one note (JD114) at its ``uses`` path, and every other diagnostic stays."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from journeydsl.cli import main
from journeydsl.compiler import CompileResult, compile_file
from journeydsl.diagnostics import Severity
from tests.catalogs import EXAMPLES, example_catalogs_in

ONBOARDING = "onboarding_new_cardholder.journey"
EVENTS_AT = (6, 13)  # `uses events "events.yaml"` in the onboarding example
TEMPLATES_AT = (7, 16)


def onboarding_in(folder: Path, *, events: str | None, templates: str | None) -> Path:
    """The onboarding example in ``folder``, with the example catalogs beside it except those
    given, written with the text given (``""`` leaves the file out)."""
    folder.mkdir(parents=True, exist_ok=True)
    example_catalogs_in(folder)
    for name, text in (("events.yaml", events), ("templates.yaml", templates)):
        if text == "":
            (folder / name).unlink()
        elif text is not None:
            (folder / name).write_text(text, encoding="utf-8")
    shutil.copyfile(EXAMPLES / ONBOARDING, folder / ONBOARDING)
    return folder / ONBOARDING


def summary(result: CompileResult) -> list[tuple[int, int, str, str]]:
    """(line, column, severity, code) of each diagnostic in the journey file itself."""
    return [
        (d.span.line, d.span.column, str(d.severity), d.code)
        for d in result.diagnostics
        if d.span.file == result.file
    ]


def test_a_missing_events_catalog_is_one_error_and_one_note(tmp_path: Path) -> None:
    """Without events.yaml the onboarding journey gives JD109 and a JD114 note at the `uses`
    path, not a JD201 or JD203 for each of its ten event and attribute names."""
    result = compile_file(onboarding_in(tmp_path, events="", templates=None))
    assert summary(result) == [(*EVENTS_AT, "error", "JD109"), (*EVENTS_AT, "info", "JD114")]
    note = result.diagnostics[-1]
    assert note.message == (
        "11 uses of events and profile attributes not checked: the events catalog "
        "'events.yaml' could not be loaded"
    )
    assert note.severity is Severity.INFO


def test_a_refused_catalog_folds_both_kinds(tmp_path: Path) -> None:
    """Both catalogs refused (JD113, outside the root) give two errors and two notes; the
    template uses are counted in their own note."""
    example_catalogs_in(tmp_path)
    folder = tmp_path / "journeys"
    folder.mkdir()
    text = (EXAMPLES / ONBOARDING).read_text(encoding="utf-8")
    path = folder / ONBOARDING
    path.write_text(
        text.replace('"events.yaml"', '"../events.yaml"').replace(
            '"templates.yaml"', '"../templates.yaml"'
        ),
        encoding="utf-8",
    )
    result = compile_file(path)
    assert summary(result) == [
        (6, 13, "error", "JD113"),
        (6, 13, "info", "JD114"),
        (7, 16, "error", "JD113"),
        (7, 16, "info", "JD114"),
    ]
    assert result.diagnostics[-1].message.startswith("11 uses of templates not checked")


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("events: {card_issued: [\n", "not valid YAML"),
        ("- just\n- a list\n", "is a mapping with 'events:'"),
        ("events: [card_issued, transaction]\n", "'events' is a mapping of event name: fields"),
    ],
    ids=["invalid_yaml", "not_a_mapping", "events_a_list"],
)
def test_a_catalog_that_does_not_load_is_folded(text: str, where: str, tmp_path: Path) -> None:
    """An events catalog that is not YAML, not a mapping, or whose `events` is a list is JD109
    in the catalog file, and the journey's names are one note, not a cascade."""
    result = compile_file(onboarding_in(tmp_path, events=text, templates=None))
    assert summary(result) == [(*EVENTS_AT, "info", "JD114")]
    (error,) = [d for d in result.diagnostics if d.severity is Severity.ERROR]
    assert (error.code, error.span.file) == ("JD109", str(tmp_path / "events.yaml"))
    assert where in error.message


def test_real_errors_are_kept(tmp_path: Path) -> None:
    """With the events catalog missing, an undefined template (its catalog loaded) and an
    undefined outcome are still reported."""
    path = onboarding_in(tmp_path, events="", templates=None)
    text = path.read_text(encoding="utf-8")
    assert "welcome_activation_guide" in text
    assert "exit not_activated" in text
    path.write_text(
        text.replace("welcome_activation_guide", "welcome_activation_guid", 1).replace(
            "exit not_activated", "exit not_activatd", 1
        ),
        encoding="utf-8",
    )
    codes = [code for _, _, _, code in summary(compile_file(path))]
    assert codes.count("JD205") == 1
    assert codes.count("JD207") == 1
    assert "JD201" not in codes
    assert "JD203" not in codes


def test_a_journey_without_uses_still_hears_about_each_name(tmp_path: Path) -> None:
    """No `uses events` at all is not a failed catalog: each event is JD201 with the hint to add
    the catalog, as before."""
    path = tmp_path / "j.journey"
    path.write_text("journey j\noutcomes done\nentry on card_issued\nexit done\n", "utf-8")
    (d,) = compile_file(path).diagnostics
    assert (d.code, d.hint) == ("JD201", 'add `uses events "events.yaml"`')


def test_check_prints_the_refusal_not_a_cascade(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`journeydsl check` on the onboarding example without its catalogs counts two errors and
    says nothing of undefined names."""
    path = onboarding_in(tmp_path, events="", templates="")
    assert main(["check", str(path)]) == 1
    out = capsys.readouterr().out
    assert "undefined" not in out
    assert 'add `uses events "events.yaml"`' not in out
    assert out.count("info[JD114]") == 2
    assert "checked 1 journey: 2 errors, 0 warnings — failed" in out
