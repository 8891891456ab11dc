"""Source spans and diagnostics: the currency every stage of the pipeline pays errors in.

Every stage *collects* problems as :class:`Diagnostic` values instead of raising, so a single
``journeydsl check`` run reports everything wrong with a file, sorted by position.
"""

from __future__ import annotations

import difflib
import enum
import json
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Final
from urllib.parse import quote

__all__ = [
    "CODES",
    "Diagnostic",
    "Diagnostics",
    "Severity",
    "Span",
    "did_you_mean",
    "render_github",
    "render_json",
    "render_sarif",
    "render_text",
    "uses_hint",
]


@dataclass(frozen=True, slots=True)
class Span:
    """A region of a source file. Lines and columns are numbered from 1; the end is exclusive."""

    file: str
    line: int
    column: int
    end_line: int
    end_column: int

    @classmethod
    def point(cls, file: str, line: int, column: int) -> Span:
        """A one-character span at ``line:column``."""
        return cls(file, line, column, line, column + 1)

    def shifted(self, lines: int, columns: int) -> Span:
        """This span moved by ``lines`` and, on its first line only, by ``columns``.

        Used to place a span computed inside an embedded string (an expression in a YAML scalar)
        at its real position in the file.
        """
        end_col = self.end_column + (columns if self.end_line == self.line else 0)
        return Span(
            self.file,
            self.line + lines,
            self.column + columns,
            self.end_line + lines,
            end_col,
        )

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


class Severity(enum.StrEnum):
    """How bad a diagnostic is. Only errors make ``check`` fail."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


#: Every diagnostic code with its one-line meaning. Codes are stable: tools and CI filters rely on
#: them, so a code is never reused for a different problem.
CODES: dict[str, str] = {
    # syntax and structure
    "JD100": "YAML syntax error",
    "JD101": "DSL syntax error",
    "JD102": "unknown step kind",
    "JD103": "unknown key",
    "JD104": "missing required key",
    "JD105": "value of the wrong shape",
    "JD106": "duplicate name",
    "JD107": "bad duration",
    "JD108": "bad time of day",
    "JD109": "catalog cannot be loaded",
    "JD110": "file cannot be read",
    "JD111": "expression syntax error",
    "JD112": "input too large or too deep",
    "JD113": "catalog file refused",
    "JD114": "names not checked: their catalog could not be loaded",
    "JD117": "bad date, timestamp, day name or schedule",
    "JD118": "fragment includes itself",
    # names
    "JD201": "undefined event",
    "JD202": "undefined event field",
    "JD203": "undefined profile attribute",
    "JD204": "undefined variable",
    "JD205": "undefined template",
    "JD206": "undefined channel",
    "JD207": "undefined outcome",
    "JD208": "variable may be read before it is set",
    "JD209": "unknown function",
    "JD210": "template not available on channel",
    "JD211": "fallback channel lacks the template",
    "JD212": "name not available here",
    "JD213": "undefined hand-off target",
    "JD214": "undefined fragment",
    "JD215": "undefined offer catalogue",
    "JD216": "undefined budget",
    # types
    "JD301": "type mismatch",
    "JD302": "currency mismatch",
    "JD303": "money used as a plain number",
    "JD304": "condition is not a bool",
    "JD305": "comparison of different types",
    "JD306": "value not in enum",
    "JD307": "category differs from the template's",
    "JD308": "value can pass a size limit",
    "JD309": "optional attribute read without a fallback",
    # templates and params
    "JD401": "missing template param",
    "JD402": "unknown template param",
    "JD403": "param of the wrong type",
    # graph
    "JD501": "unreachable step",
    "JD502": "loop without a wait",
    "JD503": "wait can wait forever",
    "JD504": "constant condition",
    "JD505": "split weights do not add up to 100",
    "JD506": "declared outcome never used",
    "JD507": "branch of a first-of wait, or handler of a during block, repeats an earlier one",
    "JD508": "hand-off cycle",
    # contact policies (`journeydsl check --policies FILE`)
    "JD601": "policy file cannot be loaded",
    "JD602": "message budget exceeds a frequency cap",
    "JD603": "marketing template lacks the required label",
    "JD604": "no fallback on a channel whose consent is commonly absent",
    "JD605": "marketing content sent through a transactional template",
    "JD606": "ticket waits for a queue without a capacity",
    "JD607": "messages at the entry rate exceed a daily throughput limit",
    "JD608": "ticket lacks the field its queue ranks by",
    "JD609": "entry rate of a journey that does not enter by a segment",
    "JD610": "policy file names a journey that is not checked",
    "JD611": "send windows and quiet hours never open together",
    # migrations (`journeydsl check --migrate MAPPING OLD NEW`)
    "JD701": "waiting step not mapped",
    "JD702": "mapping names an unknown step",
    "JD703": "mapped step does not wait the same way",
    "JD704": "variable not carried over by the mapping",
    "JD705": "mapping does not match the journeys",
    "JD706": "mapped step runs again effects its instances passed",
    # parallel (concurrent paths)
    "JD801": "variable set by two branches of a parallel block",
    "JD802": "branch of a parallel first block can never run",
    "JD803": "join of a parallel block can never complete",
    "JD804": "parallel block inside a parallel block",
    "JD805": "ticket with exits inside a parallel or during block",
}


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One problem found in a source file, with a stable ``code`` (see :data:`CODES`)."""

    code: str
    severity: Severity
    message: str
    span: Span
    hint: str | None = None

    def sort_key(self) -> tuple[str, int, int, str]:
        """Order by file, then position, then code."""
        return (self.span.file, self.span.line, self.span.column, self.code)

    def __str__(self) -> str:
        """``file:line:col: severity[CODE]: message`` (one line, as ``check`` starts it)."""
        return f"{self.span}: {self.severity}[{self.code}]: {self.message}"

    def to_json(self) -> dict[str, object]:
        """A plain-JSON view, stable for tools."""
        return {
            "file": self.span.file,
            "line": self.span.line,
            "column": self.span.column,
            "end_line": self.span.end_line,
            "end_column": self.span.end_column,
            "severity": str(self.severity),
            "code": self.code,
            "message": self.message,
            "hint": self.hint,
        }


