"""The HTML report of ``journeydsl simulate --format html``: one self-contained file.

Everything is inline (CSS, SVG, two small scripts) and a Content-Security-Policy forbids loading
anything, so the file can be mailed, archived or opened offline. The figures come from the same
helpers as the text report (:func:`~journeydsl.simulate.report.summary`, the result's funnel), and
the JSON document of ``--format json`` is embedded as ``<script type="application/json"
id="report-data">`` for machines. The same result gives the same bytes: nothing depends on the
clock or on the machine.

Every piece of text is escaped; the embedded JSON has ``<``, ``>`` and ``&`` written as
``\\u003c``… so that no string in it can close the script element.
"""

from __future__ import annotations

import base64
import hashlib
import math
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from html import escape
from typing import Any

from journeydsl import ir
from journeydsl.simulate.budgets import budgets_section, forecast
from journeydsl.simulate.capacity_html import capacity_section
from journeydsl.simulate.driver import RunResult, dumps
from journeydsl.simulate.formats import minute, percent, percent_of, points, run_days, vnd
from journeydsl.simulate.report import no_entry_note, summary
from journeydsl.simulate.svg import Series, graph_svg, line_chart

__all__ = [
    "CSS",
    "ERROR_SCRIPT",
    "aggregates",
    "csp_hash",
    "json_for_script",
    "render_html",
    "section",
    "tile",
]

#: Colours of the outcomes, in declared order (the chart, the legend and the exit boxes).
OUTCOME_COLORS = ("#2563eb", "#16a34a", "#ea580c", "#9333ea", "#dc2626", "#0891b2", "#ca8a04")
RUNNING_COLOR = "#6b7280"
CHANNEL_COLORS = {
    "email": "#2563eb",
    "sms": "#16a34a",
    "zns": "#0891b2",
    "push": "#9333ea",
    "inapp": "#ea580c",
}
#: Suppression reasons listed before "... and N more".
MAX_REASONS = 25

