"""Golden fixtures: every journey in ``tests/fixtures/checks`` compiles to exactly the diagnostics
written in it.

A fixture ``NAME.journey`` / ``NAME.yaml`` is valid and must compile with no error and no warning.
An ``NAME__invalid[_N]`` fixture states the diagnostics it must give at its top, one per line::

    # expect: LINE:COL SEVERITY CODE [did you mean 'x'?]

The optional tail is the "did you mean" hint the diagnostic must carry. Info diagnostics are
ignored. Fixtures that document a compiler bug are listed in :data:`KNOWN_BUGS` and run as strict
xfails, so they start failing (and must be unlisted) the day the bug is fixed.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

from journeydsl.compiler import CompileResult, compile_file
from journeydsl.diagnostics import Severity

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "checks"
#: The fixtures use the example catalogs (``../../../examples/events.yaml``), so they are compiled
#: with the repository as their root folder.
REPO = FIXTURES.parents[2]
SPELLINGS = (".journey", ".yaml")

_EXPECT = re.compile(
    r"#\s*expect:\s*(?P<line>\d+):(?P<col>\d+)\s+(?P<severity>error|warning)\s+"
    r"(?P<code>JD\d{3})(?:\s+(?P<hint>did you mean '[^']+'\?))?\s*"
)

#: Fixtures whose expectations describe the *right* behaviour of a compiler that is wrong today.
KNOWN_BUGS: dict[str, str] = {}

#: Fixtures that get the right set of diagnostics, but some of them more than once.
KNOWN_DUPLICATES: dict[str, str] = {}

#: The codes each spelling must pin with a passing ``__invalid`` fixture.
COMMON_CODES = frozenset(
    {
        "JD102",
        "JD107",
        *(f"JD{n}" for n in range(201, 209)),
        "JD210",
        *(f"JD{n}" for n in range(302, 307)),
        "JD308",
        "JD309",
        "JD401",
        "JD402",
        "JD403",
        *(f"JD{n}" for n in range(501, 506)),
    }
)
REQUIRED_CODES: dict[str, frozenset[str]] = {
    ".journey": COMMON_CODES | {"JD101"},
    ".yaml": COMMON_CODES | {"JD100", "JD103"},
}

#: Codes for a misspelt name, which must suggest the close one.
NAME_CODES = frozenset({"JD102", *(f"JD{n}" for n in range(201, 208))})

Key = tuple[int, int, str, str]


@dataclass(frozen=True, slots=True)
class Expected:
    """One ``# expect:`` line of a fixture."""

    line: int
    column: int
    severity: str
    code: str
    hint: str | None

    @property
    def key(self) -> Key:
        """What is compared with the compiler's output."""
        return (self.line, self.column, self.severity, self.code)


def _fixtures(invalid: bool) -> list[Path]:
    return sorted(
        p
        for p in FIXTURES.iterdir()
        if p.suffix in SPELLINGS
        and ("__invalid" in p.stem) == invalid
        and not p.name.endswith(".fragment.yaml")  # (a fragment, which journeys include)
    )


VALID = _fixtures(invalid=False)
INVALID = _fixtures(invalid=True)
WORKING = [p for p in INVALID if p.name not in KNOWN_BUGS]


def _family(path: Path) -> str:
    return path.stem.split("__")[0]


def _params(paths: list[Path], known: dict[str, str]) -> list[object]:
    return [
        pytest.param(
            p,
            id=p.name,
            marks=[pytest.mark.xfail(strict=True, reason=known[p.name])] if p.name in known else [],
        )
        for p in paths
    ]


@cache
def expectations(path: Path) -> tuple[Expected, ...]:
    """The ``# expect:`` lines of ``path``; they must come before the first line of source."""
    out = []
    in_header = True
    for number, text in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        stripped = text.strip()
        if "expect:" in stripped:
            m = _EXPECT.fullmatch(stripped)
            assert m, f"{path.name}:{number}: malformed expectation {stripped!r}"
            assert in_header, f"{path.name}:{number}: expectations go at the top of the file"
            out.append(
                Expected(int(m["line"]), int(m["col"]), m["severity"], m["code"], m["hint"] or None)
            )
        elif stripped and not stripped.startswith("#"):
            in_header = False
    return tuple(out)