@dataclass(slots=True)
class Diagnostics:
    """A collector that stages append to; never raises."""

    items: list[Diagnostic] = field(default_factory=list)

    def error(self, code: str, message: str, span: Span, hint: str | None = None) -> None:
        """Record an error."""
        self.items.append(Diagnostic(code, Severity.ERROR, message, span, hint))

    def warning(self, code: str, message: str, span: Span, hint: str | None = None) -> None:
        """Record a warning."""
        self.items.append(Diagnostic(code, Severity.WARNING, message, span, hint))

    def info(self, code: str, message: str, span: Span, hint: str | None = None) -> None:
        """Record an informational note."""
        self.items.append(Diagnostic(code, Severity.INFO, message, span, hint))

    def extend(self, other: Iterable[Diagnostic]) -> None:
        """Append diagnostics collected elsewhere."""
        self.items.extend(other)

    @property
    def has_errors(self) -> bool:
        """True when any diagnostic is an error."""
        return any(d.severity is Severity.ERROR for d in self.items)

    def sorted(self) -> list[Diagnostic]:
        """The diagnostics by position, without exact duplicates."""
        seen: set[Diagnostic] = set()
        out = []
        for d in sorted(self.items, key=Diagnostic.sort_key):
            if d not in seen:
                seen.add(d)
                out.append(d)
        return out

    def __len__(self) -> int:
        return len(self.items)


def uses_hint(kind: str, file: str) -> str:
    """The hint for a journey without a ``kind`` catalog (events, templates), in the spelling of
    ``file``: ``uses: {events: events.yaml}`` in YAML, ``uses events "events.yaml"`` in the DSL."""
    if file.endswith((".yaml", ".yml")):
        return f"add `uses: {{{kind}: {kind}.yaml}}`"
    return f'add `uses {kind} "{kind}.yaml"`'


def did_you_mean(name: str, candidates: Iterable[str]) -> str | None:
    """A "did you mean 'x'?" hint for a misspelt ``name``, or None when nothing is close."""
    matches = difflib.get_close_matches(name, sorted(set(candidates)), n=1, cutoff=0.6)
    return f"did you mean '{matches[0]}'?" if matches else None


#: The line breaks of each spelling, as its parser counts lines: the DSL's are ``\n`` only;
#: YAML's are also ``\r``, NEL and the Unicode line and paragraph separators.
_YAML_BREAKS: Final = re.compile("\r\n|[\r\n\x85\u2028\u2029]")
#: The most characters of a line an excerpt shows; a longer line is cut around the span.
_EXCERPT_WIDTH: Final = 120


def _lines(text: str, file: str) -> list[str]:
    """The lines of ``text`` numbered as the parser of ``file`` numbers them (not as
    ``str.splitlines``, which also breaks at a form feed or a U+2028 inside a string)."""
    if file.endswith((".yaml", ".yml")):
        return _YAML_BREAKS.split(text)
    return [line.removesuffix("\r") for line in text.split("\n")]


def _cells(text: str) -> int:
    """How many terminal cells ``text`` takes: a CJK character two, a combining mark (a
    Vietnamese tone written apart) none."""
    if text.isascii():
        return len(text)
    return sum(
        0 if unicodedata.combining(c) else 2 if unicodedata.east_asian_width(c) in "WF" else 1
        for c in text
    )