CSS = """
:root{--fg:#1f2937;--muted:#6b7280;--line:#e5e7eb;--bg:#f4f5f7;--card:#fff;--accent:#2563eb;
--mono:ui-monospace,SFMono-Regular,Menlo,Consolas,"DejaVu Sans Mono","Liberation Mono",monospace}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);
font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
main{max-width:1240px;margin:0 auto;padding:20px 24px 32px}
header.report,section{background:var(--card);border:1px solid var(--line);border-radius:10px;
padding:16px 20px;margin:0 0 16px}
h1{font-size:24px;margin:0;font-weight:650}
h1 .ver{font-size:14px;font-weight:600;color:var(--muted);border:1px solid var(--line);
border-radius:999px;padding:1px 8px;vertical-align:4px;margin-left:6px}
h2{font-size:17px;margin:0 0 2px;font-weight:650}
.eyebrow{font-size:12px;color:var(--muted);text-transform:uppercase;letter-spacing:.06em}
.sub{color:var(--muted);margin:0 0 12px}
code,.mono{font-family:var(--mono);font-size:12.5px}
dl.meta{display:grid;grid-template-columns:max-content 1fr;gap:2px 14px;margin:10px 0 0}
dl.meta dt{color:var(--muted)}dl.meta dd{margin:0}
.tiles{display:flex;flex-wrap:wrap;gap:10px;margin-top:14px}
.tile{flex:1 0 auto;min-width:118px;border:1px solid var(--line);border-radius:8px;
padding:8px 12px;background:#fafbfc}
.tile b{display:block;font-size:19px;font-variant-numeric:tabular-nums;white-space:nowrap}
.tile span{color:var(--muted);font-size:12px}
.tile small{font-size:12px;font-weight:600;color:var(--muted)}
nav{display:flex;flex-wrap:wrap;gap:6px 16px;margin:14px 0 0;font-size:13px}
nav a{color:var(--accent);text-decoration:none}nav a:hover{text-decoration:underline}
table{border-collapse:collapse;width:100%}
th,td{padding:4px 8px;border-bottom:1px solid var(--line);text-align:left;vertical-align:middle}
th{font-weight:600;color:var(--muted);font-size:11.5px;text-transform:uppercase;
letter-spacing:.04em}
tfoot td{font-weight:650;border-bottom:0;border-top:2px solid var(--line)}
.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
th.num{white-space:normal}
td.step{color:#374151;max-width:460px;overflow-wrap:anywhere}
td.barcell{width:32%}
.bar{height:10px;background:#eef0f3;border-radius:5px;overflow:hidden;display:flex}
.bar span{display:block;height:100%;background:var(--accent)}
.bar span.supp{background:#cbd5e1}
.bar span.util.full{background:#f97316}
tr.zero td{color:#9ca3af}tr.zero .bar span{background:#cbd5e1}
tr.hl td{background:#fef9c3}
.swatch{display:inline-block;width:11px;height:11px;border-radius:3px;vertical-align:-1px;
margin-right:7px}
.swatch.dashed{height:0;border-top:2px dashed #6b7280;border-radius:0;vertical-align:3px}
.row2{display:grid;grid-template-columns:minmax(0,1fr) 300px;gap:20px;align-items:start}
.pair{display:grid;grid-template-columns:repeat(auto-fit,minmax(420px,1fr));gap:0 16px;
align-items:start}
td.name{white-space:nowrap}
.muted{color:var(--muted)}p.note{color:var(--muted);font-size:13px;margin:8px 0 0}
.scroll{overflow-x:auto}
svg{display:block}svg.graph{margin:8px auto 0;max-width:100%;height:auto}
svg.chart{width:100%;height:auto}
.graph text{font-family:var(--mono)}
.chart text{font-family:inherit}
.graph .box{fill:#fff;stroke:#9ca3af;stroke-width:1.3}
.graph .k-send .box{fill:#eff6ff;stroke:#60a5fa}
.graph .k-wait .box{fill:#fffbeb;stroke:#f59e0b}
.graph .k-decide .box{fill:#f5f3ff;stroke:#a78bfa}
.graph .k-ticket .box{fill:#fff7ed;stroke:#fb923c}
.graph .k-exit .box{fill:#fff;stroke-width:2.4}
.graph .k-pill .box{fill:#1f2937;stroke:#1f2937}
.graph .k-pill text{fill:#fff}
.graph .node{cursor:pointer}.graph .node.zero{opacity:.5}
.graph .node.hl .box{stroke:#111827;stroke-width:2.6}
.graph .nid{font-size:12px;font-weight:700;fill:#111827}
.graph .lbl{font-size:11px;fill:#4b5563}
.graph .cnt{font-size:12px;font-weight:700;fill:#111827}
.graph .pct{font-size:11px;fill:#6b7280}
.graph .track{fill:#e5e7eb}.graph .fill{fill:#2563eb}
.graph .edge{fill:none;stroke:#94a3b8;stroke-width:1.4}
.graph .edge.dim{stroke:#d6dae0}
.graph .edge.back{stroke:#a78bfa;stroke-dasharray:5 3}
.graph .arrow{fill:#94a3b8}.graph .arrow.back{fill:#a78bfa}
.graph .elabel{font-size:10.5px;fill:#475569;paint-order:stroke;stroke:#fff;stroke-width:3px;
stroke-linejoin:round}
.chart .grid{stroke:#eef0f3}.chart .axis,.chart .xtick{stroke:#9ca3af}
.chart .tick,.chart .axis-title{font-size:12px;fill:#6b7280}
.chart .line{fill:none;stroke-width:2.2;stroke-linejoin:round}
footer{color:var(--muted);font-size:12.5px;text-align:center;margin-top:8px}
footer a{color:var(--accent)}
@media print{body{background:#fff}header.report,section{break-inside:avoid;border-color:#ccc}}
"""

#: Runs first: every script error, unhandled rejection and console.error lands in the hidden
#: #js-errors element, so that a test reading the DOM sees them.
ERROR_SCRIPT = """
(function () {
  var seen = [];
  function show() {
    var box = document.getElementById("js-errors");
    if (box && seen.length) {
      box.textContent = seen.join("\\n");
      box.setAttribute("data-count", String(seen.length));
    }
  }
  function note(text) { seen.push(String(text)); show(); }
  window.onerror = function (message, source, line) {
    note("error: " + message + " (line " + line + ")");
  };
  window.addEventListener("unhandledrejection", function (event) {
    note("unhandled rejection: " + event.reason);
  });
  var original = console.error;
  console.error = function () {
    note("console.error: " + Array.prototype.join.call(arguments, " "));
    return original.apply(console, arguments);
  };
  document.addEventListener("DOMContentLoaded", show);
})();
"""

