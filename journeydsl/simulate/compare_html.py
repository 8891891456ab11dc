"""The ``--compare`` report as one self-contained HTML page (``--format html``).

It shows the document of :func:`~journeydsl.simulate.compare.compare_document`: the findings in
words first, then per outcome the share of customers under each journey with the paired 95 %
interval of the difference, then messages and cost per channel with their differences. It has
the simulate page's style and safety (inline CSS, a Content-Security-Policy that loads nothing,
every text escaped) and embeds the compare document, which holds counts only.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from html import escape
from typing import Any

from journeydsl.simulate.compare import pp
from journeydsl.simulate.formats import percent, vnd
from journeydsl.simulate.html import (
    CSS,
    ERROR_SCRIPT,
    csp_hash,
    json_for_script,
    section,
    tile,
)

__all__ = ["render_compare_html", "render_sweep_html"]

_READY_SCRIPT = """
(function () {
  JSON.parse(document.getElementById("report-data").textContent);
  document.documentElement.setAttribute("data-ready", "1");
})();
"""


def _signed(n: int | Decimal) -> str:
    return f"{n:+,}" if n else "0"


def _money(m: Mapping[str, str] | None) -> str:
    return "-" if m is None else vnd(Decimal(m["amount"]))


def render_compare_html(doc: Mapping[str, Any], *, title: str = "") -> str:
    """The comparison page (see the module docstring)."""
    a, b = doc["base"], doc["other"]
    body = [_header(doc, title), _findings(doc), _paired(doc), _outcomes(doc), _messages(doc)]
    if doc.get("capacity"):
        body.append(_capacity(doc))
    page_title = f"{a['journey']} v{a['version']} against v{b['version']} — comparison"
    return _page(page_title, "journeydsl simulate --compare", body, doc)


def render_sweep_html(doc: Mapping[str, Any], *, title: str = "") -> str:
    """The ``--sweep`` page: the variants side by side, then per value what changed against
    the first value."""
    from journeydsl.simulate.sweep import rows

    table = rows(doc)
    # A value's heading may break after its "=", a cell between the share and its interval.
    head = "".join(
        f'<th class="{"" if i == 0 else "num"}">{escape(h).replace("=", "=<wbr>")}</th>'
        for i, h in enumerate(table[0])
    )
    body_rows = "".join(
        '<tr data-testid="sweep-row">'
        + "".join(
            f'<td class="{"name" if i == 0 else "num wrap"}">{escape(c)}</td>'
            for i, c in enumerate(r)
        )
        + "</tr>"
        for r in table[1:]
    )
    name, first = doc["parameter"], doc["values"][0]
    findings = []
    for against in doc["against_first"]:
        items = "".join(f"<li>{escape(line)}</li>" for line in against["findings"])
        findings.append(
            f"<h3>{escape(name)}={escape(against['value'])} against {escape(name)}={escape(first)}"
            f'</h3><ul data-testid="finding-list">{items}</ul>'
        )
    method = doc["against_first"][0]["paired"] if doc["against_first"] else None
    body = [
        '<header class="report" data-testid="report-header">'
        '<div class="eyebrow">parameter sweep</div>'
        f"<h1>{escape(doc['variants'][0]['journey'])}"
        f'<span class="ver">{escape(name)} = {escape(", ".join(doc["values"]))}</span></h1>'
        f'<dl class="meta"><dt>source</dt><dd>{escape(title or "-")}</dd></dl></header>',
        section(
            "sweep",
            "Side by side",
            f"Customers reaching an outcome: their share, then the difference with {name}="
            f"{first} and its paired 95% interval (* significant).",
            [
                f'<div class="scroll"><table><thead><tr>{head}</tr></thead>'
                f"<tbody>{body_rows}</tbody></table></div>",
                f'<p class="note">{escape(method["method"])}</p>' if method else "",
            ],
        ),
        section("findings", "What changed", "", findings),
    ]
    page_title = f"{doc['variants'][0]['journey']} — sweep of {name}"
    return _page(page_title, "journeydsl simulate --sweep", body, doc)


def _page(page_title: str, made_by: str, body: list[str], doc: Mapping[str, Any]) -> str:
    csp = (
        "default-src 'none'; style-src 'unsafe-inline'; "
        f"script-src {csp_hash(ERROR_SCRIPT)} {csp_hash(_READY_SCRIPT)}"
    )
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
            f"<style>{CSS}td.wrap{{white-space:normal}}</style>",
            f"<script>{ERROR_SCRIPT}</script>",
            "</head>",
            "<body>",
            "<main>",
            *body,
            f"<footer>Made by <code>{escape(made_by)} --format html</code>.</footer>",
            "</main>",
            '<pre id="js-errors" data-testid="js-errors" hidden></pre>',
            '<script type="application/json" id="report-data">',
            json_for_script(doc),
            "</script>",
            f"<script>{_READY_SCRIPT}</script>",
            "</body>",
            "</html>",
            "",
        ]
    )


def _header(doc: Mapping[str, Any], title: str) -> str:
    a, b, d = doc["base"], doc["other"], doc["diff"]
    tiles = [
        tile(_signed(d["entered"]), "instances entered (other - base)", "stat-entered"),
        tile(_signed(d["sent"]), "messages sent (other - base)", "stat-sent"),
    ]
    if d["cost"] is not None:
        tiles.append(
            tile(_signed(int(Decimal(d["cost"]["amount"]))), "cost (other - base)", "stat-cost")
        )
    meta = [
        ("source", title or "-"),
        ("base", f"{a['journey']} v{a['version']} ({a['file']})"),
        ("other", f"{b['journey']} v{b['version']} ({b['file']})"),
    ]
    return "\n".join(
        [
            '<header class="report" data-testid="report-header">',
            '<div class="eyebrow">journey comparison</div>',
            f'<h1>{escape(a["journey"])}<span class="ver">v{a["version"]} → v{b["version"]}'
            "</span></h1>",
            '<dl class="meta">',
            *(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in meta),
            "</dl>",
            '<div class="tiles">',
            *tiles,
            "</div>",
            "</header>",
        ]
    )


def _findings(doc: Mapping[str, Any]) -> str:
    items = "".join(f"<li>{escape(line)}</li>" for line in doc["findings"])
    return section(
        "findings",
        "What changed",
        "Each outcome whose paired 95% interval excludes 0, and each channel whose cost changed.",
        [f'<ul data-testid="finding-list">{items or "<li>nothing changed</li>"}</ul>'],
    )


def _paired(doc: Mapping[str, Any]) -> str:
    paired = doc.get("paired")
    if paired is None:
        return ""
    rows = []
    for name, row in paired["outcomes"].items():
        ci = row["ci95"]
        rows.append(
            f'<tr data-testid="paired-row" data-outcome="{escape(name)}">'
            f'<td class="name">{escape(name)}{" (goal)" if row["goal"] else ""}</td>'
            f'<td class="num">{percent(row["base"]["rate"])}</td>'
            f'<td class="num">{percent(row["other"]["rate"])}</td>'
            f'<td class="num">{escape(pp(row["difference"]))}</td>'
            f'<td class="num">{escape(f"{pp(ci[0])} to {pp(ci[1])}" if ci else "-")}</td>'
            f"<td>{'significant' if row['significant'] else ''}</td></tr>"
        )
    return section(
        "paired",
        f"Customers reaching each outcome ({paired['customers']:,} customers, paired)",
        paired["method"],
        [
            '<div class="scroll"><table><thead><tr><th>outcome</th><th class="num">base</th>'
            '<th class="num">other</th><th class="num">difference</th>'
            '<th class="num">95% CI</th><th></th></tr></thead><tbody>',
            *rows,
            "</tbody></table></div>",
        ],
    )


def _outcomes(doc: Mapping[str, Any]) -> str:
    a, b, d = doc["base"], doc["other"], doc["diff"]
    rows = []
    for name, delta in d["outcomes"].items():
        cells = [
            f"{side['count']:,} ({percent(side['rate'])})" if side else "-"
            for side in (a["outcomes"].get(name), b["outcomes"].get(name))
        ]
        rows.append(
            f'<tr data-testid="outcome-row" data-outcome="{escape(name)}">'
            f'<td class="name">{escape(name)}</td>'
            f'<td class="num">{cells[0]}</td><td class="num">{cells[1]}</td>'
            f'<td class="num">{_signed(delta["count"])} ({escape(pp(delta["rate"]))})</td></tr>'
        )
    return section(
        "outcomes",
        "Instances per outcome",
        f"Instances entered: {a['entered']:,} (base), {b['entered']:,} (other).",
        [
            '<div class="scroll"><table><thead><tr><th>outcome</th><th class="num">base</th>'
            '<th class="num">other</th><th class="num">difference</th></tr></thead><tbody>',
            *rows,
            "</tbody></table></div>",
        ],
    )


def _messages(doc: Mapping[str, Any]) -> str:
    a, b, d = doc["base"], doc["other"], doc["diff"]
    costs = d["cost"] is not None
    head = "<th>channel</th>" + "".join(
        f'<th class="num">{h}</th>'
        for h in ["sent, base", "sent, other", "difference"]
        + (["cost, base", "cost, other", "difference"] if costs else [])
    )
    rows = []
    for c, delta in d["messages"].items():
        cells = [
            f"<td>{escape(c)}</td>",
            f'<td class="num">{a["messages"][c]["sent"]:,}</td>',
            f'<td class="num">{b["messages"][c]["sent"]:,}</td>',
            f'<td class="num">{_signed(delta["sent"])}</td>',
        ]
        if costs:
            cells += [
                f'<td class="num">{_money(a["messages"][c].get("cost"))}</td>',
                f'<td class="num">{_money(b["messages"][c].get("cost"))}</td>',
                f'<td class="num">{_signed(int(Decimal(delta["cost"]["amount"])))}</td>',
            ]
        rows.append(
            f'<tr data-testid="channel-row" data-channel="{escape(c)}">{"".join(cells)}</tr>'
        )
    foot = [
        "<td>total</td>",
        f'<td class="num">{a["sent"]:,}</td>',
        f'<td class="num">{b["sent"]:,}</td>',
        f'<td class="num">{_signed(d["sent"])}</td>',
    ]
    if costs:
        foot += [
            f'<td class="num">{_money(a["cost"])}</td>',
            f'<td class="num">{_money(b["cost"])}</td>',
            f'<td class="num" data-testid="cost-diff">{_signed(int(Decimal(d["cost"]["amount"])))}'
            "</td>",
        ]
    return section(
        "messages",
        "Messages and cost per channel",
        "Messages delivered per channel under each journey; money in whole VND.",
        [
            '<div class="scroll"><table>',
            f"<thead><tr>{head}</tr></thead><tbody>",
            *rows,
            f"</tbody><tfoot><tr>{''.join(foot)}</tr></tfoot></table></div>",
        ],
    )


def _capacity(doc: Mapping[str, Any]) -> str:
    from journeydsl.simulate.compare_capacity import capacity_rows

    rows = [
        f'<tr data-testid="capacity-row"><td>{escape(label)}</td><td class="num">{escape(a)}</td>'
        f'<td class="num">{escape(b)}</td><td class="num">{escape(d)}</td></tr>'
        for label, a, b, d in capacity_rows(doc["capacity"])
    ]
    return section(
        "capacity",
        "Capacity limits",
        "Each throughput limit and ticket queue: what it could take a day, and over the run "
        "what it took, deferred or dropped, and the backlog it left.",
        [
            '<div class="scroll"><table><thead><tr><th>limit</th><th class="num">base</th>'
            '<th class="num">other</th><th class="num">difference</th></tr></thead><tbody>',
            *rows,
            "</tbody></table></div>",
        ],
    )