def _excerpt(d: Diagnostic, sources: dict[str, str]) -> list[str]:
    text = sources.get(d.span.file)
    if text is None:
        return []
    lines = _lines(text, d.span.file)
    if not 1 <= d.span.line <= len(lines):
        return []
    src = lines[d.span.line - 1].expandtabs(1)
    start = min(max(d.span.column, 1), len(src) + 1) - 1  # (from 0)
    if d.span.end_line == d.span.line and d.span.end_column > start + 1:
        end = min(d.span.end_column - 1, len(src))
    else:
        end = len(src)
    end = max(end, start + 1)
    if len(src) > _EXCERPT_WIDTH:  # a generated line of thousands of characters: cut it
        first = max(0, min(start - _EXCERPT_WIDTH // 3, len(src) - _EXCERPT_WIDTH))
        last = first + _EXCERPT_WIDTH
        head, tail = ("…" if first else ""), ("…" if last < len(src) else "")
        shown = head + src[first:last] + tail
        start, end = start - first + len(head), min(end, last) - first + len(head)
    else:
        shown = src
    gutter = f"{d.span.line:>4} | "
    caret = " " * _cells(shown[:start]) + "^" * max(1, _cells(shown[start:end]))
    return [gutter + shown, " " * (len(gutter) - 2) + "| " + caret]


def render_text(
    diagnostics: Sequence[Diagnostic], sources: dict[str, str], limit: int = 200
) -> str:
    """Compiler-style text: ``file:line:col: severity[CODE]: message``, the line and a caret.

    Long lists end in "... and N more" after ``limit`` entries.
    """
    out: list[str] = []
    for d in diagnostics[:limit]:
        out.append(f"{d.span}: {d.severity}[{d.code}]: {d.message}")
        out.extend(_excerpt(d, sources))
        if d.hint:
            out.append(f"     = hint: {d.hint}")
    if len(diagnostics) > limit:
        out.append(f"... and {len(diagnostics) - limit} more")
    return "\n".join(out)


def render_json(diagnostics: Sequence[Diagnostic]) -> str:
    """A JSON array of diagnostics (see :meth:`Diagnostic.to_json`)."""
    return json.dumps([d.to_json() for d in diagnostics], indent=2, ensure_ascii=False)


def _gh_escape(s: str) -> str:
    """A workflow command's message: ``%`` and line breaks escaped."""
    return s.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _gh_property(value: object) -> str:
    """A workflow command's property value: also ``:`` and ``,``, which would end it (a file
    named ``a,b:c.journey`` would otherwise be read as the file ``a``)."""
    return _gh_escape(str(value)).replace(":", "%3A").replace(",", "%2C")


def render_github(diagnostics: Sequence[Diagnostic]) -> str:
    """GitHub Actions workflow commands, which annotate the pull request's diff."""
    kinds = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}
    lines = []
    for d in diagnostics:
        msg = d.message + (f" ({d.hint})" if d.hint else "")
        s = d.span
        properties = {
            "file": s.file,
            "line": s.line,
            "col": s.column,
            "endLine": s.end_line,
            "endColumn": s.end_column,
            "title": d.code,
        }
        listed = ",".join(f"{name}={_gh_property(value)}" for name, value in properties.items())
        lines.append(f"::{kinds[d.severity]} {listed}::{_gh_escape(msg)}")
    return "\n".join(lines)


#: SARIF's levels for our severities.
_SARIF_LEVELS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}


def render_sarif(diagnostics: Sequence[Diagnostic], version: str) -> str:
    """A SARIF 2.1.0 log of one run, for code-scanning tools (GitHub code scanning, IDEs): every
    code used is a rule of the driver, every diagnostic a result with its region."""
    used = sorted({d.code for d in diagnostics})
    index = {code: i for i, code in enumerate(used)}
    rules = [
        {
            "id": code,
            "name": CODES.get(code, code),
            "shortDescription": {"text": CODES.get(code, code)},
            "help": {"text": f"journeydsl rule {code} explains it, with an example"},
        }
        for code in used
    ]
    results = []
    for d in diagnostics:
        message = d.message + (f" (hint: {d.hint})" if d.hint else "")
        results.append(
            {
                "ruleId": d.code,
                "ruleIndex": index[d.code],
                "level": _SARIF_LEVELS[d.severity],
                "message": {"text": message},
                "locations": [
                    {
                        "physicalLocation": {
                            "artifactLocation": {"uri": quote(d.span.file.replace("\\", "/"))},
                            "region": {
                                "startLine": d.span.line,
                                "startColumn": d.span.column,
                                "endLine": max(d.span.end_line, d.span.line),
                                "endColumn": max(d.span.end_column, 1),
                            },
                        }
                    }
                ],
            }
        )
    log = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "journeydsl",
                        "version": version,
                        "informationUri": "https://journeydsl.dev/",
                        "rules": rules,
                    }
                },
                "columnKind": "unicodeCodePoints",
                "results": results,
            }
        ],
    }
    return json.dumps(log, indent=2, ensure_ascii=False)