#: Runs last: the JSON download link, funnel rows and graph boxes highlighting each other, and a
#: check that the rows agree with the embedded data.
_MAIN_SCRIPT = """
(function () {
  var data = JSON.parse(document.getElementById("report-data").textContent);
  var link = document.getElementById("download-json");
  var blob = new Blob([JSON.stringify(data, null, 2) + "\\n"], {type: "application/json"});
  link.href = URL.createObjectURL(blob);
  link.download = data.journey + ".json";
  link.hidden = false;
  function same(id) {
    return document.querySelectorAll('[data-node="' + CSS.escape(id) + '"]');
  }
  document.querySelectorAll("[data-node]").forEach(function (el) {
    var id = el.getAttribute("data-node");
    el.addEventListener("mouseenter", function () {
      same(id).forEach(function (n) { n.classList.add("hl"); });
    });
    el.addEventListener("mouseleave", function () {
      same(id).forEach(function (n) { n.classList.remove("hl"); });
    });
    if (el.tagName.toLowerCase() === "g") {
      el.addEventListener("click", function () {
        var row = document.querySelector('tr[data-node="' + CSS.escape(id) + '"]');
        if (row) { row.scrollIntoView({block: "center", behavior: "smooth"}); }
      });
    }
  });
  var wrong = [];
  document.querySelectorAll('[data-testid="funnel-row"]').forEach(function (row) {
    var id = row.getAttribute("data-node");
    if (String(data.funnel.nodes[id]) !== row.getAttribute("data-count")) { wrong.push(id); }
  });
  if (wrong.length) { console.error("funnel rows differ from the report data: " + wrong); }
  document.documentElement.setAttribute("data-ready", "1");
})();
"""


def csp_hash(script: str) -> str:
    """The Content-Security-Policy source that allows this inline script."""
    digest = hashlib.sha256(script.encode("utf-8")).digest()
    return "'sha256-" + base64.b64encode(digest).decode("ascii") + "'"


def _count(n: int) -> str:
    return f"{n:,}"


def _width(n: int, total: int) -> str:
    return f"{100 * n / total:.1f}%" if total > 0 else "0%"


def _money_width(amount: Decimal, peak: Decimal) -> str:
    if peak <= 0:
        return "0%"
    return f"{(amount * 100 / peak).quantize(Decimal('0.1'))}%"


def _bar(width: str, color: str | None = None, title: str = "") -> str:
    style = f"width:{width}" + (f";background:{color}" if color else "")
    tip = f' title="{escape(title)}"' if title else ""
    return f'<div class="bar"{tip}><span style="{style}"></span></div>'


def json_for_script(document: Mapping[str, Any]) -> str:
    """``document`` as JSON that no string in it can end a ``<script>`` element with."""
    text = dumps(document)
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


