"""The text rendering of diagnostics: the excerpt under a diagnostic is the line it names, with
the caret under the span as a terminal shows it, for any text a journey may hold."""

from __future__ import annotations

import unicodedata

from journeydsl.compiler import compile_source
from journeydsl.diagnostics import Diagnostic, Severity, Span, render_text


def _shown(file: str, text: str, line: int, column: int, end: int) -> list[str]:
    """The excerpt lines ``render_text`` writes under an error at ``line:column`` to ``end``."""
    d = Diagnostic("JD205", Severity.ERROR, "x", Span(file, line, column, line, end))
    return render_text([d], {file: text}).splitlines()[1:]


def test_the_excerpt_is_the_line_the_parser_counted() -> None:
    """A DSL file whose string holds a form feed or a U+2028 (text pasted from a document)
    shows the line the diagnostic names, not one two lines above (``str.splitlines`` breaks at
    those too; the DSL's parser does not)."""
    text = (
        'journey j\ntitle "a\x0cb\u2028c"\noutcomes done\nentry on e\n'
        "sned email welcome transactional\n"
    )
    result = compile_source(text, "j.journey")
    error = next(d for d in result.diagnostics if d.code == "JD102")
    assert error.span.line == 5
    excerpt = render_text([error], result.sources).splitlines()[1]
    assert excerpt == "   5 | sned email welcome transactional"


def test_the_caret_is_under_the_span_after_wide_or_combining_characters() -> None:
    """After Chinese characters (two cells each) or Vietnamese written with combining tone marks
    (none each), the caret still stands under the span's text."""
    for before in ('"新卡优惠 " + ', '"' + unicodedata.normalize("NFD", "Chào mừng") + '" + '):
        line = "x: " + before + "triger.card_id"
        column = line.index("triger") + 1
        source, caret = _shown("j.journey", line + "\n", 1, column, column + 6)
        cells = source.index("triger") + sum(
            1 if unicodedata.east_asian_width(c) == "W" else -1 if unicodedata.combining(c) else 0
            for c in before
        )
        assert caret.index("^") == cells
        assert caret.count("^") == 6


def test_a_very_long_line_is_cut_around_the_span() -> None:
    """A generated line of 100,000 characters is shown as a window of it around the span,
    marked with ellipses, with the caret under the span: not the whole line twice."""
    line = "a" * 50_000 + " sned " + "b" * 50_000
    column = line.index("sned") + 1
    source, caret = _shown("j.journey", line + "\n", 1, column, column + 4)
    assert len(source) < 200
    assert source.count("…") == 2
    assert source[caret.index("^") : caret.index("^") + 4] == "sned"
    assert caret.count("^") == 4
