"""YAML input files (behaviour models, scenario tests, contact policies) validated with
pydantic, with every mistake reported where it was made: ``file:line:col: error: message``.

The file is composed with PyYAML's marks, constructed to plain data, validated by a pydantic model,
and each pydantic error location (``("responses", 2, "open", "probability")``) is walked back
through the composed node tree to the line and column of the offending key or value.

``load_document(..., exact_numbers=True)`` (scenario test files, whose events and profiles follow
the JSON contracts) reads a YAML float as an exact :class:`~decimal.Decimal` built from the
scalar's text, never through a float: ``999999.99999999999999`` stays what it says.

A file is read only when it is a regular one of at most ``limit`` bytes (:data:`MAX_INPUT_BYTES`
unless the caller says otherwise), so a FIFO or ``/dev/zero`` given by mistake is refused rather
than read. A file that an input file names (a policy file's ``extends``, a scenario test's
``journey``) is looked up with :func:`named_file`: relative to the input file's folder, and only
inside a root folder (:mod:`journeydsl.confine`).
"""

from __future__ import annotations

import types
import typing
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Final, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from journeydsl.confine import (
    Cause,
    FileRefusedError,
    NotUtf8Error,
    check_regular,
    confine,
    read_regular,
    utf8_text,
)
from journeydsl.diagnostics import did_you_mean
from journeydsl.jsonio import MAX_NUMBER_DIGITS, digits_written_out
from journeydsl.yamlnodes import duplicate_keys

__all__ = [
    "MAX_INPUT_BYTES",
    "FileError",
    "InputError",
    "YamlDocument",
    "load_document",
    "named_file",
    "validate",
]

#: The largest YAML input file read (16 MiB). A document holds at most :data:`MAX_NODES` nodes,
#: which real files stay far below; the limit bounds what a wrong path costs before parsing.
MAX_INPUT_BYTES: Final = 16 << 20

M = TypeVar("M", bound=BaseModel)
Loc = tuple[int | str, ...]


@dataclass(frozen=True, slots=True)
class FileError:
    """One mistake in an input file, with its 1-based position."""

    file: str
    line: int
    column: int
    message: str
    severity: str = "error"

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.severity}: {self.message}"


class InputError(Exception):
    """An input file has mistakes; ``errors`` lists every one, in file order."""

    def __init__(self, errors: Sequence[FileError]) -> None:
        self.errors = sorted(errors, key=lambda e: (e.file, e.line, e.column))
        super().__init__("\n".join(str(e) for e in self.errors))


@dataclass(frozen=True, slots=True)
class YamlDocument:
    """A parsed YAML file: its plain data and the node tree that knows every position."""

    file: str
    data: Any
    root: yaml.Node | None

    def position(self, loc: Loc, *, key: bool = False) -> tuple[int, int]:
        """The (line, column) of the value at ``loc`` (of its key with ``key=True``); the
        deepest node that exists when the path goes further than the file."""
        if self.root is None:
            return 1, 1
        node: yaml.Node = self.root
        mark = node.start_mark
        for i, part in enumerate(loc):
            last = i == len(loc) - 1
            if part == "[key]":  # pydantic's location of a bad dictionary key
                continue
            if isinstance(node, yaml.MappingNode):
                hit = next(
                    (
                        (k, v)
                        for k, v in node.value
                        if isinstance(k, yaml.ScalarNode) and k.value == str(part)
                    ),
                    None,
                )
                if hit is None:
                    continue  # a union member's tag, or a missing key: stay on the parent
                k_node, node = hit
                bad_key = (last and key) or (i + 1 < len(loc) and loc[i + 1] == "[key]")
                mark = k_node.start_mark if bad_key else node.start_mark
            elif (
                isinstance(node, yaml.SequenceNode)
                and isinstance(part, int)
                and 0 <= part < len(node.value)
            ):
                node = node.value[part]
                mark = node.start_mark
        return mark.line + 1, mark.column + 1

    def written(self, loc: Loc) -> bool:
        """Whether the file spells out every key of ``loc`` (pydantic adds keys of its own, e.g.
        for a shorthand such as ``delay: 2h`` standing for ``delay: {fixed: 2h}``)."""
        node = self.root
        for part in loc:
            if isinstance(node, yaml.MappingNode):
                node = next(
                    (
                        v
                        for k, v in node.value
                        if isinstance(k, yaml.ScalarNode) and k.value == str(part)
                    ),
                    None,
                )
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
                node = node.value[part] if 0 <= part < len(node.value) else None
            else:
                return False
            if node is None:
                return False
        return True

    def error(self, loc: Loc, message: str, *, key: bool = False) -> FileError:
        """A :class:`FileError` at ``loc``."""
        line, column = self.position(loc, key=key)
        return FileError(self.file, line, column, message)