def render_html(
    result: RunResult,
    *,
    journey_id: str | None = None,
    title: str = "",
    costs: Mapping[str, Decimal] | None = None,
    failures: Mapping[str, tuple[int, int]] | None = None,
    detail: bool = False,
) -> str:
    """The report as one HTML document: header, journey graph with counts, funnel, outcomes
    over time, messages and cost per channel, what the contact policies did (with
    ``--policies``), suppression reasons, tickets and rewards.

    The page embeds the figures it shows (:func:`aggregates`), whose size does not grow with
    the customers; with ``detail`` it embeds the whole ``--format json`` document instead,
    every action and instance included."""
    journey = result.journey(journey_id)
    funnel = result.funnel(journey.id)
    figures = summary(result, journey.id, costs, failures)
    colors = {
        name: OUTCOME_COLORS[i % len(OUTCOME_COLORS)] for i, name in enumerate(funnel["outcomes"])
    }
    body = [
        _header(result, journey, title, funnel, figures, costs),
        _graph_section(journey, funnel, colors),
        _funnel_section(journey, funnel),
        _outcomes_section(result, journey, funnel, colors),
        _messages_section(figures, funnel["entered"], costs, failures),
        _policies_section(result, journey),
        capacity_section(result.capacity()),
        budgets_section(forecast(result, journey.id), result.start, result.until),  # budgets
        '<div class="pair">',
        _suppression_section(figures),
        _tickets_section(figures),
        _rewards_section(figures),
        "</div>",
    ]
    csp = (
        "default-src 'none'; style-src 'unsafe-inline'; "
        f"script-src {csp_hash(ERROR_SCRIPT)} {csp_hash(_MAIN_SCRIPT)}"
    )
    page_title = f"{journey.id} v{journey.version} — simulation report"
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en">',
            "<head>",
            '<meta charset="utf-8">',
            f'<meta http-equiv="Content-Security-Policy" content="{csp}">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            '<meta name="generator" content="journeydsl simulate">',
            f"<title>{escape(page_title)}</title>",
            f"<style>{CSS}</style>",
            f"<script>{ERROR_SCRIPT}</script>",
            "</head>",
            "<body>",
            "<main>",
            *body,
            "<footer>Made by <code>journeydsl simulate --format html</code>. "
            '<a id="download-json" hidden>Download the data (JSON)</a></footer>',
            "</main>",
            '<pre id="js-errors" data-testid="js-errors" hidden></pre>',
            '<script type="application/json" id="report-data">',
            json_for_script(
                result.to_json(journey.id) if detail else aggregates(result, journey, figures)
            ),
            "</script>",
            f"<script>{_MAIN_SCRIPT}</script>",
            "</body>",
            "</html>",
            "",
        ]
    )


def aggregates(
    result: RunResult, journey: ir.Journey, figures: Mapping[str, Any]
) -> dict[str, Any]:
    """What the page embeds without ``detail``: the ``--format json`` document without its
    ``actions`` and ``instances``, with the report's per-channel figures (``summary``)."""
    doc: dict[str, Any] = {
        "journey": journey.id,
        "version": journey.version,
        "funnel": result.funnel(journey.id),
        "summary": dict(figures),
    }
    if budgets := forecast(result, journey.id):  # reward budgets (as the JSON document)
        doc["budgets"] = budgets
    figures_of_policies = result.policy_tally(journey.id)
    if figures_of_policies is not None:
        doc["policies"] = figures_of_policies.to_json(journey)
        if capacity := result.capacity():  # (utilisation per day of the capacity limits)
            doc["policies"]["capacity"] = capacity
    return doc


def tile(value: str, label: str, testid: str, unit: str = "") -> str:
    """A header tile: a big figure with its unit and a label under it."""
    small = f" <small>{escape(unit)}</small>" if unit else ""
    return (
        f'<div class="tile" data-testid="{testid}"><b>{escape(value)}{small}</b>'
        f"<span>{escape(label)}</span></div>"
    )


