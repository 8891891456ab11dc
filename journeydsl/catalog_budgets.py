"""``budgets:`` in the events catalog: a campaign's reward budgets, which ``reward … from BUDGET``
steps draw from.

    budgets:
      fee_waivers:
        label: First-year fee waivers of the onboarding campaign
        total: 500_000_000 VND        # an amount of money, or
      welcome_gifts:
        quota: 1000                   # a number of rewards (one unit a draw)
        from: 2026-01-01              # optional validity window, dates in the journey's zone
        until: 2026-03-31

Every mistake is JD109 at the catalog's own line and column.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal, InvalidOperation

import yaml

from journeydsl.diagnostics import Diagnostics, Span, did_you_mean
from journeydsl.expr.catalog import BudgetSpec, Catalog
from journeydsl.money import places_beyond

__all__ = ["load_budgets"]

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_MONEY = re.compile(r"^\s*([0-9][0-9_]*(?:\.[0-9][0-9_]*)?)\s+([A-Z]{3})\s*$")
_KEYS = ("total", "quota", "from", "until", "label")


def _span(file: str, node: yaml.Node) -> Span:
    s, e = node.start_mark, node.end_mark
    return Span(file, s.line + 1, s.column + 1, e.line + 1, e.column + 1)


def load_budgets(file: str, node: yaml.Node, catalog: Catalog, diags: Diagnostics) -> None:
    """Read the ``budgets:`` section ``node`` into ``catalog.budgets``."""
    if isinstance(node, yaml.ScalarNode) and node.value in ("", "~", "null"):
        return
    if not isinstance(node, yaml.MappingNode):
        diags.error(
            "JD109", "'budgets' is a mapping of budget name: {total | quota}", _span(file, node)
        )
        return
    for k, v in node.value:
        name = str(k.value)
        if not _IDENT.match(name):
            diags.error("JD109", f"'{name}' is not a valid budget name", _span(file, k))
            continue
        spec = _budget(file, name, k, v, diags)
        if spec is not None:
            catalog.budgets[name] = spec


def _budget(
    file: str, name: str, key: yaml.Node, node: yaml.Node, diags: Diagnostics
) -> BudgetSpec | None:
    if not isinstance(node, yaml.MappingNode):
        diags.error(
            "JD109",
            f"budget '{name}' is a mapping with 'total:' (money) or 'quota:' (a count)",
            _span(file, node),
        )
        return None
    fields: dict[str, yaml.Node] = {}
    for a, b in node.value:
        word = str(a.value)
        if word not in _KEYS:
            diags.error(
                "JD109",
                f"unknown key '{word}' in budget '{name}'",
                _span(file, a),
                did_you_mean(word, _KEYS) or f"a budget has {', '.join(_KEYS)}",
            )
            continue
        fields[word] = b
    if ("total" in fields) == ("quota" in fields):
        diags.error(
            "JD109",
            f"budget '{name}' needs one of 'total:' (an amount, e.g. 500_000_000 VND) or "
            "'quota:' (a number of rewards)",
            _span(file, key),
        )
        return None
    amount = (
        _total(file, fields["total"], diags)
        if "total" in fields
        else _quota(file, fields["quota"], diags)
    )
    starts = _date(file, fields.get("from"), diags)
    ends = _date(file, fields.get("until"), diags)
    if isinstance(starts, date) and isinstance(ends, date) and ends < starts:
        diags.error(
            "JD109",
            f"budget '{name}' ends ({ends}) before it starts ({starts})",
            _span(file, fields["until"]),
        )
        return None
    if amount is None or starts == "bad" or ends == "bad":
        return None
    label = fields.get("label")
    return BudgetSpec(
        name,
        amount[0],
        amount[1],
        starts if isinstance(starts, date) else None,
        ends if isinstance(ends, date) else None,
        str(label.value) if isinstance(label, yaml.ScalarNode) else "",
    )


def _total(file: str, node: yaml.Node, diags: Diagnostics) -> tuple[Decimal, str | None] | None:
    m = _MONEY.match(str(node.value)) if isinstance(node, yaml.ScalarNode) else None
    if m is None:
        diags.error(
            "JD109",
            "a budget's 'total' is a positive amount with its currency",
            _span(file, node),
            "e.g. `total: 500_000_000 VND`",
        )
        return None
    try:
        value = Decimal(m.group(1).replace("_", ""))
    except InvalidOperation:  # pragma: no cover - the pattern admits numbers only
        return None
    currency = m.group(2)
    if value <= 0:
        why = "positive"
    elif beyond := places_beyond(value, currency):
        used, allowed = beyond
        diags.error(
            "JD109",
            f"a budget's 'total' {node.value} has {used} decimal place{'' if used == 1 else 's'} "
            f"and {currency} has {allowed or 'none'}",
            _span(file, node),
            f"give it in whole {currency} units"
            if not allowed
            else f"give it with at most {allowed} decimal places",
        )
        return None
    else:
        return value, currency
    diags.error("JD109", f"a budget's 'total' must be {why}", _span(file, node))
    return None


def _quota(file: str, node: yaml.Node, diags: Diagnostics) -> tuple[Decimal, str | None] | None:
    text = str(node.value).replace("_", "") if isinstance(node, yaml.ScalarNode) else ""
    if not re.fullmatch(r"[0-9]+", text) or int(text) <= 0:  # (ASCII digits: `²` is no number)
        diags.error(
            "JD109",
            "a budget's 'quota' is a positive whole number of rewards",
            _span(file, node),
            "e.g. `quota: 1000`",
        )
        return None
    return Decimal(int(text)), None


def _date(file: str, node: yaml.Node | None, diags: Diagnostics) -> date | str | None:
    """The date ``node`` holds, None when absent, ``"bad"`` (reported) when it is not one."""
    if node is None:
        return None
    try:
        return date.fromisoformat(str(node.value) if isinstance(node, yaml.ScalarNode) else "")
    except ValueError:
        diags.error(
            "JD109", "a budget's 'from' and 'until' are dates", _span(file, node), "2026-01-31"
        )
        return "bad"