@cache
def compiled(path: Path) -> CompileResult:
    """The fixture compiled once per test session."""
    return compile_file(path, root=REPO)


def found(path: Path) -> list[Key]:
    """The (line, column, severity, code) of every error and warning, in the compiler's order."""
    return [
        (d.span.line, d.span.column, str(d.severity), d.code)
        for d in compiled(path).diagnostics
        if d.severity is not Severity.INFO
    ]


# --------------------------------------------------------------------------- the fixtures


@pytest.mark.parametrize("path", _params(VALID, KNOWN_BUGS))
def test_valid_fixture_compiles_clean(path: Path) -> None:
    """A valid fixture compiles to IR with no error and no warning."""
    assert not expectations(path), "a valid fixture expects nothing"
    assert found(path) == []
    assert compiled(path).journey is not None


@pytest.mark.parametrize("path", _params(INVALID, KNOWN_BUGS))
def test_invalid_fixture_reports_exactly_its_expectations(path: Path) -> None:
    """An invalid fixture reports exactly the set of (line, col, severity, code) written in it."""
    expected = {e.key for e in expectations(path)}
    assert expected, "an __invalid fixture must expect at least one diagnostic"
    assert set(found(path)) == expected
    assert compiled(path).ok == all(severity == "warning" for _, _, severity, _ in expected)


@pytest.mark.parametrize("path", _params(INVALID, {**KNOWN_BUGS, **KNOWN_DUPLICATES}))
def test_each_mistake_is_reported_once(path: Path) -> None:
    """No diagnostic is reported more often than the fixture lists it."""
    assert Counter(found(path)) == Counter(e.key for e in expectations(path))


@pytest.mark.parametrize("path", _params(WORKING, {}))
def test_misspelt_names_suggest_the_close_name(path: Path) -> None:
    """Each expected "did you mean" hint is given; a name far from any known one gets none."""
    hints: dict[Key, set[str | None]] = {}
    for d in compiled(path).diagnostics:
        key = (d.span.line, d.span.column, str(d.severity), d.code)
        hints.setdefault(key, set()).add(d.hint)
    for e in expectations(path):
        given = hints.get(e.key, set())
        if e.hint is not None:
            assert e.hint in given, (e, given)
        elif e.code in NAME_CODES:
            suggested = {h for h in given if h and h.startswith("did you mean")}
            assert not suggested, (e, suggested)


# --------------------------------------------------------------------------- coverage


def _covered(suffix: str) -> list[Expected]:
    return [e for p in WORKING if p.suffix == suffix for e in expectations(p)]


@pytest.mark.parametrize(
    ("code", "suffix"),
    [(code, suffix) for suffix in SPELLINGS for code in sorted(REQUIRED_CODES[suffix])],
)
def test_code_is_pinned_by_a_working_fixture(code: str, suffix: str) -> None:
    """Every required diagnostic code is expected by a passing __invalid fixture of the spelling."""
    assert code in {e.code for e in _covered(suffix)}


@pytest.mark.parametrize(
    ("code", "suffix"), [(code, suffix) for suffix in SPELLINGS for code in sorted(NAME_CODES)]
)
def test_name_code_has_a_did_you_mean_fixture(code: str, suffix: str) -> None:
    """Every misspelt-name code has at least one fixture that pins its "did you mean" hint."""
    assert any(e.code == code and e.hint for e in _covered(suffix))


def test_every_family_has_both_spellings_and_a_valid_twin() -> None:
    """Each family has a valid file and an __invalid file in both spellings (syntax: its own)."""
    families = {_family(p) for p in [*VALID, *INVALID]}
    for family in sorted(families):
        for suffix in SPELLINGS:
            assert (FIXTURES / f"{family}{suffix}") in VALID, (family, suffix)
            assert any(_family(p) == family and p.suffix == suffix for p in WORKING), (
                family,
                suffix,
            )


def test_known_bugs_name_existing_fixtures() -> None:
    """The bug and duplicate lists only name fixtures that exist, so none is silently dropped."""
    names = {p.name for p in INVALID}
    assert set(KNOWN_BUGS) <= names
    assert set(KNOWN_DUPLICATES) <= names