def _header(
    result: RunResult,
    journey: ir.Journey,
    title: str,
    funnel: Mapping[str, Any],
    figures: Mapping[str, Any],
    costs: Mapping[str, Decimal] | None,
) -> str:
    entered, running = funnel["entered"], funnel["running"]
    days = run_days(result.start, result.until)
    sent = sum(r["sent"] for r in figures["channels"])
    suppressed = sum(r["suppressed"] for r in figures["channels"])
    tickets = sum(t["count"] for t in figures["tickets"])
    tiles = [
        tile(_count(entered), "instances entered", "stat-entered"),
        tile(_count(running), "still running", "stat-running"),
        tile(_count(entered - running), "ended", "stat-ended"),
        tile(_count(sent), "messages sent", "stat-sent"),
        tile(_count(suppressed), "suppressed", "stat-suppressed"),
        tile(_count(tickets), "tickets", "stat-tickets"),
    ]
    if costs is not None:
        total = sum((Decimal(r["cost_vnd"]) for r in figures["channels"]), Decimal(0))
        tiles.append(tile(vnd(total), "message cost", "stat-cost", "VND"))
        if entered:
            tiles.append(tile(vnd(total / entered), "cost per entry", "stat-unit-cost", "VND"))
    meta = [
        ("source", title or "-"),
        (
            "time range",
            f"{minute(result.start.isoformat())} → {minute(result.until.isoformat())} "
            f"({days:g} days)",
        ),
        ("time zone", journey.timezone),
        ("outcomes", ", ".join(journey.outcomes) or "-"),
    ]
    if not entered:
        meta.append(("entered", no_entry_note(journey)))
    if result.quarantined:
        meta.append(("quarantined", f"{len(result.quarantined)} event(s), listed on stderr"))
    subtitle = f'<p class="sub">{escape(journey.title)}</p>' if journey.title else ""
    links = [
        ("graph", "Journey graph"),
        ("funnel", "Funnel"),
        ("outcomes", "Outcomes over time"),
        ("messages", "Messages and cost"),
        ("suppression", "Suppressions"),
        ("tickets", "Tickets"),
    ]
    return "\n".join(
        [
            '<header class="report" data-testid="report-header">',
            '<div class="eyebrow">journey simulation</div>',
            f'<h1><span data-testid="journey-id">{escape(journey.id)}</span>'
            f'<span class="ver">v{journey.version}</span></h1>',
            subtitle,
            '<dl class="meta">',
            *(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in meta),
            "</dl>",
            '<div class="tiles">',
            *tiles,
            "</div>",
            "<nav>" + "".join(f'<a href="#{a}">{escape(t)}</a>' for a, t in links) + "</nav>",
            "</header>",
        ]
    )


def section(anchor: str, heading: str, note: str, content: Sequence[str]) -> str:
    """A card of the page with its anchor, heading and a muted note under it."""
    return "\n".join(
        [
            f'<section id="{anchor}" data-testid="{anchor}">',
            f"<h2>{escape(heading)}</h2>",
            f'<p class="sub">{escape(note)}</p>' if note else "",
            *content,
            "</section>",
        ]
    )


def _graph_section(
    journey: ir.Journey, funnel: Mapping[str, Any], colors: Mapping[str, str]
) -> str:
    svg = graph_svg(journey, funnel["nodes"], funnel["entered"], colors)
    goals = [
        f"<li><b>{escape(g.outcome)}</b> when "
        f"<code>{escape(g.event or (g.condition.source if g.condition else '?'))}</code></li>"
        for g in journey.goals
    ]
    content = [f'<div class="scroll">{svg}</div>']
    if goals:
        content.append(
            '<p class="note">Goals end an instance from any step:</p><ul class="muted">'
            + "".join(goals)
            + "</ul>"
        )
    return section(
        "graph",
        "Journey graph",
        "Each box: the step, what it does, how many instances reached it and their share of "
        "the entries. Dashed arrows start the next round of a repeat. Hover a box to find its "
        "funnel row; click it to scroll there.",
        content,
    )


def _funnel_section(journey: ir.Journey, funnel: Mapping[str, Any]) -> str:
    entered = funnel["entered"]
    rows = []
    for nid, step in funnel["steps"].items():
        n = step["entered"]
        full = ir.describe(journey.nodes[nid], full=True)
        zero = ' class="zero"' if n == 0 else ""
        rows.append(
            f'<tr data-testid="funnel-row" data-node="{escape(nid)}" data-count="{n}"{zero}>'
            f'<td class="step" title="{escape(full)}">{escape(step["name"])}</td>'
            f'<td class="num count">{_count(n)}</td>'
            f'<td class="num pct">{percent_of(n, entered)}</td>'
            f'<td class="num">{_count(step["passed"])}</td>'
            f'<td class="num">{_count(step["exited"])}</td>'
            f'<td class="num">{_count(step["waiting"])}</td>'
            f'<td class="barcell">{_bar(_width(n, entered))}</td></tr>'
        )
    table = [
        '<div class="scroll"><table class="funnel">',
        '<thead><tr><th>step</th><th class="num">entered</th><th class="num">%</th>'
        '<th class="num">passed</th><th class="num">exited</th><th class="num">waiting</th>'
        "<th></th></tr></thead>",
        "<tbody>",
        *rows,
        "</tbody></table></div>",
    ]
    return section(
        "funnel",
        "Funnel",
        f"Per step, in graph order: the instances that entered it (of {_count(entered)}), went "
        "on from it, exited there (an exit, or a goal met while waiting there) and are still "
        "waiting there.",
        table,
    )


