"""Catalogs: the events (with typed fields), profile attributes and message templates a journey
may use. Journeys import them with ``uses events "events.yaml"`` / ``uses templates "…"``.

Catalog files are YAML, read with marks so a mistake in a catalog is reported at its own line.
They are held to the limits of journey YAML (:mod:`journeydsl.syntax.limits`: no alias bomb, no
deep nesting, plain data only), and read only when they are regular files of at most
:data:`~journeydsl.confine.MAX_CATALOG_BYTES` (1 MiB); the compiler also keeps them inside the
journey's root folder (:func:`journeydsl.confine.confine`). A refused file is JD113.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Final

import yaml

from journeydsl.ast import CATEGORIES, CHANNELS
from journeydsl.catalog_budgets import load_budgets
from journeydsl.confine import MAX_CATALOG_BYTES, Cause, FileRefusedError, read_regular, utf8_text
from journeydsl.diagnostics import Diagnostics, Span, did_you_mean
from journeydsl.expr.absent import parse_default
from journeydsl.expr.catalog import Catalog, DecisionSpec, EventSpec, TemplateSpec
from journeydsl.expr.types import SIMPLE_TYPES, Type, money, record
from journeydsl.jsonio import nfc
from journeydsl.syntax.limits import check_brackets, check_tags, check_yaml_size
from journeydsl.yamlnodes import duplicate_keys, nodes

__all__ = ["Catalog", "EventSpec", "TemplateSpec", "load_events", "load_templates", "refuse"]

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_TYPE_NAMES = (*SIMPLE_TYPES, "money", "enum")


def _span(file: str, node: yaml.Node) -> Span:
    s, e = node.start_mark, node.end_mark
    return Span(file, s.line + 1, s.column + 1, e.line + 1, e.column + 1)


def _compose(
    path: Path, diags: Diagnostics, origin: Span, sources: dict[str, str]
) -> tuple[str, yaml.Node | None]:
    file = str(path)
    try:
        text = utf8_text(read_regular(path, MAX_CATALOG_BYTES))
    except FileRefusedError as exc:
        refuse(file, exc, diags, origin)
        return file, None
    except FileNotFoundError:
        diags.error("JD109", f"catalog file '{file}' does not exist", origin)
        return file, None
    except (OSError, UnicodeDecodeError) as exc:
        diags.error("JD109", f"catalog file '{file}' cannot be read: {exc}", origin)
        return file, None
    sources[file] = text
    node = _compose_text(text, file, diags, origin) if check_brackets(text, file, diags) else None
    # The bounds of journey YAML (no alias bomb, no deep nesting: JD112) before anything reads
    # the tree. Then plain data only, as in journeys: a tag yaml.safe_load would refuse is an
    # error (JD100); composing builds no object, so the rest of the catalog is still read (no
    # cascade of "undefined event" errors in the journeys that use it).
    if node is None or not check_yaml_size(node, file, diags):
        return file, None
    check_tags(node, file, diags, "a catalog")
    for key, first in duplicate_keys(node):  # else the last one would win without a word
        diags.error(
            "JD106",
            f"duplicate key '{key.value}'",
            _span(file, key),
            f"'{key.value}' is first given at line {first.start_mark.line + 1}; give it once",
        )
    return file, _merged(node, file, diags)


def _merged(root: yaml.Node, file: str, diags: Diagnostics) -> yaml.Node | None:
    """``root`` with its YAML merge keys (``<<: *base``) applied in place, as ``yaml.safe_load``
    applies them (a mapping's own keys win), so the catalog reads what the file says; None
    after a JD109 when a merge names something that is not a mapping."""
    merger = yaml.constructor.SafeConstructor()
    for node in nodes(root):
        if isinstance(node, yaml.MappingNode):
            try:
                merger.flatten_mapping(node)
            except yaml.constructor.ConstructorError as exc:
                mark = exc.problem_mark or node.start_mark
                where = Span.point(file, mark.line + 1, mark.column + 1)
                diags.error("JD109", f"'<<' merges mappings only: {exc.problem}", where)
                return None
    return root


#: How to fix each kind of refusal (see :data:`journeydsl.confine.Cause`).
_REFUSAL_HINTS: Final[dict[Cause, str]] = {
    "outside": "a journey reads catalogs only from inside its root folder: its own folder, or "
    "the one --root DIR (root= in the API) names. Move the catalog next to the journey, or "
    "pass a --root that holds both",
    "kind": 'name a catalog file, a regular YAML file: uses events "events.yaml"',
    "size": f"a catalog may hold at most {MAX_CATALOG_BYTES:,} bytes (1 MiB) and real ones hold "
    "a few kilobytes: check that the path names the catalog",
    "changed": "check again once the file is no longer being replaced",
}


def refuse(file: str, refused: FileRefusedError, diags: Diagnostics, origin: Span) -> None:
    """Report a catalog file that may not be read (JD113) at ``origin``, the ``uses`` path: what
    was refused, why, and how to fix it. Never a word of the file's content."""
    message = f"catalog file '{file}' {refused.reason}: it is not read"
    diags.error("JD113", message, origin, _REFUSAL_HINTS[refused.cause])


def _compose_text(text: str, file: str, diags: Diagnostics, origin: Span) -> yaml.Node | None:
    fast = getattr(yaml, "CSafeLoader", None)
    if fast is not None:
        try:
            found: yaml.Node | None = yaml.compose(text, Loader=fast)
            return found
        except yaml.YAMLError:
            pass  # the pure-Python loader below gives the precise message
    try:
        node: yaml.Node | None = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = Span.point(file, mark.line + 1, mark.column + 1) if mark else origin
        diags.error("JD109", f"catalog is not valid YAML: {exc.problem or exc}", where)
        return None
    except yaml.YAMLError as exc:
        diags.error("JD109", f"catalog is not valid YAML: {exc}", origin)
        return None
    return node


def _mapping(node: yaml.Node | None) -> list[tuple[yaml.Node, yaml.Node]]:
    return list(node.value) if isinstance(node, yaml.MappingNode) else []


def _parse_type(file: str, node: yaml.Node, diags: Diagnostics) -> Type | None:
    if isinstance(node, yaml.ScalarNode):
        name = str(node.value)
        if name in SIMPLE_TYPES:
            return SIMPLE_TYPES[name]
        hint = did_you_mean(name, _TYPE_NAMES)
        if name in ("money", "enum"):
            hint = (
                f"write {{type: {name}, …}} with its {'currency' if name == 'money' else 'values'}"
            )
        diags.error("JD109", f"unknown field type '{name}'", _span(file, node), hint)
        return None
    if isinstance(node, yaml.MappingNode):
        spec = {str(k.value): v for k, v in node.value}
        kind_node = spec.get("type")
        kind = str(kind_node.value) if isinstance(kind_node, yaml.ScalarNode) else ""
        if kind == "money":
            cur = spec.get("currency")
            cur_text = str(cur.value) if isinstance(cur, yaml.ScalarNode) else ""
            if not _CURRENCY.match(cur_text):
                diags.error(
                    "JD109",
                    "a money field needs a currency, three capital letters (e.g. VND)",
                    _span(file, cur or node),
                )
                return None
            return money(cur_text)
        if kind == "enum":
            vals = spec.get("values")
            if not isinstance(vals, yaml.SequenceNode) or not vals.value:
                diags.error("JD109", "an enum field needs a list of values", _span(file, node))
                return None
            nested = next((v for v in vals.value if not isinstance(v, yaml.ScalarNode)), None)
            if nested is not None:
                diags.error(
                    "JD109",
                    "an enum value is a plain name, not a list or a mapping",
                    _span(file, nested),
                )
                return None
            return Type("enum", values=tuple(nfc(str(v.value)) for v in vals.value))
        if kind in SIMPLE_TYPES:
            return SIMPLE_TYPES[kind]
        diags.error(
            "JD109",
            f"unknown field type '{kind}'" if kind else "a field type needs 'type:'",
            _span(file, kind_node or node),
            did_you_mean(kind, _TYPE_NAMES) if kind else None,
        )
        return None
    diags.error("JD109", "expected a type name or a mapping with 'type:'", _span(file, node))
    return None


def _fields(file: str, node: yaml.Node, diags: Diagnostics, what: str) -> dict[str, Type]:
    out: dict[str, Type] = {}
    if isinstance(node, yaml.ScalarNode) and node.value in ("", "~", "null"):
        return out
    if not isinstance(node, yaml.MappingNode):
        diags.error("JD109", f"{what} must be a mapping of name: type", _span(file, node))
        return out
    for k, v in node.value:
        name = str(k.value)
        if not _IDENT.match(name):
            diags.error("JD109", f"'{name}' is not a valid name", _span(file, k))
            continue
        t = _parse_type(file, v, diags)
        if t is not None:
            out[name] = t
    return out


def _mapping_or_empty(
    file: str, node: yaml.Node | None, key: str, shape: str, diags: Diagnostics
) -> bool:
    """Whether the section ``key`` is a mapping (or absent, or empty); JD109 otherwise: a list
    of names would otherwise read as a catalog that defines nothing."""
    if node is None or isinstance(node, yaml.MappingNode):
        return True
    if isinstance(node, yaml.ScalarNode) and node.value in ("", "~", "null"):
        return True
    diags.error("JD109", f"'{key}' is a mapping of {shape}", _span(file, node))
    return False


def _section(file: str, root: yaml.Node | None, key: str) -> yaml.Node | None:
    for k, v in _mapping(root):
        if k.value == key:
            return v
    return None


def load_events(
    path: Path, catalog: Catalog, diags: Diagnostics, origin: Span, sources: dict[str, str]
) -> None:
    """Read an events catalog (``events:`` and ``attributes:``) into ``catalog``."""
    file, root = _compose(path, diags, origin, sources)
    if root is None:
        return
    if not isinstance(root, yaml.MappingNode):
        diags.error("JD109", "an events catalog is a mapping with 'events:'", _span(file, root))
        return
    events = _section(file, root, "events")
    if not _mapping_or_empty(file, events, "events", "event name: fields", diags):
        return
    catalog.has_events = True
    for k, _ in root.value:
        if k.value not in _EVENTS_SECTIONS:
            diags.error(
                "JD109",
                f"unknown catalog section '{k.value}'",
                _span(file, k),
                did_you_mean(str(k.value), _EVENTS_SECTIONS),
            )
    for k, v in _mapping(events):
        name = str(k.value)
        catalog.events[name] = EventSpec(name, _fields(file, v, diags, f"event '{name}'"))
    attrs = _section(file, root, "attributes")
    if attrs is not None:
        catalog.attributes.update(_fields(file, attrs, diags, "attributes"))
        _absence(file, attrs, catalog, diags)
    decisions = _section(file, root, "decisions")
    if decisions is not None and _mapping_or_empty(
        file, decisions, "decisions", "function name: {params, answer}", diags
    ):
        _decisions(file, decisions, catalog, diags)
    # offers: the offer catalogues (journeydsl/catalog_offers.py)
    offers = _section(file, root, "offers")
    if offers is not None and _mapping_or_empty(
        file, offers, "offers", "catalogue: {offers, …}", diags
    ):
        from journeydsl.catalog_offers import load_offers  # (it reads with this module's helpers)

        load_offers(file, offers, catalog, diags)
    budgets = _section(file, root, "budgets")  # reward budgets (catalog_budgets.py)
    if budgets is not None:
        load_budgets(file, budgets, catalog, diags)


_EVENTS_SECTIONS = ("events", "attributes", "decisions", "offers", "budgets")


# ---------------------------------------------------------------- decision functions

_DOTTED = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
_DECISION_KEYS = ("params", "answer", "label")
#: The types a decision's answer (or a field of a record answer) may have.
_ANSWER_KINDS = ("bool", "int", "decimal", "string", "money", "enum")


def _decisions(file: str, node: yaml.Node, catalog: Catalog, diags: Diagnostics) -> None:
    """``decisions:``: each function's ``params`` (name: type) and ``answer`` type."""
    for k, v in _mapping(node):
        name = str(k.value)
        if not _DOTTED.match(name):
            diags.error(
                "JD109",
                f"'{name}' is not a valid decision function name",
                _span(file, k),
                "names and dots, e.g. credit.preapproved_limit",
            )
            continue
        if not isinstance(v, yaml.MappingNode):
            diags.error("JD109", f"decision '{name}' is a mapping with 'answer:'", _span(file, v))
            continue
        spec = {str(a.value): b for a, b in v.value}
        for key, at in ((str(a.value), a) for a, _ in v.value):
            if key not in _DECISION_KEYS:
                diags.error(
                    "JD109",
                    f"unknown key '{key}' in decision '{name}'",
                    _span(file, at),
                    did_you_mean(key, _DECISION_KEYS),
                )
        params = {}
        if "params" in spec:
            params = _fields(file, spec["params"], diags, f"params of '{name}'")
        if "answer" not in spec:
            diags.error("JD109", f"decision '{name}' needs 'answer:', its type", _span(file, k))
            continue
        answer = _answer(file, name, spec["answer"], diags)
        if answer is not None:
            catalog.decisions[name] = DecisionSpec(name, params, answer)


def _answer(file: str, name: str, node: yaml.Node, diags: Diagnostics) -> Type | None:
    """An answer type: one of :data:`_ANSWER_KINDS`, or ``{type: record, fields: {…}}``."""
    if isinstance(node, yaml.MappingNode):
        spec = {str(a.value): b for a, b in node.value}
        kind = spec.get("type")
        if isinstance(kind, yaml.ScalarNode) and kind.value == "record":
            fields_node = spec.get("fields")
            if fields_node is None:
                diags.error("JD109", "a record answer needs 'fields:'", _span(file, node))
                return None
            fields = _fields(file, fields_node, diags, f"the answer of '{name}'")
            for field_name, ft in fields.items():
                if ft.kind not in _ANSWER_KINDS:
                    diags.error(
                        "JD109",
                        f"field '{field_name}' of the answer of '{name}' is {ft}: an answer holds "
                        f"{', '.join(_ANSWER_KINDS)}",
                        _span(file, fields_node),
                    )
                    return None
            return record(fields) if fields else None
    t = _parse_type(file, node, diags)
    if t is not None and t.kind not in _ANSWER_KINDS:
        diags.error(
            "JD109",
            f"the answer of '{name}' is {t}: an answer is one of {', '.join(_ANSWER_KINDS)}, "
            "or {type: record, fields: {…}}",
            _span(file, node),
        )
        return None
    return t


def _absence(file: str, attrs: yaml.Node, catalog: Catalog, diags: Diagnostics) -> None:
    """``optional: true`` and ``default: VALUE`` of the attributes written as mappings."""
    for k, v in _mapping(attrs):
        name, t = str(k.value), catalog.attributes.get(str(k.value))
        spec = {str(a.value): b for a, b in _mapping(v)}
        optional, default = spec.get("optional"), spec.get("default")
        if optional is not None:
            if not isinstance(optional, yaml.ScalarNode) or optional.value not in _BOOLS:
                diags.error("JD109", "'optional' is true or false", _span(file, optional))
            elif optional.value == "true":
                catalog.optional.add(name)
        if default is None or t is None:
            continue
        try:
            if not isinstance(default, yaml.ScalarNode):
                raise ValueError("a default is one value, written as text")
            catalog.defaults[name] = parse_default(str(default.value), t)
        except ValueError as exc:
            diags.error("JD109", f"bad default for attribute '{name}': {exc}", _span(file, default))


_BOOLS = ("true", "false")


def load_templates(
    path: Path, catalog: Catalog, diags: Diagnostics, origin: Span, sources: dict[str, str]
) -> None:
    """Read a templates catalog (``templates:``) into ``catalog``."""
    file, root = _compose(path, diags, origin, sources)
    if root is None:
        return
    section = _section(file, root, "templates")
    if section is None:
        where = _span(file, root) if root is not None else origin
        diags.error("JD109", "a templates catalog is a mapping with 'templates:'", where)
        return
    if not _mapping_or_empty(file, section, "templates", "template name: spec", diags):
        return
    catalog.has_templates = True
    for k, v in _mapping(section):
        name = str(k.value)
        spec = {str(a.value): b for a, b in _mapping(v)}
        for key, node in spec.items():
            if key not in _TEMPLATE_KEYS:
                diags.error(
                    "JD109",
                    f"unknown key '{key}' in template '{name}'",
                    _span(file, node),
                    did_you_mean(key, _TEMPLATE_KEYS),
                )
        cat_node = spec.get("category")
        category = str(cat_node.value) if isinstance(cat_node, yaml.ScalarNode) else ""
        if category not in CATEGORIES:
            diags.error(
                "JD109",
                f"template '{name}' needs a category: marketing or transactional",
                _span(file, cat_node or k),
                did_you_mean(category, CATEGORIES) if category else None,
            )
            category = "marketing"
        ch_node = spec.get("channels")
        channels: list[str] = []
        if isinstance(ch_node, yaml.SequenceNode):
            for c in ch_node.value:
                if c.value in CHANNELS:
                    channels.append(str(c.value))
                else:
                    diags.error(
                        "JD109",
                        f"unknown channel '{c.value}' in template '{name}'",
                        _span(file, c),
                        did_you_mean(str(c.value), CHANNELS),
                    )
        else:
            diags.error(
                "JD109",
                f"template '{name}' needs 'channels: [...]'",
                _span(file, ch_node or k),
            )
        params_node = spec.get("params")
        params = (
            _fields(file, params_node, diags, f"params of '{name}'")
            if params_node is not None
            else {}
        )
        texts = _texts(file, name, spec.get("text"), channels, diags)
        bodies = _texts(file, name, spec.get("body"), channels, diags, "body")
        for key in ("text", "body"):
            if key in spec:
                _placeholders(file, name, spec[key], params, diags)
        catalog.templates[name] = TemplateSpec(
            name, category, tuple(channels), params, texts, bodies
        )


_TEMPLATE_KEYS = ("category", "channels", "params", "label", "text", "body")
#: ``{name}`` placeholders; ``{{`` and ``}}`` are a literal brace.
PLACEHOLDER: Final = re.compile(r"\{\{|\}\}|\{([^{}]*)\}")


def _placeholders(
    file: str, name: str, node: yaml.Node, params: dict[str, Type], diags: Diagnostics
) -> None:
    """Each ``{placeholder}`` of a text or body names a param of the template (JD109 at the
    placeholder otherwise)."""
    scalars = [v for _, v in node.value] if isinstance(node, yaml.MappingNode) else [node]
    for scalar in scalars:
        if not isinstance(scalar, yaml.ScalarNode):
            continue
        for m in PLACEHOLDER.finditer(str(scalar.value)):
            key = m.group(1)
            if key is None or key in params:
                continue
            diags.error(
                "JD109",
                f"placeholder {{{key}}} in template '{name}' is not one of its params",
                _placeholder_span(file, scalar, m.start(), len(m.group(0))),
                did_you_mean(key, params)
                or (f"its params are {', '.join(params)}" if params else "it has no params"),
            )


def _placeholder_span(file: str, scalar: yaml.ScalarNode, offset: int, width: int) -> Span:
    """Where the placeholder at ``offset`` of a one-line scalar is (the scalar's start when it
    spans lines or escapes characters, where offsets in the value are not columns)."""
    start, end = scalar.start_mark, scalar.end_mark
    quote = 1 if scalar.style in ("'", '"') else 0
    raw_width = end.column - start.column - 2 * quote
    if start.line != end.line or raw_width != len(str(scalar.value)):
        return _span(file, scalar)
    column = start.column + quote + offset + 1
    return Span(file, start.line + 1, column, start.line + 1, column + width)


def _texts(
    file: str,
    name: str,
    node: yaml.Node | None,
    channels: list[str],
    diags: Diagnostics,
    key: str = "text",
) -> dict[str, str]:
    """``text: "…"`` (every channel) or ``text: {sms: "…", zns: "…"}``; the same for ``body``."""
    if node is None:
        return {}
    if isinstance(node, yaml.ScalarNode):
        return {"*": str(node.value)}
    if not isinstance(node, yaml.MappingNode):
        diags.error(
            "JD109",
            f"the {key} of template '{name}' is a string, or a mapping of channel: {key}",
            _span(file, node),
        )
        return {}
    out: dict[str, str] = {}
    for k, v in node.value:
        channel = str(k.value)
        if channel not in channels:
            diags.error(
                "JD109",
                f"template '{name}' has a {key} for '{channel}', which is not one of its channels",
                _span(file, k),
                did_you_mean(channel, channels),
            )
        elif not isinstance(v, yaml.ScalarNode):
            diags.error("JD109", f"the {channel} {key} of '{name}' is a string", _span(file, v))
        else:
            out[channel] = str(v.value)
    return out
