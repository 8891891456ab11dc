"""The YAML reader: a composed document to :mod:`journeydsl.ast`, driven by the shape tables.

:class:`Reader` walks the node tree by the tables in :mod:`journeydsl.syntax.shapes`: each mapping
is checked against its shape (unknown, duplicate, missing and exclusive keys, YAML merge keys),
each value is read by the reader of its :class:`~journeydsl.syntax.shapes.ValueKind`, and the
fields read become nodes through :mod:`._yaml_builders`. Scalars are read as their raw text;
expressions go to the expression parser with spans placed by :mod:`._yaml_positions`. Every
problem is recorded as a diagnostic; only the node budget and the depth cap stop the walk, with
:class:`TooLargeError`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any, Final

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from journeydsl import ast
from journeydsl.diagnostics import Diagnostics, did_you_mean
from journeydsl.syntax._numbers import DSL_WORDS, split_weight, whole_number
from journeydsl.syntax._yaml_builders import ENTRY_KINDS, RECORD_BUILDERS, STEP_BUILDERS, Fields
from journeydsl.syntax._yaml_positions import Source, moved, split_commas
from journeydsl.syntax._yaml_support import (
    _AFTER_RE,
    _BAD,
    _INT_RE,
    _KEY_OWNERS,
    _MERGE_TAG,
    _NAME_RE,
    _TIME_RE,
    _WEIGHT_RE,
    JUMPS,
    MINIMAL_JOURNEY,
    TooLargeError,
    _Bad,
    _describe,
    _step_hint,
    scalar_step_hint,
    unknown_key_hint,
    unknown_kind_words,
)
from journeydsl.syntax.limits import MAX_TOKENS, count_tokens, too_many_tokens
from journeydsl.syntax.parser import parse_expression, parse_schedule, reserved_words
from journeydsl.syntax.shapes import (
    ENTRY_SHAPES,
    FIRST_BRANCH_SHAPES,
    ITEM_SHAPES,
    JOURNEY,
    STEP_KINDS,
    STEP_SHAPES,
    Key,
    Shape,
    ValueKind,
)

__all__ = ["MINIMAL_JOURNEY", "Reader", "TooLargeError"]

# --------------------------------------------------------------------------- reading


class Reader:
    """Walks a composed document and builds the AST, recording diagnostics as it goes."""

    def __init__(
        self,
        text: str,
        file: str,
        diags: Diagnostics,
        *,
        max_nodes: int,
        max_depth: int,
        max_tokens: int = MAX_TOKENS,
    ) -> None:
        self.source = Source(text, file)
        self.diags = diags
        self.max_nodes = max_nodes
        self.max_depth = max_depth
        self.visits = 0
        self.tokens_left = max_tokens
        # Expressions by (node identity, offset): aliases revisit the same scalar node, and its
        # expression (and its diagnostics) need parsing only once.
        self.parsed: dict[tuple[int, int], ast.Expr | None] = {}

    # ---------------------------------------------------------------- plumbing

    def visit(self, node: Node, depth: int) -> None:
        """Count a node visit; abort past the node budget or the depth cap.

        A backstop: the loader has already bounded the expanded document, and the walk never
        visits more than it holds.
        """
        self.visits += 1
        if self.visits > self.max_nodes:
            self.diags.error(
                "JD112",
                f"document expands to too many nodes (is it an alias bomb?): more than "
                f"{self.max_nodes:,} visited",
                self.source.span(node),
                hint="aliases (*name) are expanded each time they are used",
            )
            raise TooLargeError
        if depth > self.max_depth:
            self.diags.error(
                "JD112",
                f"the document nests more than {self.max_depth} levels deep",
                self.source.span(node),
            )
            raise TooLargeError

    def wrong(self, node: Node, message: str, hint: str | None = None) -> _Bad:
        self.diags.error("JD105", message, self.source.span(node), hint)
        return _BAD

    def pairs(self, node: MappingNode, depth: int) -> list[tuple[Node, Node]]:
        """The mapping's key/value pairs, with YAML merge keys (``<<: *base``) applied."""
        own: list[tuple[Node, Node]] = []
        merged: list[tuple[Node, Node]] = []
        for k, v in node.value:
            if isinstance(k, ScalarNode) and k.tag == _MERGE_TAG:
                self.visit(v, depth + 1)
                sources = v.value if isinstance(v, SequenceNode) else [v]
                for src in sources:
                    if isinstance(src, MappingNode):
                        self.visit(src, depth + 2)
                        merged.extend(self.pairs(src, depth + 2))
                    else:
                        self.wrong(src, f"'<<' merges mappings, found {_describe(src)}")
            else:
                own.append((k, v))
        names = {k.value for k, _ in own if isinstance(k, ScalarNode)}
        for k, v in merged:
            if isinstance(k, ScalarNode) and k.value not in names:
                names.add(k.value)
                own.append((k, v))
        return own

    # ---------------------------------------------------------------- mappings

    def fields(
        self,
        node: MappingNode,
        pairs: list[tuple[Node, Node]],
        shape: Shape,
        depth: int,
        siblings: Mapping[str, Shape] | None = None,
    ) -> Fields | None:
        """Read ``pairs`` as ``shape``; None when anything is wrong (already reported)."""
        out = Fields({}, {}, self.source.mapping_span(node))
        seen: dict[str, Node] = {}
        suggested: set[str] = set()  # keys an unknown key looks like a misspelling of
        ok = True
        for k, v in pairs:
            if not isinstance(k, ScalarNode):
                self.wrong(k, f"keys must be plain names, found {_describe(k)}")
                ok = False
                continue
            name = k.value
            if name in seen:
                self.diags.error(
                    "JD106",
                    f"duplicate key '{name}' in {shape.name}",
                    self.source.span(k),
                    hint=f"'{name}' is first given at line {seen[name].start_mark.line + 1}",
                )
                ok = False
                continue
            seen[name] = k
            key = shape.key(name)
            if key is None:
                suggested.update(self.unknown_key(k, shape, siblings))
                ok = False
                continue
            value = self.value(key, v, depth + 1)
            if value is _BAD:
                ok = False
            else:
                out.values[name] = value
                out.pairs[name] = self.source.pair_span(k, v)
        for key in shape.all_keys:
            if key.required and key.name not in seen and key.name not in suggested:
                at = node.value[0][0] if node.value else node
                doc = key.doc[:1].lower() + key.doc[1:].rstrip(".")
                self.diags.error(
                    "JD104",
                    f"{shape.name} is missing required key '{key.name}'",
                    self.source.span(at),
                    hint=f"add {doc}, e.g. `{key.example}`",
                )
                ok = False
        if shape.one_of and not any(k in seen or k in suggested for k in shape.one_of):
            self.diags.error(
                "JD104",
                f"{shape.name} needs one of {' or '.join(map(repr, shape.one_of))}",
                self.source.span(node.value[0][0] if node.value else node),
                hint=f"e.g. `{shape.key(shape.one_of[0]).example}`",  # type: ignore[union-attr]
            )
            ok = False
        for group in shape.exclusive:
            given = [g for g in group if g in seen]
            if len(given) > 1:
                self.wrong(
                    seen[given[1]],
                    f"{shape.name} takes only one of {' or '.join(map(repr, group))}, "
                    f"found {' and '.join(map(repr, given))}",
                )
                ok = False
        return out if ok else None

    def unknown_key(
        self, k: ScalarNode, shape: Shape, siblings: Mapping[str, Shape] | None
    ) -> list[str]:
        """Report an unknown key; return the keys it looks like a misspelling of."""
        close, hint = unknown_key_hint(k.value, shape, siblings)
        self.diags.error(
            "JD103", f"unknown key '{k.value}' in {shape.name}", self.source.span(k), hint
        )
        return close

    def variant(
        self,
        node: MappingNode,
        shapes: Mapping[str, Shape],
        what: str,
        depth: int,
        no_head: Callable[[MappingNode, list[ScalarNode]], None],
    ) -> tuple[str, Fields] | None:
        """Read a mapping whose head key picks its shape among ``shapes`` (steps, the entry).

        ``no_head`` reports a mapping that has no head key; it gets the mapping's keys.
        """
        pairs = self.pairs(node, depth)
        keys = [k for k, _ in pairs if isinstance(k, ScalarNode)]
        heads: dict[str, Node] = {}  # a repeated head is a duplicate key, which fields() reports
        for k in keys:
            if k.value in shapes:
                heads.setdefault(k.value, k)
        if not heads:
            no_head(node, keys)
            return None
        if len(heads) > 1:
            first, second = list(heads)[:2]
            self.wrong(
                heads[second],
                f"{what} has one kind, but this one has both '{first}' and '{second}'",
                hint=(
                    f"put each step in its own list item: `- {first}: ...` and `- {second}: ...`"
                    if what == "a step"
                    else f"give only one of: {', '.join(shapes)}"
                ),
            )
            return None
        kind = next(iter(heads))
        fields = self.fields(node, pairs, shapes[kind], depth, shapes)
        return (kind, fields) if fields is not None else None

    # ---------------------------------------------------------------- the journey

    def journey(self, root: Node) -> ast.Journey | None:
        self.visit(root, 0)
        if not isinstance(root, MappingNode):
            self.wrong(
                root,
                f"a journey file must be a mapping with keys such as 'journey', 'entry' and "
                f"'steps', found {_describe(root)}",
                hint=f"start from:\n{MINIMAL_JOURNEY}",
            )
            return None
        f = self.fields(root, self.pairs(root, 0), JOURNEY, 0)
        if f is None:
            return None
        uses = f.get("uses")
        return ast.Journey(
            name=f["journey"],
            version=f.get("version", 1),
            entry=f["entry"],
            steps=f["steps"],
            title=f["title"].value if "title" in f else None,
            events_catalog=uses.get("events") if uses else None,
            templates_catalog=uses.get("templates") if uses else None,
            timezone=f.get("timezone"),
            outcomes=f.get("outcomes", ()),
            quiet_hours=f.get("quiet_hours", ()),
            fallback=f.get("fallback", ()),
            goals=f.get("goals", ()),
            stale_after=f.get("stale_after"),
            send_windows=f.get("send_windows", ()),
            params=f.get("params", ()),
            span=f.span,
        )

    # ---------------------------------------------------------------- steps

    def steps(self, key: Key, node: Node, depth: int) -> ast.Steps | _Bad:
        if not isinstance(node, SequenceNode):
            hint = "write `[]` for no steps"
            if isinstance(node, MappingNode):
                hint = "steps are a list: start each step with '- '"
            return self.wrong(
                node, f"expected a list of steps for '{key.name}', found {_describe(node)}", hint
            )
        out: list[ast.Step] = []
        ok = True
        for item in node.value:
            step = self.step(item, depth + 1)
            if step is None:
                ok = False
            else:
                out.append(step)
        return tuple(out) if ok else _BAD

    def step(self, node: Node, depth: int) -> ast.Step | None:
        self.visit(node, depth)
        if isinstance(node, ScalarNode) and node.value in ("break", "continue"):  # in a repeat
            return ast.Break(node.value, span=self.source.span(node))
        if not isinstance(node, MappingNode):
            hint = _step_hint(STEP_KINDS)
            if isinstance(node, ScalarNode):
                hint = scalar_step_hint(node.value, STEP_KINDS)
            self.wrong(node, f"expected a step (a mapping), found {_describe(node)}", hint)
            return None
        picked = self.variant(node, STEP_SHAPES, "a step", depth, self.unknown_kind)
        if picked is None:
            return None
        kind, f = picked
        return STEP_BUILDERS[kind](f)

    def unknown_kind(self, node: MappingNode, keys: list[ScalarNode]) -> None:
        """Report a step mapping without a kind key, guessing which key is a misspelt kind."""
        unknown = [k for k in keys if k.value not in _KEY_OWNERS]
        if unknown:
            likely = (k for k in unknown if k.value in JUMPS or did_you_mean(k.value, STEP_KINDS))
            guess = next(likely, unknown[0])
            message, hint = unknown_kind_words(guess.value, STEP_KINDS)
            self.diags.error("JD102", message, self.source.span(guess), hint)
            return
        hint = _step_hint(STEP_KINDS)
        if keys:  # all known, so each has owners
            owners = _KEY_OWNERS[keys[0].value]
            hint = (
                f"'{keys[0].value}' belongs to a {' or '.join(owners)} step: indent it under "
                f"that step, or add the kind, e.g. `{owners[0]}: ...`"
            )
        at = keys[0] if keys else node
        self.diags.error("JD102", "this step has no kind", self.source.span(at), hint)

    # ---------------------------------------------------------------- values

    def value(self, key: Key, node: Node, depth: int) -> Any:
        """Read ``node`` as ``key``'s value kind; :data:`_BAD` when it does not fit."""
        self.visit(node, depth)
        return _VALUE_READERS[key.kind](self, key, node, depth)

    def scalar(self, key: Key, node: Node, expected: str) -> ScalarNode | None:
        if isinstance(node, ScalarNode):
            return node
        hint = None
        if key.kind in (ValueKind.EXPR, ValueKind.EXPRS) and isinstance(node, SequenceNode):
            hint = "to write a list expression, quote it: '[a, b]'"
        elif isinstance(node, MappingNode):
            hint = "to write an expression with ': ' or '{', quote it"
        self.wrong(node, f"expected {expected} for '{key.name}', found {_describe(node)}", hint)
        return None

    def parse(
        self,
        text: str,
        node: ScalarNode,
        offset: int = 0,
        parser: Callable[..., Any] = parse_expression,
    ) -> Any:
        """Parse ``text`` (an expression, or what ``parser`` reads), which starts ``offset``
        characters into ``node``'s text; abort once the journey's expressions pass the token
        budget."""
        # Every use counts, a cached one too: an alias repeats the expression's checking.
        tokens, past = count_tokens(text, self.tokens_left)
        if past is not None:
            too_many_tokens(self.diags, self.source.span(node))
            raise TooLargeError
        self.tokens_left -= tokens
        cache_key = (id(node), offset)
        if cache_key in self.parsed:
            return self.parsed[cache_key]
        place = self.source.expression_place(node, offset, text)
        expr, diags = parser(text, place.origin)
        if place.remap is not None:  # the value is not its source text: map it back
            expr, diags = moved(expr, place.remap), moved(diags, place.remap)
        self.diags.extend(diags)
        self.parsed[cache_key] = expr
        return expr

    def expr(self, key: Key, node: Node, depth: int) -> ast.Expr | _Bad:
        scalar = self.scalar(key, node, "an expression")
        if scalar is None:
            return _BAD
        if not scalar.value.strip():
            return self.wrong(node, f"expected an expression for '{key.name}', found nothing")
        expr = self.parse(scalar.value, scalar)
        return _BAD if expr is None else expr

    def exprs(self, key: Key, node: Node, depth: int) -> tuple[ast.Expr, ...] | _Bad:
        if isinstance(node, SequenceNode) and node.value:
            items = [
                self.value(Key(key.name, ValueKind.EXPR, ""), n, depth + 1) for n in node.value
            ]
            return _BAD if any(i is _BAD for i in items) else tuple(items)
        scalar = self.scalar(key, node, "comma-separated expressions")
        if scalar is None:
            return _BAD
        out: list[ast.Expr] = []
        ok = True
        for offset, piece in split_commas(scalar.value):
            if not piece:
                self.wrong(node, f"expected an expression in '{key.name}', found an empty one")
                ok = False
                continue
            expr = self.parse(piece, scalar, offset)
            if expr is None:
                ok = False
            else:
                out.append(expr)
        return tuple(out) if ok else _BAD

    def name(self, key: Key, node: Node, depth: int) -> ast.Ident | _Bad:
        scalar = self.scalar(key, node, "a name")
        if scalar is None:
            return _BAD
        if not _NAME_RE.fullmatch(scalar.value):
            hint = None
            if "," in scalar.value and key.kind is ValueKind.NAMES:
                hint = (
                    "write a list: [" + ", ".join(p.strip() for p in scalar.value.split(",")) + "]"
                )
            return self.wrong(
                node,
                f"expected a name for '{key.name}' (letters, digits and '_', not starting with "
                f"a digit), found {_describe(node)}",
                hint,
            )
        if key.name == "id" and scalar.value in reserved_words():
            return self.wrong(
                node,
                f"'{scalar.value}' is a reserved word of the journey language and cannot be "
                "a step id",
                f"choose another id, e.g. '{scalar.value}_step'",
            )
        return ast.Ident(scalar.value, self.source.text_span(scalar))

    def names(self, key: Key, node: Node, depth: int) -> tuple[ast.Ident, ...] | _Bad:
        """A list of names; a single name is a list of one."""
        if not isinstance(node, SequenceNode):
            one = self.name(key, node, depth)
            return _BAD if isinstance(one, _Bad) else (one,)
        out: list[ast.Ident] = []
        ok = True
        for item in node.value:
            self.visit(item, depth + 1)
            name = self.name(key, item, depth + 1)
            if isinstance(name, _Bad):
                ok = False
            else:
                out.append(name)
        return tuple(out) if ok else _BAD

    def integer(self, key: Key, node: Node, depth: int) -> int | _Bad:
        scalar = self.scalar(key, node, "a whole number")
        if scalar is None:
            return _BAD
        if not _INT_RE.fullmatch(scalar.value):
            return self.wrong(
                node, f"expected a whole number for '{key.name}', found {_describe(node)}"
            )
        what = DSL_WORDS.get(key.name, key.name)
        n = whole_number(scalar.value, what, self.source.text_span(scalar), self.diags)
        return _BAD if n is None else n

    def string(self, key: Key, node: Node, depth: int) -> ast.StringLit | _Bad:
        scalar = self.scalar(key, node, "a string")
        if scalar is None:
            return _BAD
        return ast.StringLit(scalar.value, self.source.text_span(scalar))

    def time(self, key: Key, node: Node, depth: int) -> ast.TimeLit | _Bad:
        scalar = self.scalar(key, node, 'a time of day "HH:MM"')
        if scalar is None:
            return _BAD
        if not _TIME_RE.fullmatch(scalar.value):
            self.diags.error(
                "JD108",
                f"expected a time of day \"HH:MM\" for '{key.name}', found {_describe(node)}",
                self.source.span(node),
                hint=f"e.g. `{key.example}`" if key.example else None,
            )
            return _BAD
        return ast.TimeLit(scalar.value, self.source.text_span(scalar))

    def category(self, key: Key, node: Node, depth: int) -> ast.Ident | _Bad:
        scalar = self.scalar(key, node, "a category")
        if scalar is None:
            return _BAD
        if scalar.value not in ast.CATEGORIES:
            return self.wrong(
                node,
                f"category must be one of {', '.join(ast.CATEGORIES)}, found {_describe(node)}",
                did_you_mean(scalar.value, ast.CATEGORIES),
            )
        return ast.Ident(scalar.value, self.source.text_span(scalar))

    def true(self, key: Key, node: Node, depth: int) -> bool | _Bad:
        if isinstance(node, ScalarNode) and node.value in ("true", "True", "TRUE"):
            return True
        return self.wrong(node, f"'{key.name}' takes only `true`, found {_describe(node)}")

    def params(self, key: Key, node: Node, depth: int) -> tuple[ast.Param, ...] | _Bad:
        if not isinstance(node, MappingNode):
            return self.wrong(
                node,
                f"expected a mapping of name: expression for '{key.name}', found {_describe(node)}",
                hint=f"e.g. `{key.example}`" if key.example else None,
            )
        out: list[ast.Param] = []
        seen: set[str] = set()
        ok = True
        for k, v in self.pairs(node, depth):
            name = self.name(Key(key.name, ValueKind.NAME, ""), k, depth)
            label = f"{key.name}.{name.name}" if isinstance(name, ast.Ident) else key.name
            value = self.value(Key(label, ValueKind.EXPR, ""), v, depth + 1)
            if isinstance(name, ast.Ident) and name.name in seen:
                self.diags.error("JD106", f"duplicate key '{label}'", self.source.span(k))
            if isinstance(name, _Bad) or isinstance(value, _Bad) or name.name in seen:
                ok = False
            else:
                out.append(ast.Param(name, value, self.source.pair_span(k, v)))
            if isinstance(name, ast.Ident):
                seen.add(name.name)
        return tuple(out) if ok else _BAD

    def fallback(self, key: Key, node: Node, depth: int) -> tuple[ast.Ident, ...] | _Bad:
        if isinstance(node, ScalarNode) and node.value == "none":
            return ()
        return self.names(key, node, depth)

    def chains(self, key: Key, node: Node, depth: int) -> tuple[ast.FallbackChain, ...] | _Bad:
        example = "e.g. `fallback: [push, zns, sms]` or `fallback: [[push, sms], [zns, sms]]`"
        if not isinstance(node, SequenceNode):
            return self.wrong(
                node,
                f"expected a list of channels for '{key.name}', found {_describe(node)}",
                example,
            )
        nested = [isinstance(n, SequenceNode) for n in node.value]
        if any(nested) and not all(nested):
            return self.wrong(
                node,
                f"'{key.name}' is one chain of channels or a list of chains, not a mix",
                example,
            )
        if not node.value:
            return ()
        lists = node.value if all(nested) else [node]
        out: list[ast.FallbackChain] = []
        ok = True
        for chain in lists:
            if chain is not node:
                self.visit(chain, depth + 1)
            channels = self.names(key, chain, depth + 1)
            if isinstance(channels, _Bad):
                ok = False
            elif len(channels) < 2:
                self.wrong(chain, "a fallback chain needs at least two channels", example)
                ok = False
            else:
                out.append(ast.FallbackChain(channels, self.source.span(chain)))
        return tuple(out) if ok else _BAD

    def weight(self, key: Key, node: Node, depth: int) -> Decimal | _Bad:
        scalar = self.scalar(key, node, "a percentage")
        if scalar is None:
            return _BAD
        if not _WEIGHT_RE.fullmatch(scalar.value.strip()):
            return self.wrong(
                node,
                f"expected a percentage like 45% or 33.33% (at most two decimals) for "
                f"'{key.name}', found {_describe(node)}",
            )
        weight = split_weight(scalar.value, self.source.text_span(scalar), self.diags)
        return _BAD if weight is None else weight

    def records(self, key: Key, node: Node, depth: int) -> tuple[Any, ...] | _Bad:
        """A list of the record shape behind ``key.kind`` (cases, arms, quiet hours, goals)."""
        shape = ITEM_SHAPES[key.kind]
        if not isinstance(node, SequenceNode) or len(node.value) < key.min_items:
            found = "an empty list" if isinstance(node, SequenceNode) else _describe(node)
            return self.wrong(
                node,
                f"expected a list of {shape.name} mappings for '{key.name}', found {found}",
                hint=f"e.g. `{key.example}`" if key.example else None,
            )
        out: list[Any] = []
        for item in node.value:
            self.visit(item, depth + 1)
            out.append(self.record(shape, item, depth + 1))
        return _BAD if any(i is _BAD for i in out) else tuple(out)

    def record(self, shape: Shape, node: Node, depth: int) -> Any:
        if not isinstance(node, MappingNode):
            return self.wrong(node, f"expected a {shape.name} mapping, found {_describe(node)}")
        f = self.fields(node, self.pairs(node, depth), shape, depth)
        return _BAD if f is None else RECORD_BUILDERS[shape.name](f)

    def draw(self, key: Key, node: Node, depth: int) -> str | _Bad:
        """One of a few words (a split's draw, a parallel block's join), as the AST spells it."""
        words = _CHOICES[key.kind]
        scalar = self.scalar(key, node, " or ".join(words))
        if scalar is None:
            return _BAD
        if scalar.value not in words:
            return self.wrong(
                node,
                f"{key.name} must be {' or '.join(words)}, found {_describe(node)}",
                did_you_mean(scalar.value, tuple(words)),
            )
        return words[scalar.value]

    def branches(self, key: Key, node: Node, depth: int) -> tuple[ast.FirstBranch, ...] | _Bad:
        """The branches of a ``wait_first``: each an event or a condition, with its steps."""
        if not isinstance(node, SequenceNode) or not node.value:
            found = "an empty list" if isinstance(node, SequenceNode) else _describe(node)
            return self.wrong(
                node,
                f"expected a list of branches for '{key.name}', found {found}",
                hint=f"e.g. `{key.example}`",
            )
        kinds = ", ".join(f"'{k}'" for k in FIRST_BRANCH_SHAPES)
        out: list[ast.FirstBranch | _Bad] = []
        for item in node.value:
            self.visit(item, depth + 1)
            if not isinstance(item, MappingNode):
                out.append(self.wrong(item, f"expected a branch mapping, found {_describe(item)}"))
                continue

            def no_head(item: MappingNode, keys: list[ScalarNode]) -> None:
                self.diags.error(
                    "JD104",
                    f"a branch of wait_first needs one of {kinds}",
                    self.source.span(keys[0] if keys else item),
                    hint="e.g. `{event: card_activated, steps: [...]}` or `{when: profile.vip}`",
                )

            picked = self.variant(item, FIRST_BRANCH_SHAPES, "a branch", depth + 1, no_head)
            if picked is None:
                out.append(_BAD)
                continue
            f = picked[1]
            out.append(
                ast.FirstBranch(
                    event=f.get("event"),
                    where=f.get("where"),
                    condition=f.get("when"),
                    steps=f.get("steps", ()),
                    span=f.span,
                )
            )
        return _BAD if any(isinstance(b, _Bad) for b in out) else tuple(out)  # type: ignore[arg-type]

    def holdout(self, key: Key, node: Node, depth: int) -> ast.Arm | _Bad:
        if isinstance(node, MappingNode):
            arm: ast.Arm | _Bad = self.record(ITEM_SHAPES[key.kind], node, depth)
            return arm
        weight = self.weight(key, node, depth)
        return _BAD if isinstance(weight, _Bad) else ast.Arm(weight, (), self.source.span(node))

    def uses(self, key: Key, node: Node, depth: int) -> Fields | _Bad:
        shape = ITEM_SHAPES[key.kind]
        if not isinstance(node, MappingNode):
            return self.wrong(
                node,
                f"expected a mapping for '{key.name}', found {_describe(node)}",
                f"e.g. `{key.example}`",
            )
        f = self.fields(node, self.pairs(node, depth), shape, depth)
        return _BAD if f is None else f

    def reentry(self, key: Key, node: Node, depth: int) -> ast.Reentry | _Bad:
        scalar = self.scalar(key, node, "once, always or after DURATION")
        if scalar is None:
            return _BAD
        text = scalar.value.strip()
        if text == "once":
            return ast.Reentry("once", span=self.source.text_span(scalar))
        if text == "always":
            return ast.Reentry("always", span=self.source.text_span(scalar))
        m = _AFTER_RE.match(scalar.value)
        if m is None:
            return self.wrong(
                node,
                f"reentry must be once, always or after DURATION, found {_describe(node)}",
                did_you_mean(text.partition(" ")[0], ("once", "always", "after"))
                or "e.g. `reentry: after 180d`",
            )
        after = self.parse(scalar.value[m.end() :], scalar, m.end())
        if after is None:
            return _BAD
        return ast.Reentry("after", after, self.source.text_span(scalar))

    def entry(self, key: Key, node: Node, depth: int) -> ast.Entry | _Bad:
        if isinstance(node, ScalarNode) and node.value == "manual":
            return ast.Entry("manual", span=self.source.span(node))
        kinds = ", ".join(f"'{k}'" for k in ENTRY_SHAPES)
        if not isinstance(node, MappingNode):
            return self.wrong(
                node,
                f"expected an entry mapping with one of {kinds}, or `manual`, found "
                f"{_describe(node)}",
                hint=f"e.g. `{key.example}`",
            )

        def no_head(node: MappingNode, keys: list[ScalarNode]) -> None:
            self.diags.error(
                "JD104",
                f"the entry needs one of {kinds}",
                self.source.span(keys[0] if keys else node),
                hint="e.g. `entry: {event: card_issued}`",
            )

        picked = self.variant(node, ENTRY_SHAPES, "the entry", depth, no_head)
        if picked is None:
            return _BAD
        kind, f = picked
        return ast.Entry(
            ENTRY_KINDS[kind],
            event=f.get("event"),
            where=f.get("where"),
            condition=f.get("segment", f.get("when")),
            at=f.get("schedule", (f.get("daily_at"), None))[0],
            reentry=f.get("reentry", ast.Reentry("once")),
            key=f.get("key"),
            schedule=f.get("schedule", (None, None))[1],
            span=f.span,
            inputs=f.get("with", ()),  # hand-off: the values a manual entry expects
        )

    def schedule(self, key: Key, node: Node, depth: int) -> Any:
        """A segment's schedule, in the words of the DSL: ``weekly on mon at 09:00``."""
        scalar = self.scalar(key, node, "a schedule such as `weekly on mon at 09:00`")
        if scalar is None:
            return _BAD
        found = self.parse(scalar.value, scalar, parser=parse_schedule)
        return _BAD if found is None else found