def _days(result: RunResult) -> int:
    return max(1, math.ceil((result.until - result.start) / timedelta(days=1)))


def _outcomes_section(
    result: RunResult,
    journey: ir.Journey,
    funnel: Mapping[str, Any],
    colors: Mapping[str, str],
) -> str:
    days = _days(result)
    start = result.start

    def day_of(iso: str) -> int:
        """The day (1..days) at whose end the instant is counted."""
        offset = (datetime.fromisoformat(iso) - start) / timedelta(days=1)
        return min(max(math.floor(offset) + 1, 0), days)

    ended: dict[str, list[int]] = {name: [0] * (days + 1) for name in funnel["outcomes"]}
    came = [0] * (days + 1)
    left = [0] * (days + 1)
    for inst in result.instances_json(journey.id):
        came[day_of(inst["entered_at"])] += 1
        if inst["ended_at"] and inst["outcome"] is not None:
            d = day_of(inst["ended_at"])
            ended.setdefault(inst["outcome"], [0] * (days + 1))[d] += 1
            left[d] += 1
    series = []
    for name, per_day in ended.items():
        series.append(Series(name, colors.get(name, RUNNING_COLOR), _cumulative(per_day)))
    running = [a - b for a, b in zip(_cumulative(came), _cumulative(left), strict=True)]
    series.append(Series("(running)", RUNNING_COLOR, running, dashed=True))
    chart = line_chart(
        series,
        days=days,
        x_title=f"days since the start ({minute(start.isoformat())})",
        width=820,
        height=280,
    )
    entered = funnel["entered"]
    rows = []
    for name, n in [*funnel["outcomes"].items(), ("(running)", funnel["running"])]:
        dashed = " dashed" if name == "(running)" else ""
        color = "" if dashed else f' style="background:{colors.get(name, RUNNING_COLOR)}"'
        rows.append(
            f'<tr data-testid="outcome-row" data-outcome="{escape(name)}" data-count="{n}">'
            f'<td class="name"><span class="swatch{dashed}"{color}></span>{escape(name)}</td>'
            f'<td class="num">{_count(n)}</td><td class="num">{percent_of(n, entered)}</td></tr>'
        )
    legend = [
        "<table>",
        '<thead><tr><th>outcome</th><th class="num">instances</th><th class="num">%</th>'
        "</tr></thead><tbody>",
        *rows,
        "</tbody></table>",
    ]
    return section(
        "outcomes",
        "Outcomes over time",
        "Instances ended with each outcome, cumulated at the end of each simulated day; the "
        "dashed line counts the instances still running.",
        ['<div class="row2">', f"<div>{chart}</div>", "<div>", *legend, "</div>", "</div>"],
    )


def _cumulative(values: Sequence[int]) -> list[int]:
    out, total = [], 0
    for v in values:
        total += v
        out.append(total)
    return out


