"""``journeydsl simulate --format html``: a self-contained page, checked as text and, when Chromium
is installed, in headless Chromium (the funnel rendered, no script or console error)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path

import pytest

from journeydsl.cli import main
from journeydsl.simulate import html as html_report
from tests.simulate.conftest import BEHAVIOUR, EXAMPLES, ONBOARDING, Cli, onboarding_args

#: A small synthetic run: onboarding, 50 customers, seed 7.
SYNTHETIC = [
    "simulate",
    ONBOARDING,
    "--population",
    "50",
    "--behaviour",
    str(BEHAVIOUR / "onboarding.yaml"),
    "--seed",
    "7",
]

INSTALL_HINT = (
    "Chromium is not installed, so the browser tests of the HTML report cannot run; install it "
    "with `apt-get install -y chromium` (Debian; Ubuntu: chromium-browser) and run them again"
)


@dataclass
class Page:
    """What the tests read from an HTML document."""

    funnel: dict[str, tuple[str, str]] = field(default_factory=dict)  # node -> (data-count, cell)
    js_errors: str | None = None
    ready: str | None = None
    report_data: str = ""
    costs: list[str] = field(default_factory=list)
    total_cost: str = ""
    testids: set[str] = field(default_factory=set)
    #: The capacity section's rows: (limit, day's taken, day's capacity).
    capacity: list[tuple[str, str, str]] = field(default_factory=list)


class _Reader(HTMLParser):
    """Collects the funnel rows, channel costs, the error box, the readiness flag and the
    embedded data."""

    def __init__(self) -> None:
        super().__init__()
        self.page = Page()
        self._row: dict[str, str | None] = {}
        self._cells: list[str] = []
        self._capture: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        testid = a.get("data-testid")
        if testid:
            self.page.testids.add(testid)
        if testid == "capacity-day":
            limit, taken, most = a.get("data-limit"), a.get("data-taken"), a.get("data-capacity")
            self.page.capacity.append((limit or "", taken or "", most or ""))
        if tag == "html":
            self.page.ready = a.get("data-ready")
        elif tag == "tr":
            self._row, self._cells = a, []
        elif tag == "td":
            self._begin("total-cost" if testid == "total-cost" else "cell")
        elif testid == "js-errors":
            self._begin("js-errors")
        elif tag == "script" and a.get("id") == "report-data":
            self._begin("report-data")

    def _begin(self, what: str) -> None:
        self._capture, self._text = what, []

    def handle_data(self, data: str) -> None:
        if self._capture is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        text = "".join(self._text)
        if tag == "td" and self._capture in ("cell", "total-cost"):
            self._cells.append(text)
            if self._capture == "total-cost":
                self.page.total_cost = text
        elif tag == "pre" and self._capture == "js-errors":
            self.page.js_errors = text
        elif tag == "script" and self._capture == "report-data":
            self.page.report_data = text
        elif tag == "tr":
            testid = self._row.get("data-testid")
            if testid == "funnel-row":
                node = self._row.get("data-node") or ""
                self.page.funnel[node] = (self._row.get("data-count") or "", self._cells[1])
            elif testid == "channel-row" and len(self._cells) == 9:
                # channel, sent, suppressed, undelivered, failed x2, cost, two bars (synthetic)
                self.page.costs.append(self._cells[6])
            self._row = {}
        if tag in ("td", "pre", "script"):
            self._capture = None


def read_page(text: str) -> Page:
    """Parse an HTML document (or Chromium's DOM dump of it)."""
    reader = _Reader()
    reader.feed(text)
    reader.close()
    return reader.page


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, object]]:
    """The HTML report of the small synthetic run and its ``--format json`` document."""
    folder = tmp_path_factory.mktemp("html")
    page, doc = folder / "report.html", folder / "report.json"
    assert main([*SYNTHETIC, "--format", "html", "--output", str(page)]) == 0
    assert main([*SYNTHETIC, "--format", "json", "--output", str(doc)]) == 0
    return page, json.loads(doc.read_text(encoding="utf-8"))


# --------------------------------------------------------------------------- without a browser


def test_output_option_writes_one_html_file(cli: Cli, tmp_path: Path) -> None:
    """`--format html --output F` writes the page to F, prints nothing and exits 0."""
    target = tmp_path / "report.html"
    code, out, err = cli(*onboarding_args("--format", "html", "--output", str(target)))
    assert (code, out, err) == (0, "", "")
    text = target.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>\n")
    assert text.rstrip().endswith("</html>")
    page = read_page(text)
    assert {"report-header", "graph", "funnel", "outcomes", "messages"} <= page.testids
    assert {"suppression", "tickets", "funnel-row", "js-errors"} <= page.testids


