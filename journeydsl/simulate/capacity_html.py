"""The HTML report's capacity section: utilisation per day of each throughput limit and ticket
queue of the policies (:mod:`~journeydsl.simulate.capacity`), a table per limit with a bar of
what was taken against the day's capacity, and the backlog."""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from typing import Any

__all__ = ["capacity_section"]


def _count(n: int) -> str:
    return f"{n:,}"


def _bar(taken: int, capacity: int) -> str:
    width = min(100.0, 100 * taken / capacity) if capacity else 0.0
    full = " full" if capacity and taken >= capacity else ""
    return (
        f'<div class="bar" title="{_count(taken)} of {_count(capacity)}">'
        f'<span class="util{full}" style="width:{width:.1f}%"></span></div>'
    )


def _limit_table(name: str, limit: Mapping[str, Any]) -> list[str]:
    queue = limit["kind"] == "queue"
    waited = ("made", "dropped", "backlog") if queue else ("deferred", "longest_wait")
    heads = {
        "made": "made",
        "dropped": "not accepted",
        "backlog": "backlog",
        "deferred": "waited",
        "longest_wait": "longest wait",
    }
    rows = []
    for day in limit["days"]:
        cells = [
            f"<td>{escape(day['day'])}</td>",
            f'<td class="num">{_count(day["taken"])}</td>',
            f'<td class="num">{_count(day["capacity"])}</td>',
            f'<td class="num">{100 * day["utilisation"]:.1f}%</td>',
        ]
        for key in waited:
            value = day[key]
            text = _wait(value) if key == "longest_wait" else _count(value)
            cells.append(f'<td class="num">{text}</td>')
        cells.append(f'<td class="barcell">{_bar(day["taken"], day["capacity"])}</td>')
        rows.append(
            f'<tr data-testid="capacity-day" data-limit="{escape(name)}" '
            f'data-taken="{day["taken"]}" data-capacity="{day["capacity"]}">'
            + "".join(cells)
            + "</tr>"
        )
    what = "tickets opened" if queue else "messages delivered"
    return [
        f'<h3 data-testid="capacity-limit">{escape(name)} '
        f'<span class="muted">({what}, at most {_count(limit["capacity"])} a day)</span></h3>',
        "<table>",
        '<thead><tr><th>day</th><th class="num">taken</th><th class="num">capacity</th>'
        '<th class="num">used</th>'
        + "".join(f'<th class="num">{heads[k]}</th>' for k in waited)
        + "<th></th></tr></thead>",
        "<tbody>",
        *rows,
        "</tbody></table>",
    ]


def _wait(seconds: int) -> str:
    if seconds <= 0:
        return "-"
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{n}{u}" for n, u in ((hours, "h"), (minutes, "m"), (secs, "s")) if n]
    return " ".join(parts)


def capacity_section(capacity: Mapping[str, Mapping[str, Any]]) -> str:
    """The section (empty without capacity limits that did anything)."""
    if not capacity:
        return ""
    content: list[str] = []
    for name, limit in capacity.items():
        content += _limit_table(name, limit)
    return "\n".join(
        [
            '<section id="capacity" data-testid="capacity">',
            "<h2>Capacity: utilisation per day</h2>",
            '<p class="sub">What each throughput limit and ticket queue took each day against '
            "its capacity (over every journey of the run), and what waited: messages a limit "
            "made wait their turn, tickets left for a later day (backlog) or not accepted.</p>",
            *content,
            "</section>",
        ]
    )