def _messages_section(
    figures: Mapping[str, Any],
    entered: int,
    costs: Mapping[str, Decimal] | None,
    failures: Mapping[str, tuple[int, int]] | None,
) -> str:
    rows = figures["channels"]
    head = [
        '<th>channel</th><th class="num">sent</th><th class="num">suppressed</th>'
        '<th class="num">undelivered</th>'
    ]
    if failures is not None:
        head.append(
            '<th class="num">attempts failed, retried</th>'
            '<th class="num">attempts failed, for good</th>'
        )
    if costs is not None:
        head.append('<th class="num">cost (VND)</th>')
    head.append("<th>sent / suppressed</th>")
    if costs is not None:
        head.append("<th>cost</th>")
    peak = max((r["sent"] + r["suppressed"] for r in rows), default=0)
    peak_cost = max((Decimal(r.get("cost_vnd", "0")) for r in rows), default=Decimal(0))
    body = []
    for r in rows:
        color = CHANNEL_COLORS.get(r["channel"], "#64748b")
        cells = [
            f'<td><span class="swatch" style="background:{color}"></span>'
            f"{escape(r['channel'])}</td>",
            f'<td class="num">{_count(r["sent"])}</td>',
            f'<td class="num">{_count(r["suppressed"])}</td>',
            f'<td class="num">{_count(r["undelivered"])}</td>',
        ]
        if failures is not None:
            cells.append(f'<td class="num">{_count(r["failed_transient"])}</td>')
            cells.append(f'<td class="num">{_count(r["failed_permanent"])}</td>')
        if costs is not None:
            cells.append(f'<td class="num">{vnd(Decimal(r["cost_vnd"]))}</td>')
        tip = f"{r['sent']:,} sent, {r['suppressed']:,} suppressed"
        cells.append(
            f'<td class="barcell"><div class="bar" title="{escape(tip)}">'
            f'<span style="width:{_width(r["sent"], peak)};background:{color}"></span>'
            f'<span class="supp" style="width:{_width(r["suppressed"], peak)}"></span></div></td>'
        )
        if costs is not None:
            cost = Decimal(r["cost_vnd"])
            cells.append(
                f'<td class="barcell">{_bar(_money_width(cost, peak_cost), color, vnd(cost))}</td>'
            )
        body.append(
            f'<tr data-testid="channel-row" data-channel="{escape(r["channel"])}">'
            + "".join(cells)
            + "</tr>"
        )
    if not rows:
        body.append(f'<tr><td colspan="{len(head) + 3}" class="muted">no messages</td></tr>')
    total_cost = sum((Decimal(r.get("cost_vnd", "0")) for r in rows), Decimal(0))
    foot = [
        "<td>total</td>",
        f'<td class="num">{_count(sum(r["sent"] for r in rows))}</td>',
        f'<td class="num">{_count(sum(r["suppressed"] for r in rows))}</td>',
        f'<td class="num">{_count(sum(r["undelivered"] for r in rows))}</td>',
    ]
    if failures is not None:
        foot.append(f'<td class="num">{_count(sum(r["failed_transient"] for r in rows))}</td>')
        foot.append(f'<td class="num">{_count(sum(r["failed_permanent"] for r in rows))}</td>')
    if costs is not None:
        foot.append(f'<td class="num" data-testid="total-cost">{vnd(total_cost)}</td>')
    foot.append("<td></td>" * (2 if costs is not None else 1))
    if costs is not None and entered:
        note = f"Cost per entered instance: {vnd(total_cost / entered)} VND."
    elif costs is None:
        note = "Costs are known in synthetic mode only (the behaviour file's channel prices)."
    else:
        note = ""
    content = [
        "<table>",
        "<thead><tr>" + "".join(head) + "</tr></thead>",
        "<tbody>",
        *body,
        "</tbody>",
        "<tfoot><tr>" + "".join(foot) + "</tr></tfoot>",
        "</table>",
        f'<p class="note">{escape(note)}</p>' if note else "",
    ]
    return section(
        "messages",
        "Messages and cost per channel",
        "Each message is counted once: delivered (on the channel that delivered it, after any "
        "fallback), suppressed by a policy, or undelivered after a delivery failure (both on "
        "its first channel). Failed delivery attempts are counted apart; money in whole VND.",
        content,
    )


POLICY_DECISIONS = ("deferred", "dropped", "rerouted")