_ValueReader = Callable[[Reader, Key, Node, int], Any]

#: The words of the one-of-a-few kinds, as written → as the AST has them.
_CHOICES: Final = {
    ValueKind.DRAW: {"per_customer": "customer", "per_entry": "entry"},
    ValueKind.JOIN: {"all": "all", "first": "first"},
}
_VALUE_READERS: Final[dict[ValueKind, _ValueReader]] = {
    ValueKind.NAME: Reader.name,
    ValueKind.EXPR: Reader.expr,
    ValueKind.EXPRS: Reader.exprs,
    ValueKind.INT: Reader.integer,
    ValueKind.STRING: Reader.string,
    ValueKind.TIME: Reader.time,
    ValueKind.CATEGORY: Reader.category,
    ValueKind.TRUE: Reader.true,
    ValueKind.STEPS: Reader.steps,
    ValueKind.PARAMS: Reader.params,
    ValueKind.NAMES: Reader.names,
    ValueKind.FALLBACK: Reader.fallback,
    ValueKind.CHAINS: Reader.chains,
    ValueKind.WEIGHT: Reader.weight,
    ValueKind.CASES: Reader.records,
    ValueKind.ARMS: Reader.records,
    ValueKind.HOLDOUT: Reader.holdout,
    ValueKind.REENTRY: Reader.reentry,
    ValueKind.USES: Reader.uses,
    ValueKind.ENTRY: Reader.entry,
    ValueKind.SCHEDULE: Reader.schedule,
    ValueKind.QUIET_HOURS: Reader.records,
    ValueKind.GOALS: Reader.records,
    ValueKind.SEND_WINDOWS: Reader.records,
    ValueKind.DRAW: Reader.draw,
    ValueKind.JOIN: Reader.draw,
    ValueKind.PARALLEL_BRANCHES: Reader.records,
    ValueKind.HANDLERS: Reader.records,  # during (interrupting handlers)
    ValueKind.BRANCHES: Reader.branches,
}
