"""Inline SVG for the HTML report: the journey graph laid out in layers from top to bottom, with
the number of instances that reached each step, and a line chart of outcomes over time.

Both are plain strings built from the data alone (no randomness, no clock), so the same input
gives the same bytes. The graph layout is a small Sugiyama-style one: back edges (the rounds of
a ``repeat``) are set aside, steps get a layer by their longest path from the entry, edges that
skip layers go through invisible waypoints, a few barycentre sweeps reduce crossings, and each
layer is placed as close as possible to its neighbours (an isotonic regression).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from html import escape

from journeydsl import ir
from journeydsl.simulate.formats import percent_of
from journeydsl.simulate.report import step_label

__all__ = ["END", "ENTRY", "Edge", "Series", "graph_edges", "graph_svg", "line_chart"]

#: Pseudo-nodes: where instances come in, and the end of a path without an ``exit``.
ENTRY, END = "(entry)", "(end)"

BOX_W, BOX_H = 264.0, 52.0
V_GAP = 40.0
H_GAP = 28.0
MARGIN = 16.0
#: Monospace character width at the box font sizes (the font stack is monospace so that
#: truncation can be computed here).
_CHAR_12, _CHAR_11 = 7.3, 6.7

_KIND_CLASS = {
    "send": "send",
    "wait": "wait",
    "wait_for": "wait",
    "if": "decide",
    "switch": "decide",
    "split": "decide",
    "repeat": "decide",
    "ticket": "ticket",
    "exit": "exit",
}


@dataclass(frozen=True, slots=True)
class Edge:
    """An edge of the drawn graph, with its label (``yes``, ``timeout``, a case's values…)."""

    source: str
    target: str
    label: str = ""


def graph_edges(journey: ir.Journey) -> tuple[list[str], list[Edge], dict[str, str]]:
    """The steps of ``journey`` as a marketer wrote them and the edges between them.

    The internal nodes of a ``repeat`` are folded into it: the repeat goes to its body
    ("round") and on ("done"); an edge to the end of a round goes back to the repeat. Returns
    the node ids (``ENTRY`` first, ``END`` last when some path ends without an exit), the edges,
    and for each repeat the step after it.
    """
    repeat_of_check = {
        n.next: nid for nid, n in journey.nodes.items() if isinstance(n, ir.RepeatStart)
    }

    def resolve(target: str | None) -> str:
        if target is None:
            return END
        node = journey.nodes.get(target)
        if isinstance(node, ir.RepeatCheck):
            return repeat_of_check.get(target, target)
        if isinstance(node, ir.RepeatNext):
            return repeat_of_check.get(node.next, target)
        return target

    steps: list[str] = [ENTRY]
    edges = [Edge(ENTRY, resolve(journey.start))]
    after: dict[str, str] = {}
    for nid, node in journey.nodes.items():
        if isinstance(node, ir.RepeatCheck | ir.RepeatNext):
            continue
        steps.append(nid)
        if isinstance(node, ir.RepeatStart):
            check = journey.nodes.get(node.next)
            if isinstance(check, ir.RepeatCheck):
                after[nid] = resolve(check.exit)
                edges += [Edge(nid, resolve(check.body), "round"), Edge(nid, after[nid], "done")]
                continue
        for label, target in ir.edges(node):
            into_next_round = isinstance(journey.nodes.get(target or ""), ir.RepeatNext)
            edges.append(Edge(nid, resolve(target), label or ("next round" * into_next_round)))
    if any(e.target == END for e in edges):
        steps.append(END)
    return steps, edges, after


# --------------------------------------------------------------------------- layout


@dataclass(slots=True)
class _Layout:
    layer: dict[str, int]
    x: dict[str, float]
    layers: list[list[str]]
    chains: dict[int, list[str]]  # forward edge index -> source, waypoints..., target
    back: list[int]  # indices of back edges
    width: dict[str, float]


def _back_edges(steps: Sequence[str], edges: Sequence[Edge]) -> tuple[set[int], dict[str, int]]:
    """Edges that close a cycle in a depth-first walk from the entry, and the preorder."""
    out: dict[str, list[int]] = {s: [] for s in steps}
    for k, e in enumerate(edges):
        out[e.source].append(k)
    order: dict[str, int] = {}
    back: set[int] = set()
    for root in steps:
        if root in order:
            continue
        order[root] = len(order)
        on_stack = {root}
        stack = [(root, 0)]
        while stack:
            node, i = stack[-1]
            if i == len(out[node]):
                stack.pop()
                on_stack.discard(node)
                continue
            stack[-1] = (node, i + 1)
            k = out[node][i]
            target = edges[k].target
            if target in on_stack:
                back.add(k)
            elif target not in order:
                order[target] = len(order)
                on_stack.add(target)
                stack.append((target, 0))
    return back, order


def _layers(
    steps: Sequence[str], pairs: Sequence[tuple[str, str]], order: Mapping[str, int]
) -> dict[str, int] | None:
    """Longest-path layers over ``pairs``; None when they have a cycle."""
    preds: dict[str, list[str]] = {s: [] for s in steps}
    indegree = dict.fromkeys(steps, 0)
    succs: dict[str, list[str]] = {s: [] for s in steps}
    for u, v in pairs:
        succs[u].append(v)
        preds[v].append(u)
        indegree[v] += 1
    ready = sorted((s for s in steps if indegree[s] == 0), key=order.__getitem__)
    layer: dict[str, int] = {}
    while ready:
        node = ready.pop(0)
        layer[node] = max((layer[p] + 1 for p in preds[node]), default=0)
        for v in succs[node]:
            indegree[v] -= 1
            if indegree[v] == 0:
                ready.append(v)
                ready.sort(key=order.__getitem__)
    return layer if len(layer) == len(steps) else None


def _crossings(layers: Sequence[Sequence[str]], down: Mapping[str, Sequence[str]]) -> int:
    total = 0
    for upper, lower in itertools.pairwise(layers):
        pos = {n: i for i, n in enumerate(lower)}
        lines = [(i, pos[v]) for i, u in enumerate(upper) for v in down[u] if v in pos]
        total += sum(
            1 for a, (i, p) in enumerate(lines) for j, q in lines[a + 1 :] if (i - j) * (p - q) < 0
        )
    return total


def _isotonic(
    desired: Sequence[float], gaps: Sequence[float], weights: Sequence[float]
) -> list[float]:
    """Positions closest to ``desired`` (weighted least squares) keeping each one at least its
    gap after the previous: pool-adjacent-violators on the positions minus the gaps so far."""
    offsets = [0.0]
    for g in gaps:
        offsets.append(offsets[-1] + g)
    blocks: list[list[float]] = []  # [mean, weight, count]
    for d, o, w in zip(desired, offsets, weights, strict=True):
        blocks.append([d - o, w, 1])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            m2, w2, c2 = blocks.pop()
            m1, w1, c1 = blocks.pop()
            blocks.append([(m1 * w1 + m2 * w2) / (w1 + w2), w1 + w2, c1 + c2])
    flat = [m for m, _, c in blocks for _ in range(int(c))]
    return [y + o for y, o in zip(flat, offsets, strict=True)]


def _layout(steps: Sequence[str], edges: Sequence[Edge], after: Mapping[str, str]) -> _Layout:
    back, order = _back_edges(steps, edges)
    forward = [(e.source, e.target) for k, e in enumerate(edges) if k not in back]
    # The step after a repeat goes below the repeat's body, not beside it.
    constraints = [
        (edges[k].source, after[edges[k].target])
        for k in sorted(back)
        if edges[k].target in after and edges[k].source != after[edges[k].target]
    ]
    layer = _layers(steps, forward + constraints, order) or _layers(steps, forward, order)
    assert layer is not None  # the forward edges of a depth-first walk have no cycle
    width = dict.fromkeys(steps, BOX_W)
    chains: dict[int, list[str]] = {}
    for k, e in enumerate(edges):
        if k in back:
            continue
        chain = [e.source]
        for j in range(layer[e.source] + 1, layer[e.target]):
            waypoint = f"~{k}~{j}"
            layer[waypoint] = j
            width[waypoint] = 0.0
            order[waypoint] = order[e.source]
            chain.append(waypoint)
        chains[k] = [*chain, e.target]
    down: dict[str, list[str]] = {n: [] for n in layer}
    up: dict[str, list[str]] = {n: [] for n in layer}
    for chain in chains.values():
        for u, v in itertools.pairwise(chain):
            down[u].append(v)
            up[v].append(u)
    layers: list[list[str]] = [[] for _ in range(max(layer.values()) + 1)]
    for n in sorted(layer, key=lambda n: (order[n], n)):
        layers[layer[n]].append(n)
    layers = _order(layers, down, up)
    x = _place(layers, down, up, width)
    return _Layout(layer, x, layers, chains, sorted(back), width)


def _by_barycentre(
    lay: Sequence[str], ref: Sequence[str], near: Mapping[str, Sequence[str]]
) -> list[str]:
    """``lay`` sorted by the mean position of each node's links into ``ref`` (nodes without
    links keep their place)."""
    pos = {n: i for i, n in enumerate(ref)}
    keyed = []
    for i, n in enumerate(lay):
        linked = [pos[m] for m in near[n] if m in pos]
        keyed.append((sum(linked) / len(linked) if linked else float(i), i, n))
    return [n for _, _, n in sorted(keyed)]


def _order(
    layers: list[list[str]], down: Mapping[str, Sequence[str]], up: Mapping[str, Sequence[str]]
) -> list[list[str]]:
    """A few barycentre sweeps, down then up, keeping the order with the fewest crossings."""
    best, fewest = [list(lay) for lay in layers], _crossings(layers, down)
    current = [list(lay) for lay in layers]
    for sweep in range(8):
        if sweep % 2 == 0:
            for li in range(1, len(current)):
                current[li] = _by_barycentre(current[li], current[li - 1], up)
        else:
            for li in range(len(current) - 2, -1, -1):
                current[li] = _by_barycentre(current[li], current[li + 1], down)
        crossings = _crossings(current, down)
        if crossings < fewest:
            best, fewest = [list(lay) for lay in current], crossings
    return best


def _place(
    layers: Sequence[Sequence[str]],
    down: Mapping[str, Sequence[str]],
    up: Mapping[str, Sequence[str]],
    width: Mapping[str, float],
) -> dict[str, float]:
    """Centre x of every node: each layer as close as it can be to its linked neighbours, in
    sweeps down (towards parents), up (towards children), and last towards both."""

    def gaps(lay: Sequence[str]) -> list[float]:
        out = []
        for a, b in itertools.pairwise(lay):
            waypoints = (width[a] == 0) + (width[b] == 0)
            out.append((width[a] + width[b]) / 2 + (H_GAP, 16.0, 12.0)[waypoints])
        return out

    def settle(lay: Sequence[str], desired: Sequence[float]) -> None:
        # Waypoints hold their place harder, so that long edges stay straight.
        weights = [3.0 if width[n] == 0 else 1.0 for n in lay]
        x.update(zip(lay, _isotonic(desired, gaps(lay), weights), strict=True))

    def towards(lay: Sequence[str], near: Callable[[str], Sequence[str]]) -> list[float]:
        out = []
        for n in lay:
            linked = near(n)
            out.append(sum(x[m] for m in linked) / len(linked) if linked else x[n])
        return out

    x: dict[str, float] = {}
    for lay in layers:
        settle(lay, [0.0] * len(lay))
    for _ in range(4):
        for lay in layers[1:]:
            settle(lay, towards(lay, lambda n: up[n]))
        for lay in reversed(layers[:-1]):
            settle(lay, towards(lay, lambda n: down[n]))
    for _ in range(2):
        for lay in layers:
            settle(lay, towards(lay, lambda n: [*up[n], *down[n]]))
    # Straighten plain sequences (one way in, one way out) where the neighbours leave room.
    for lay in layers:
        for i, n in enumerate(lay):
            if len(up[n]) != 1 or len(down[up[n][0]]) != 1:
                continue
            want = x[up[n][0]]
            gap = gaps(lay)
            if (i == 0 or want - x[lay[i - 1]] >= gap[i - 1]) and (
                i == len(lay) - 1 or x[lay[i + 1]] - want >= gap[i]
            ):
                x[n] = want
    left = min(x[n] - width[n] / 2 for n in x)
    return {n: round(v - left + MARGIN, 1) for n, v in x.items()}


# --------------------------------------------------------------------------- drawing


def _n(v: float) -> str:
    """A coordinate: short and stable."""
    text = f"{v:.1f}"
    return text[:-2] if text.endswith(".0") else text


def _fit(text: str, pixels: float, char: float) -> str:
    """``text`` in ``pixels``: whole when it fits, else cut after a whole word (mid-word only
    when the first word alone is too long) and ended with an ellipsis; the box's tooltip has
    it all."""
    room = max(int(pixels // char), 2)
    if len(text) <= room:
        return text
    cut = text[: room - 1]
    space = cut.rfind(" ")
    return (cut[:space].rstrip() if space > 0 else cut) + "…"


def _curve(a: tuple[float, float], b: tuple[float, float]) -> str:
    half = (b[1] - a[1]) / 2
    return f"C{_n(a[0])},{_n(a[1] + half)} {_n(b[0])},{_n(b[1] - half)} {_n(b[0])},{_n(b[1])}"


def _rounded(points: Sequence[tuple[float, float]], radius: float = 7.0) -> str:
    """An orthogonal polyline with rounded corners."""
    out = [f"M{_n(points[0][0])},{_n(points[0][1])}"]
    for prev, here, nxt in zip(points, points[1:], points[2:], strict=False):
        r_in = min(radius, math.dist(prev, here) / 2)
        r_out = min(radius, math.dist(here, nxt) / 2)

        def toward(p: tuple[float, float], q: tuple[float, float], r: float) -> str:
            d = math.dist(p, q) or 1.0
            return f"{_n(p[0] + (q[0] - p[0]) * r / d)},{_n(p[1] + (q[1] - p[1]) * r / d)}"

        out.append(
            f"L{toward(here, prev, r_in)}Q{_n(here[0])},{_n(here[1])} {toward(here, nxt, r_out)}"
        )
    out.append(f"L{_n(points[-1][0])},{_n(points[-1][1])}")
    return "".join(out)


def _entry_label(journey: ir.Journey) -> str:
    entry = journey.entry
    if entry.event:
        return f"on {entry.event}"
    when = f", daily at {entry.at.strftime('%H:%M')}" if entry.at else ""
    return f"{entry.kind}{when}"


def graph_svg(
    journey: ir.Journey,
    reached: Mapping[str, int],
    entered: int,
    colors: Mapping[str, str],
) -> str:
    """The journey graph: one box per step with its id, what it does and how many instances
    reached it (``reached``, of ``entered``); exits outlined in their outcome's colour."""
    steps, edges, after = graph_edges(journey)
    lay = _layout(steps, edges, after)
    top = {n: MARGIN + layer * (BOX_H + V_GAP) for n, layer in lay.layer.items()}
    x, width = lay.x, lay.width
    back = set(lay.back)

    # Ports along the bottom of each box: forward edges in the order of where they go, then
    # the edges back to a repeat (their lane is on the right).
    port: dict[int, float] = {}
    by_source: dict[str, list[int]] = {}
    for k, e in enumerate(edges):
        by_source.setdefault(e.source, []).append(k)
    for source, ks in by_source.items():
        ks.sort(key=lambda k: (k in back, x[lay.chains[k][1]] if k in lay.chains else 0.0, k))
        w = width[source]
        for i, k in enumerate(ks):
            port[k] = (
                x[source] if len(ks) == 1 else x[source] - 0.3 * w + i * 0.6 * w / (len(ks) - 1)
            )

    paths: list[str] = []
    labels: list[str] = []
    for k, chain in lay.chains.items():
        source, target = chain[0], chain[-1]
        pts = [(port[k], top[source] + BOX_H)]
        for via in chain[1:-1]:
            pts += [(x[via], top[via]), (x[via], top[via] + BOX_H)]
        pts.append((x[target], top[target]))
        d = f"M{_n(pts[0][0])},{_n(pts[0][1])}"
        for i in range(1, len(pts)):
            d += _curve(pts[i - 1], pts[i]) if i % 2 else f"L{_n(pts[i][0])},{_n(pts[i][1])}"
        dim = " dim" if not reached.get(target, entered if target == END else 0) else ""
        paths.append(f'<path class="edge{dim}" d="{d}" marker-end="url(#jd-arrow)"/>')

    right = max((x[n] + width[n] / 2 for n in x), default=0.0)
    lanes: dict[str, float] = {}
    for k in sorted(back, key=lambda k: (lay.layer[edges[k].target], k)):
        e = edges[k]
        if e.target not in lanes:
            sources = [edges[j].source for j in back if edges[j].target == e.target]
            span = range(lay.layer[e.target], max(lay.layer[s] for s in sources) + 1)
            edge = max(x[n] + width[n] / 2 for n in x if lay.layer[n] in span)
            lanes[e.target] = edge + 24 + 16 * len(lanes)
        lane = lanes[e.target]
        below = top[e.source] + BOX_H + V_GAP / 2
        above = top[e.target] - V_GAP / 2
        into = x[e.target] + 0.3 * width[e.target]
        pts = [
            (port[k], top[e.source] + BOX_H),
            (port[k], below),
            (lane, below),
            (lane, above),
            (into, above),
            (into, top[e.target]),
        ]
        paths.append(f'<path class="edge back" d="{_rounded(pts)}" marker-end="url(#jd-back)"/>')
        right = max(right, lane)
    for k, e in enumerate(edges):
        if e.label:
            text = escape(_fit(e.label, 100, 6.2))
            labels.append(
                f'<text class="elabel" x="{_n(port[k] + 4)}" '
                f'y="{_n(top[e.source] + BOX_H + 12)}">{text}</text>'
            )

    boxes = [_box(journey, n, x[n], top[n], width[n], reached, entered, colors) for n in steps]
    w_total = right + MARGIN
    h_total = MARGIN + len(lay.layers) * (BOX_H + V_GAP) - V_GAP + MARGIN
    return "\n".join(
        [
            # Shrinks to fit the page down to 70%, then scrolls (see the page's CSS).
            f'<svg class="graph" viewBox="0 0 {_n(w_total)} {_n(h_total)}" '
            f'width="{_n(w_total)}" height="{_n(h_total)}" '
            f'style="min-width:{_n(0.7 * w_total)}px" role="img" '
            f'aria-label="{escape(journey.id)}: the journey graph">',
            "<defs>",
            '<marker id="jd-arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
            'markerHeight="7" orient="auto"><path d="M0,1L10,5L0,9z" class="arrow"/></marker>',
            '<marker id="jd-back" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
            'markerHeight="7" orient="auto"><path d="M0,1L10,5L0,9z" class="arrow back"/></marker>',
            "</defs>",
            *paths,
            *boxes,
            *labels,
            "</svg>",
        ]
    )


def _box(
    journey: ir.Journey,
    nid: str,
    cx: float,
    y: float,
    w: float,
    reached: Mapping[str, int],
    entered: int,
    colors: Mapping[str, str],
) -> str:
    left = cx - w / 2
    style = ""
    if nid == ENTRY:
        kind, title, label, count = "pill", "entry", _entry_label(journey), entered
    elif nid == END:
        kind, title, label, count = "pill", "end", "no exit: completed", None
    else:
        node = journey.nodes[nid]
        kind = _KIND_CLASS.get(node.kind, "other")
        # A label the author gave names the step; an id the compiler made up (if_2) does not.
        title = nid if nid in journey.labels else node.kind.replace("_", " ")
        label, count = step_label(node), reached.get(nid, 0)
        if isinstance(node, ir.Exit) and node.outcome in colors:
            style = f' style="stroke:{colors[node.outcome]}"'
    zero = " zero" if count == 0 else ""
    rx = BOX_H / 2 if kind == "pill" else 6
    pad = 12.0 if kind != "pill" else 20.0
    number = "" if count is None else f"{count:,}"
    share = "" if count is None else percent_of(count, entered)
    tip = f"{title}\n{label}" + ("" if count is None else f"\nreached: {number} ({share})")
    parts = [
        f'<g class="node k-{kind}{zero}" data-node="{escape(nid)}">',
        f"<title>{escape(tip)}</title>",
        f'<rect class="box" x="{_n(left)}" y="{_n(y)}" width="{_n(w)}" height="{_n(BOX_H)}" '
        f'rx="{_n(rx)}"{style}/>',
        f'<text class="nid" x="{_n(left + pad)}" y="{_n(y + 18)}">'
        f"{escape(_fit(title, w - 2 * pad - len(number) * _CHAR_12 - 8, _CHAR_12))}</text>",
        f'<text class="lbl" x="{_n(left + pad)}" y="{_n(y + 34)}">'
        f"{escape(_fit(label, w - 2 * pad - len(share) * _CHAR_11 - 8, _CHAR_11))}</text>",
    ]
    if count is not None:
        parts += [
            f'<text class="cnt" x="{_n(left + w - pad)}" y="{_n(y + 18)}" '
            f'text-anchor="end">{number}</text>',
            f'<text class="pct" x="{_n(left + w - pad)}" y="{_n(y + 34)}" '
            f'text-anchor="end">{share}</text>',
        ]
        if kind != "pill":
            inner = w - 2 * pad
            filled = inner * count / entered if entered else 0.0
            parts += [
                f'<rect class="track" x="{_n(left + pad)}" y="{_n(y + 41)}" '
                f'width="{_n(inner)}" height="4" rx="2"/>',
                f'<rect class="fill" x="{_n(left + pad)}" y="{_n(y + 41)}" '
                f'width="{_n(filled)}" height="4" rx="2"/>',
            ]
    parts.append("</g>")
    return "".join(parts)


# --------------------------------------------------------------------------- chart


@dataclass(frozen=True, slots=True)
class Series:
    """One line of a chart: a value per day (day 0 is the start)."""

    name: str
    color: str
    values: Sequence[int]
    dashed: bool = False


def _nice_step(top: int, ticks: int = 5) -> int:
    raw = max(top / ticks, 1)
    power = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 5, 10):
        if m * power >= raw:
            return int(m * power)
    return int(10 * power)


def line_chart(
    series: Sequence[Series], *, days: int, x_title: str, width: int = 1100, height: int = 300
) -> str:
    """Lines over ``days`` days with a y axis of counts, gridlines and day ticks."""
    left, right, top, bottom = 52, 16, 14, 44
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max((v for s in series for v in s.values), default=0)
    step = _nice_step(max(peak, 1))
    y_max = max(step * math.ceil(max(peak, 1) / step), step)

    def px(day: float) -> float:
        return left + plot_w * day / max(days, 1)

    def py(value: float) -> float:
        return top + plot_h * (1 - value / y_max)

    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'role="img" aria-label="{escape(x_title)}">'
    ]
    for v in range(0, y_max + 1, step):
        parts.append(
            f'<line class="grid" x1="{left}" x2="{width - right}" y1="{_n(py(v))}" '
            f'y2="{_n(py(v))}"/><text class="tick" x="{left - 8}" y="{_n(py(v) + 4)}" '
            f'text-anchor="end">{v:,}</text>'
        )
    every = next((s for s in (1, 2, 5, 7, 14, 28, 56, 91, 182, 364) if days / s <= 14), 364)
    for d in range(0, days + 1, every):
        parts.append(
            f'<line class="xtick" x1="{_n(px(d))}" x2="{_n(px(d))}" y1="{top + plot_h}" '
            f'y2="{top + plot_h + 5}"/><text class="tick" x="{_n(px(d))}" '
            f'y="{top + plot_h + 18}" text-anchor="middle">{d}</text>'
        )
    parts.append(
        f'<line class="axis" x1="{left}" x2="{width - right}" y1="{top + plot_h}" '
        f'y2="{top + plot_h}"/><text class="axis-title" x="{left + plot_w / 2:g}" '
        f'y="{height - 6}" text-anchor="middle">{escape(x_title)}</text>'
    )
    for s in series:
        points = " ".join(f"{_n(px(d))},{_n(py(v))}" for d, v in enumerate(s.values))
        dash = ' stroke-dasharray="6 4"' if s.dashed else ""
        final = s.values[-1] if s.values else 0
        parts.append(
            f'<polyline class="line" data-series="{escape(s.name)}" points="{points}" '
            f'stroke="{s.color}"{dash}><title>{escape(s.name)}: {final:,} at the end'
            "</title></polyline>"
        )
    parts.append("</svg>")
    return "\n".join(parts)