def _policies_section(result: RunResult, journey: ir.Journey) -> str:
    """Messages each contact policy deferred, dropped or rerouted, and the outcomes' uplift
    against the global holdout (the text report's two tables); empty without --policies."""
    tally = result.policy_tally(journey.id)
    if tally is None:
        return ""
    rows = [
        f'<tr data-testid="policy-row"><td>{escape(name)}</td>'
        + "".join(f'<td class="num">{_count(row[k])}</td>' for k in POLICY_DECISIONS)
        + "</tr>"
        for name, row in tally.messages().items()
    ] or [
        '<tr><td class="muted">(none: every message went out as sent)</td>'
        '<td class="num">0</td><td class="num">0</td><td class="num">0</td></tr>'
    ]
    content = [
        "<table>",
        '<thead><tr><th>policy</th><th class="num">deferred</th><th class="num">dropped</th>'
        '<th class="num">rerouted</th></tr></thead>',
        "<tbody>",
        *rows,
        "</tbody></table>",
    ]
    if tally.percent > 0:
        uplift = []
        for name, row in tally.uplift(tally.outcome_names(journey)).items():
            ci = row["ci95"]
            interval = f"{points(ci[0])} .. {points(ci[1])}" if ci else "-"
            uplift.append(
                f'<tr data-testid="uplift-row"><td>{escape(name)}</td>'
                f'<td class="num">{percent(row["treated"]["rate"])}</td>'
                f'<td class="num">{percent(row["holdout"]["rate"])}</td>'
                f'<td class="num">{points(row["uplift"])}</td>'
                f'<td class="num">{escape(interval)}</td></tr>'
            )
        content += [
            f"<h3>Uplift against the global holdout ({tally.percent:g}%)</h3>",
            f'<p class="muted">{_count(tally.treated)} treated and {_count(tally.control)} '
            "holdout instances; uplift in percentage points, 95% CI by Newcombe's method "
            "(Wilson intervals of each rate).</p>",
            "<table>",
            '<thead><tr><th>outcome</th><th class="num">treated</th>'
            '<th class="num">holdout</th><th class="num">uplift</th>'
            '<th class="num">95% CI</th></tr></thead>',
            "<tbody>",
            *uplift,
            "</tbody></table>",
        ]
    return section(
        "policies",
        "Contact policies",
        f"{_count(tally.allowed)} message(s) delivered under the policies; what each policy "
        "held back or moved to another channel:",
        content,
    )


def _suppression_section(figures: Mapping[str, Any]) -> str:
    reasons: dict[str, int] = figures["suppression_reasons"]
    total = sum(reasons.values())
    if not reasons:
        return section(
            "suppression", "Why messages were suppressed", "", ['<p class="muted">None.</p>']
        )
    rows = [
        f'<tr data-testid="reason-row"><td>{escape(reason)}</td>'
        f'<td class="num">{_count(n)}</td><td class="num">{percent_of(n, total)}</td>'
        f'<td class="barcell">{_bar(_width(n, total), "#94a3b8")}</td></tr>'
        for reason, n in list(reasons.items())[:MAX_REASONS]
    ]
    more = len(reasons) - MAX_REASONS
    if more > 0:
        rows.append(f'<tr><td colspan="4" class="muted">... and {more} more</td></tr>')
    return section(
        "suppression",
        "Why messages were suppressed",
        f"{_count(total)} message(s) withheld by policy or failed on every channel.",
        [
            "<table>",
            '<thead><tr><th>reason</th><th class="num">messages</th>'
            '<th class="num">%</th><th></th></tr></thead>',
            "<tbody>",
            *rows,
            "</tbody></table>",
        ],
    )


def _tickets_section(figures: Mapping[str, Any]) -> str:
    tickets = figures["tickets"]
    total = sum(t["count"] for t in tickets)
    rows = [
        f'<tr data-testid="ticket-row"><td>{escape(t["queue"])}</td>'
        f'<td>{escape(t["priority"])}</td><td class="num">{_count(t["count"])}</td>'
        f'<td class="barcell">{_bar(_width(t["count"], total), "#fb923c")}</td></tr>'
        for t in tickets
    ] or ['<tr><td class="muted">(none)</td><td></td><td class="num">0</td><td></td></tr>']
    return section(
        "tickets",
        "Tickets per queue",
        "Tickets opened for the bank's teams, per queue and priority.",
        [
            "<table>",
            '<thead><tr><th>queue</th><th>priority</th><th class="num">tickets</th>'
            "<th></th></tr></thead>",
            "<tbody>",
            *rows,
            "</tbody></table>",
        ],
    )


def _rewards_section(figures: Mapping[str, Any]) -> str:
    rewards = figures["rewards"]
    if not rewards:
        return ""
    rows = [
        f'<tr data-testid="reward-row"><td>{escape(r["kind"])}</td><td>{escape(r["name"])}</td>'
        f'<td class="num">{_count(r["count"])}</td></tr>'
        for r in rewards
    ]
    return section(
        "rewards",
        "Rewards and actions",
        "",
        [
            "<table>",
            '<thead><tr><th>kind</th><th>name</th><th class="num">count</th></tr></thead>',
            "<tbody>",
            *rows,
            "</tbody></table>",
        ],
    )