def _plain(value: Any) -> Any:
    """YAML timestamps and dates as the ISO text the JSON contracts use."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


#: The most nodes a document may hold once its aliases are expanded.
MAX_NODES = 100_000


def _too_large(root: yaml.Node) -> str | None:
    """Why the document under ``root`` is refused (an alias that contains itself, or more than
    :data:`MAX_NODES` nodes once aliases are expanded), or None. Iterative, so depth is no
    problem; each shared node is sized once."""
    sizes: dict[int, int] = {}
    open_: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        children: list[yaml.Node] = []
        if isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        elif isinstance(node, yaml.MappingNode):
            children = [part for pair in node.value for part in pair]
        if done:
            open_.discard(key)
            sizes[key] = 1 + sum(sizes[id(c)] for c in children)
            if sizes[key] > MAX_NODES:
                return (
                    f"the document expands to more than {MAX_NODES:,} nodes "
                    "(aliases are expanded each time they are used)"
                )
            continue
        if key in sizes:
            continue
        if key in open_:
            return "an alias refers to a node that contains it"
        open_.add(key)
        stack.append((node, True))
        for child in children:
            if id(child) in open_:
                return "an alias refers to a node that contains it"
            if id(child) not in sizes:
                stack.append((child, False))
    return None


def _exact_float(loader: yaml.SafeLoader, node: yaml.Node) -> Decimal:
    """A YAML float (``1_000.5``, ``1.5e+3``, the base-60 ``1:30.5``) as the Decimal its text
    says; ``.inf`` and ``.nan`` are refused at their position, as ``loads_exact`` refuses them."""
    assert isinstance(node, yaml.ScalarNode)
    text = str(loader.construct_scalar(node)).replace("_", "").lower()
    sign = -1 if text.startswith("-") else 1
    body = text.lstrip("+-")
    problem: str | None = None
    value = Decimal(0)
    if body in (".inf", ".nan"):
        problem = f"{node.value} is not a number journeydsl can use (write a finite number)"
    else:
        try:
            for part in body.split(":"):  # YAML 1.1 base 60: 1:30.5 is 90.5
                value = value * 60 + Decimal(part)
        except InvalidOperation:
            problem = f"{node.value} is not a number"
        else:
            if digits_written_out(value) > MAX_NUMBER_DIGITS:
                problem = f"{node.value[:40]} has more than {MAX_NUMBER_DIGITS} digits"
    if problem is not None:
        raise yaml.constructor.ConstructorError(None, None, problem, node.start_mark)
    return sign * value


class _ExactLoader(yaml.SafeLoader):
    """``yaml.SafeLoader``, with floats read as exact decimals (:func:`_exact_float`)."""


_ExactLoader.add_constructor("tag:yaml.org,2002:float", _exact_float)


def load_document(
    path: str | Path,
    text: str | None = None,
    *,
    exact_numbers: bool = False,
    limit: int = MAX_INPUT_BYTES,
) -> YamlDocument:
    """Parse ``path`` (or ``text``, named ``path``); raises :class:`InputError` on a syntax error
    or an unreadable file, or a file that is not a regular one of at most ``limit`` bytes. With
    ``exact_numbers``, YAML floats become exact :class:`~decimal.Decimal` values built from their
    text."""
    file = str(path)
    if text is None:
        try:
            text = utf8_text(read_regular(Path(path), limit))
        except FileRefusedError as exc:
            refused = f"the file {exc.reason}: it is not read"
            raise InputError([FileError(file, 1, 1, refused)]) from None
        except NotUtf8Error as exc:
            raise InputError([FileError(file, exc.line, exc.column, str(exc))]) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError([FileError(file, 1, 1, f"cannot read the file: {exc}")]) from None
    try:
        loader = _ExactLoader(text) if exact_numbers else yaml.SafeLoader(text)
    except yaml.YAMLError as exc:  # a character YAML does not allow, e.g. NUL
        raise InputError([FileError(file, 1, 1, f"invalid YAML: {exc}")]) from None
    try:
        root = loader.get_single_node()
        if root is not None and (problem := _too_large(root)):
            mark = root.start_mark
            raise InputError([FileError(file, mark.line + 1, mark.column + 1, problem)])
        if root is not None and (twice := duplicate_keys(root)):
            raise InputError([_given_twice(file, key, first) for key, first in twice])
        data = loader.construct_document(root) if root is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = exc.problem or exc.context or "invalid YAML"
        raise InputError([FileError(file, line, column, f"invalid YAML: {problem}")]) from None
    except yaml.YAMLError as exc:
        raise InputError([FileError(file, 1, 1, f"invalid YAML: {exc}")]) from None
    except RecursionError:
        raise InputError([FileError(file, 1, 1, "the document is nested too deeply")]) from None
    finally:
        loader.dispose()
    return YamlDocument(file, _plain(data), root)


def _given_twice(file: str, key: yaml.ScalarNode, first: yaml.ScalarNode) -> FileError:
    mark = key.start_mark
    message = (
        f"duplicate key '{key.value}': it is first given at line {first.start_mark.line + 1}; "
        "give each key once"
    )
    return FileError(file, mark.line + 1, mark.column + 1, message)


#: How to fix each kind of refusal of a file that an input file names (see
#: :data:`journeydsl.confine.Cause`).
_FIXES: Final[dict[Cause, str]] = {
    "outside": "an input file names files only inside its root folder: its own folder, or the "
    "one --root DIR (root= in the API) names. Move the file there, or pass a --root that holds "
    "both",
    "kind": "name a regular file",
    "size": "check that the path names the right file",
    "changed": "check again once the file is no longer being replaced",
}


def named_file(
    doc: YamlDocument, loc: Loc, name: str, *, root: Path | None, limit: int, what: str
) -> Path | FileError:
    """The real path of the file that ``doc`` names at ``loc`` (``name``, relative to the folder of
    ``doc``), or the :class:`FileError` at ``loc`` that says why it is not read: it leads outside
    ``root`` (by default that folder), it is missing, or it is not a regular file of at most
    ``limit`` bytes. Only looked up, never opened: the caller reads it (through
    :func:`~journeydsl.confine.read_regular`, which checks again). ``what`` names the file in
    the message ("policy file"). The message never holds a byte of the file."""
    base = Path(doc.file).parent
    try:
        real = confine(base / name, root if root is not None else base)
        check_regular(real, limit)
    except FileRefusedError as exc:
        fix = _FIXES[exc.cause]
        return doc.error(loc, f"{what} '{name}' {exc.reason}: it is not read — {fix}")
    except FileNotFoundError:
        return doc.error(loc, f"{what} '{name}' does not exist")
    except OSError as exc:
        return doc.error(loc, f"{what} '{name}' cannot be read: {exc.strerror}")
    return real


def _models_in(annotation: Any) -> set[type[BaseModel]]:
    """The pydantic models an annotation can hold (through lists, dicts, unions …)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return {annotation}
    found: set[type[BaseModel]] = set()
    for arg in typing.get_args(annotation):
        found |= _models_in(arg)
    origin = typing.get_origin(annotation)
    if origin is not None and origin not in (typing.Union, types.UnionType, typing.Annotated):
        found |= _models_in(origin)
    return found