def test_the_contact_policies_section_shows_the_policy_figures(tmp_path: Path) -> None:
    """With --policies the page has the text report's policy tables: per policy the messages
    deferred, dropped and rerouted, and per outcome the uplift against the global holdout, as
    in the JSON report; without --policies there is no such section."""
    policy = str(EXAMPLES / "policies.yaml")
    args = [*SYNTHETIC[:3], "200", *SYNTHETIC[4:], "--policies", policy]
    page_file, doc_file = tmp_path / "p.html", tmp_path / "p.json"
    assert main([*args, "--format", "html", "--output", str(page_file)]) == 0
    assert main([*args, "--format", "json", "--output", str(doc_file)]) == 0
    text = page_file.read_text(encoding="utf-8")
    figures = json.loads(doc_file.read_text(encoding="utf-8"))["policies"]
    assert {"policies", "policy-row", "uplift-row"} <= read_page(text).testids
    section = text[
        text.index('<section id="policies"') : text.index(
            "</section>", text.index('<section id="policies"')
        )
    ]
    for name, row in figures["messages"].items():
        cells = "".join(
            f'<td class="num">{row[k]:,}</td>' for k in ("deferred", "dropped", "rerouted")
        )
        assert f"<td>{name}</td>{cells}" in section
    assert section.count('data-testid="uplift-row"') == len(figures["holdout"]["outcomes"])
    assert "Uplift against the global holdout (5%)" in section
    plain = tmp_path / "plain.html"
    assert main([*SYNTHETIC, "--format", "html", "--output", str(plain)]) == 0
    assert "policies" not in read_page(plain.read_text(encoding="utf-8")).testids


def test_html_to_stdout_keeps_the_trace_on_stderr(cli: Cli) -> None:
    """Without --output the page goes to stdout, and --trace goes to stderr so it stays HTML."""
    code, out, err = cli(*onboarding_args("--format", "html", "--trace", "c-001"))
    assert code == 0
    assert out.startswith("<!DOCTYPE html>")
    assert out.rstrip().endswith("</html>")
    assert "timeline of c-001" in err
    assert "timeline of" not in out


def test_funnel_rows_show_the_funnel_counts(synthetic: tuple[Path, dict[str, object]]) -> None:
    """One funnel row per step, in graph order, with the count of the JSON report."""
    path, doc = synthetic
    page = read_page(path.read_text(encoding="utf-8"))
    funnel = doc["funnel"]
    assert isinstance(funnel, dict)
    expected = {node: (str(n), f"{n:,}") for node, n in funnel["nodes"].items()}
    assert page.funnel == expected
    assert list(page.funnel) == list(funnel["nodes"])


def test_embedded_data_is_the_aggregates_of_the_json_report(
    synthetic: tuple[Path, dict[str, object]], tmp_path: Path
) -> None:
    """By default the report-data script holds the --format json document without its
    per-customer actions and instances (and with the per-channel figures); with --detail it
    holds the whole document; `<` `>` `&` are escaped."""
    path, doc = synthetic
    text = path.read_text(encoding="utf-8")
    assert '<script type="application/json" id="report-data">' in text
    data = read_page(text).report_data
    embedded = json.loads(data)
    assert {k: v for k, v in doc.items() if k not in ("actions", "instances")} == {
        k: v for k, v in embedded.items() if k != "summary"
    }
    assert [r["channel"] for r in embedded["summary"]["channels"]]
    assert not re.search(r"[<>&]", data)
    detailed = tmp_path / "detail.html"
    assert main([*SYNTHETIC, "--format", "html", "--detail", "--output", str(detailed)]) == 0
    assert json.loads(read_page(detailed.read_text(encoding="utf-8")).report_data) == doc


def test_the_page_does_not_grow_with_the_customers(tmp_path: Path) -> None:
    """Without --detail the page embeds aggregates only: 16 times the customers make a page at
    most a few kilobytes larger (a longer tail of suppression reasons, wider numbers), not 16
    times larger; with --detail it grows with every customer."""
    sizes = {}
    for n in ("50", "800"):
        page = tmp_path / f"{n}.html"
        args = [*SYNTHETIC[:3], n, *SYNTHETIC[4:], "--format", "html", "--output", str(page)]
        assert main(args) == 0
        sizes[n] = page.stat().st_size
    assert sizes["800"] - sizes["50"] < 8_000, sizes
    detailed = tmp_path / "detail.html"
    args = [*SYNTHETIC, "--format", "html", "--detail", "--output", str(detailed)]
    assert main(args) == 0
    assert detailed.stat().st_size > sizes["50"] + 50 * 1_000


def test_costs_are_whole_vnd_with_thousands_separators(
    synthetic: tuple[Path, dict[str, object]],
) -> None:
    """Channel costs read like 26,600 and the total is their exact (Decimal) sum."""
    path, _ = synthetic
    page = read_page(path.read_text(encoding="utf-8"))
    assert page.costs, "no channel row with a cost"
    money = re.compile(r"\d{1,3}(,\d{3})*")
    assert all(money.fullmatch(c) for c in [*page.costs, page.total_cost])
    assert sum(Decimal(c.replace(",", "")) for c in page.costs) == Decimal(
        page.total_cost.replace(",", "")
    )
    assert any(len(c) > 3 for c in page.costs), "expected a cost of at least 1,000 VND"


