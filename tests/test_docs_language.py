"""The language reference (docs/language.md) is run: every example pair compiles, cleanly and to
the same graph in both spellings, and the checks table covers every diagnostic code.

An example pair is a ```journey block immediately followed by a ```yaml block (its twin). Catalog
excerpts are fenced as ```yaml events.yaml / ```yaml templates.yaml and are loaded as catalogs.
```text blocks are for reading only and are not run.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from journeydsl.catalog import Catalog, load_events, load_templates
from journeydsl.compiler import CompileResult, compile_source
from journeydsl.diagnostics import CODES, Diagnostics, Severity, Span

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "language.md"
EXAMPLES = ROOT / "examples"
#: The reference teaches every construct by example; far fewer pairs means examples went missing.
MIN_PAIRS = 25

_FENCE = re.compile(r"^(`{3,})(.*)$")
_HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$")


@dataclass(frozen=True, slots=True)
class Block:
    """One fenced block of the doc: its info string, its text, the 1-based lines of its opening
    and closing fences, and the nearest heading above it."""

    info: str
    text: str
    line: int
    end: int
    heading: str


def _blocks(doc: str) -> list[Block]:
    """Every fenced block, in order, with the heading it sits under."""
    out: list[Block] = []
    heading = "(top)"
    lines = doc.splitlines()
    i = 0
    while i < len(lines):
        fence = _FENCE.match(lines[i])
        if fence is None:
            if m := _HEADING.match(lines[i]):
                heading = m.group(1)
            i += 1
            continue
        ticks, info = fence.group(1), fence.group(2).strip()
        start = i
        body: list[str] = []
        i += 1
        while i < len(lines) and lines[i].strip() != ticks:
            body.append(lines[i])
            i += 1
        out.append(Block(info, "\n".join(body) + "\n", start + 1, i + 1, heading))
        i += 1
    return out


def _between(doc_lines: list[str], a: Block, b: Block) -> list[str]:
    """The non-blank lines between the end of block ``a`` and the start of block ``b``."""
    return [s for s in doc_lines[a.end : b.line - 1] if s.strip()]


def _pairs(doc: str) -> tuple[list[tuple[Block, Block]], list[str]]:
    """The (journey, yaml) example pairs, and a message for each block that breaks the pairing."""
    blocks = _blocks(doc)
    lines = doc.splitlines()
    pairs: list[tuple[Block, Block]] = []
    problems: list[str] = []
    for i, block in enumerate(blocks):
        where = f"docs/language.md:{block.line}"
        if block.info == "journey":
            twin = blocks[i + 1] if i + 1 < len(blocks) else None
            if twin is None or twin.info != "yaml":
                problems.append(f"{where}: a ```journey block must be followed by its ```yaml twin")
                continue
            gap = _between(lines, block, twin)
            if gap:
                problems.append(
                    f"{where}: nothing may stand between a ```journey block and its ```yaml "
                    f"twin, found {gap[0]!r}"
                )
                continue
            pairs.append((block, twin))
        elif block.info == "yaml" and (i == 0 or blocks[i - 1].info != "journey"):
            problems.append(
                f"{where}: a ```yaml block must be the twin of the ```journey block before it "
                f"(fence catalog excerpts as ```yaml events.yaml)"
            )
    return pairs, problems


def _ids(pairs: list[tuple[Block, Block]]) -> list[str]:
    """A readable, unique test id per pair: the nearest heading (numbered when repeated)."""
    seen: dict[str, int] = {}
    out = []
    for journey, _ in pairs:
        name = journey.heading
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name} ({seen[name]})")
    return out


DOC_TEXT = DOC.read_text(encoding="utf-8")
PAIRS, PAIRING_PROBLEMS = _pairs(DOC_TEXT)
CATALOG_INFOS = ("yaml events.yaml", "yaml templates.yaml")
CATALOG_BLOCKS = [b for b in _blocks(DOC_TEXT) if b.info in CATALOG_INFOS]


def _compile(text: str, file: str) -> CompileResult:
    """Compile an example with its catalogs resolved against examples/."""
    return compile_source(text, file=file, base_dir=EXAMPLES)


def _problems(result: CompileResult) -> list[str]:
    """The errors and warnings of a compile, rendered one per line for a readable failure."""
    return [
        f"{d.span}: {d.severity}[{d.code}]: {d.message}"
        for d in result.diagnostics
        if d.severity in (Severity.ERROR, Severity.WARNING)
    ]


def test_doc_has_enough_example_pairs() -> None:
    """The reference holds at least MIN_PAIRS journey/yaml example pairs."""
    assert len(PAIRS) >= MIN_PAIRS


@pytest.mark.parametrize(("journey", "yaml"), PAIRS, ids=_ids(PAIRS))
def test_example_pair_compiles_cleanly_and_identically(journey: Block, yaml: Block) -> None:
    """Both spellings of an example compile with no error or warning, to the same graph."""
    dsl = _compile(journey.text, f"<doc:{journey.line}>.journey")
    yml = _compile(yaml.text, f"<doc:{yaml.line}>.yaml")
    assert _problems(dsl) == []
    assert _problems(yml) == []
    assert dsl.journey is not None
    assert yml.journey is not None
    assert dsl.journey.to_json() == yml.journey.to_json()


@pytest.mark.parametrize("block", CATALOG_BLOCKS, ids=[b.info for b in CATALOG_BLOCKS])
def test_catalog_excerpt_loads(block: Block, tmp_path: Path) -> None:
    """Every catalog excerpt in the reference is a catalog that loads without a problem."""
    name = block.info.split()[1]
    path = tmp_path / name
    path.write_text(block.text, encoding="utf-8")
    catalog, diags = Catalog(), Diagnostics()
    load = load_events if name == "events.yaml" else load_templates
    load(path, catalog, diags, Span.point(name, 1, 1), {})
    assert [d.message for d in diags.items] == []
    assert catalog.events or catalog.templates


def test_checks_table_lists_every_code() -> None:
    """The checks table has one row for each code in diagnostics.CODES, and no other."""
    rows = re.findall(r"^\|\s*`?(JD\d{3})`?\s*\|", DOC_TEXT, flags=re.MULTILINE)
    assert sorted(rows) == sorted(CODES)


def test_example_blocks_come_in_pairs() -> None:
    """Every ```journey block is immediately followed by its ```yaml twin, and vice versa."""
    assert PAIRING_PROBLEMS == []


def test_pairing_rejects_orphaned_and_separated_blocks() -> None:
    """The pairing rule itself reports a twin that is missing or separated by prose."""
    separated = "# h\n```journey\njourney j\n```\n\nprose\n\n```yaml\njourney: j\n```\n"
    pairs, problems = _pairs(separated)
    assert pairs == []
    assert any("nothing may stand between" in p for p in problems)
    _, problems = _pairs("# h\n```journey\njourney j\n```\n")
    assert any("followed by its" in p for p in problems)
    _, problems = _pairs("# h\n```yaml\njourney: j\n```\n")
    assert any("must be the twin" in p for p in problems)