def _fields_at(model: type[BaseModel], loc: Loc) -> set[str]:
    """The field names allowed in the object at ``loc`` (for did-you-mean hints)."""
    candidates = {model}
    for part in loc:
        step: set[type[BaseModel]] = set()
        for m in candidates:
            info = m.model_fields.get(str(part))
            if info is not None:
                step |= _models_in(info.annotation)
        if step:
            candidates = step
    return {name for m in candidates for name in m.model_fields}


def _path(loc: Loc) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part != "[key]":
            out += f".{part}" if out else str(part)
    return out


#: What a value of the wrong shape should have been, in the words of a YAML file.
_SHAPES = {
    "tuple_type": "expected a list (one `- item` a line, or `[a, b]`)",
    "list_type": "expected a list (one `- item` a line, or `[a, b]`)",
    "dict_type": "expected a mapping (`name: value` lines, or `{name: value}`)",
    "model_type": "expected a mapping (`name: value` lines, or `{name: value}`)",
}


def _message(model: type[BaseModel], error: Any) -> tuple[str, bool]:
    """A teaching message for one pydantic error, and whether it points at a key."""
    loc: Loc = tuple(error["loc"])
    kind = error["type"]
    where = _path(loc)
    if kind == "extra_forbidden":
        name = str(loc[-1])
        hint = did_you_mean(name, _fields_at(model, loc[:-1]))
        parent = _path(loc[:-1])
        inside = f" in '{parent}'" if parent else ""
        return f"unknown field '{name}'{inside}" + (f" — {hint}" if hint else ""), True
    if kind == "missing":
        parent = _path(loc[:-1])
        inside = f" in '{parent}'" if parent else ""
        return f"missing field '{loc[-1]}'{inside}", False
    msg = str(error["msg"])
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    given = error.get("input")
    if kind in _SHAPES:
        # ("Input should be a valid tuple", "… instance of PolicySet": the model's words)
        msg = _SHAPES[kind]
        if isinstance(given, dict | list):
            msg += ", found a mapping" if isinstance(given, dict) else ", found a list"
    if kind not in ("value_error", "assertion_error") and isinstance(
        given, str | int | float | Decimal
    ):
        msg = f"{msg}, found {given if isinstance(given, Decimal) else repr(given)}"
    return (f"{where}: {msg}" if where else msg), "[key]" in loc


def validate(model: type[M], doc: YamlDocument) -> M:
    """``doc`` validated as ``model``; raises :class:`InputError` naming each mistake's line."""
    try:
        return model.model_validate(doc.data)
    except ValidationError as exc:
        errors: list[FileError] = []
        seen: set[str] = set()
        found_in = [tuple(e["loc"]) for e in exc.errors()]
        for err in exc.errors():
            loc = tuple(err["loc"])
            if err["type"] == "too_short" and any(
                len(other) > len(loc) and other[: len(loc)] == loc for other in found_in
            ):
                continue  # (too short only because an item of it is wrong, reported itself)
            if loc and loc[-1] == "fixed" and not doc.written(loc):
                err["loc"] = loc[:-1]  # the shorthand `delay: 2h`: point at what was written
            message, at_key = _message(model, err)
            found = doc.error(tuple(err["loc"]), message, key=at_key)
            if str(found) not in seen:  # a union reports one problem per member
                seen.add(str(found))
                errors.append(found)
        raise InputError(errors) from None


def report(errors: Iterable[FileError]) -> str:
    """The errors, one per line."""
    return "\n".join(str(e) for e in errors)