def test_nothing_is_loaded_from_the_network(synthetic: tuple[Path, dict[str, object]]) -> None:
    """No http(s) URL, no src/href to a resource, and a CSP that forbids loading anything."""
    path, _ = synthetic
    text = path.read_text(encoding="utf-8")
    assert "http://" not in text
    assert "https://" not in text
    assert not re.search(r"\bsrc\s*=|<link\b|@import|url\((?!#)", text)
    assert re.findall(r'href="([^"]*)"', text) == [
        "#graph",
        "#funnel",
        "#outcomes",
        "#messages",
        "#suppression",
        "#tickets",
    ]
    assert "default-src 'none'" in text


def test_customer_controlled_text_is_escaped(cli: Cli, tmp_path: Path) -> None:
    """Markup in a customer id, in event data and in a file name is shown as text, never run."""
    evil = '</script><script>alert("x")</script><b onmouseover=alert(1)>'
    events = tmp_path / "events<img src=x onerror=alert(2)>.jsonl"
    line = {
        "customer_id": evil,
        "type": "card_issued",
        "at": "2026-01-05T10:00:00+07:00",
        "data": {"card_id": evil, "product": "gold"},
    }
    events.write_text(json.dumps(line) + "\n", encoding="utf-8")
    target = tmp_path / "report.html"
    code, _, err = cli(
        "simulate",
        ONBOARDING,
        "--events",
        str(events),
        "--default-consent",
        "--days",
        "3",
        "--format",
        "html",
        "--detail",
        "--output",
        str(target),
    )
    assert code == 0, err
    text = target.read_text(encoding="utf-8")
    for raw in (evil, "<script>alert", "<img src=x", "<b onmouseover"):
        assert raw not in text
    assert "events&lt;img src=x onerror=alert(2)&gt;.jsonl" in text
    data = json.loads(read_page(text).report_data)
    assert data["instances"][0]["customer_id"] == evil
    assert data["actions"][0]["params"]["card_id"] == evil


def test_same_run_gives_the_same_bytes(
    synthetic: tuple[Path, dict[str, object]], tmp_path: Path
) -> None:
    """Two runs of the same input write byte-identical pages (no clock, no randomness)."""
    path, _ = synthetic
    again = tmp_path / "again.html"
    assert main([*SYNTHETIC, "--format", "html", "--output", str(again)]) == 0
    assert again.read_bytes() == path.read_bytes()


# --------------------------------------------------------------------------- in Chromium

CONSOLE = re.compile(r":CONSOLE[(:]")


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.skip(INSTALL_HINT)
    return found


def open_in_chromium(page: Path, profile: Path) -> tuple[Page, list[str]]:
    """Load ``page`` in headless Chromium, let its scripts run, and return the DOM as read
    after them and the console messages Chromium logged."""
    command = [
        _chromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--enable-logging=stderr",
        "--v=0",
        "--virtual-time-budget=3000",
        "--dump-dom",
        page.resolve().as_uri(),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=90, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return read_page(done.stdout), [x for x in done.stderr.splitlines() if CONSOLE.search(x)]


def problems(page: Page, console: list[str]) -> list[str]:
    """Everything that says the page's scripts did not run cleanly (the page itself writes
    nothing to the console, so any console message counts)."""
    found = [f"console: {line}" for line in console]
    if page.js_errors is None:
        found.append("the #js-errors element is missing")
    elif page.js_errors.strip():
        found.append(f"#js-errors: {page.js_errors.strip()}")
    if page.ready != "1":
        found.append("the main script did not finish (no data-ready on <html>)")
    return found


@pytest.mark.browser
def test_chromium_renders_the_funnel_without_errors(
    synthetic: tuple[Path, dict[str, object]], tmp_path: Path
) -> None:
    """After its scripts ran, the page shows every funnel row with its count and no error."""
    path, doc = synthetic
    page, console = open_in_chromium(path, tmp_path / "profile")
    assert problems(page, console) == []
    funnel = doc["funnel"]
    assert isinstance(funnel, dict)
    assert page.funnel == {node: (str(n), f"{n:,}") for node, n in funnel["nodes"].items()}


@pytest.mark.browser
def test_chromium_check_catches_a_script_error(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A page whose script throws fails the check: on the console, in #js-errors, not ready."""
    broken = "\n  reportTestMissingFunction();" + html_report._MAIN_SCRIPT
    monkeypatch.setattr(html_report, "_MAIN_SCRIPT", broken)
    target = tmp_path / "broken.html"
    code, _, _ = cli(*onboarding_args("--format", "html", "--output", str(target)))
    assert code == 0
    page, console = open_in_chromium(target, tmp_path / "profile")
    found = problems(page, console)
    assert any("Uncaught" in p and "reportTestMissingFunction" in p for p in found), found
    assert any(p.startswith("#js-errors:") and "reportTestMissingFunction" in p for p in found)
    assert "the main script did not finish (no data-ready on <html>)" in found
