"""The project's settings for ``journeydsl check``: the ``[tool.journeydsl]`` table of the
nearest ``pyproject.toml``, found by walking up from the current folder.

```toml
[tool.journeydsl]
select = ["JD2", "JD3"]           # report only these codes (or code prefixes); default: all
ignore = ["JD506"]                # never report these
policies = "examples/policies.yaml"  # as --policies, relative to this file's folder
root = "examples"                 # as --root, relative to this file's folder
```

Options on the command line win over the file. A mistake in the table is a usage error that
names the file, the line and the key.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from journeydsl.cli.common import closest, fail_usage

__all__ = ["Config", "code_filter", "find_config", "load_config"]

_KEYS: Final = ("select", "ignore", "policies", "root")
_CODE: Final = re.compile(r"^JD[0-9]{1,3}$")


@dataclass(frozen=True, slots=True)
class Config:
    """The ``[tool.journeydsl]`` settings, paths made absolute; ``file`` is where they came
    from (None: no file, the defaults)."""

    file: Path | None = None
    select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    policies: Path | None = None
    root: Path | None = None


def find_config(start: Path) -> Path | None:
    """The nearest ``pyproject.toml`` with a ``[tool.journeydsl]`` table, from ``start`` up."""
    for folder in (start.resolve(), *start.resolve().parents):
        candidate = folder / "pyproject.toml"
        if candidate.is_file() and "[tool.journeydsl" in _text(candidate):
            return candidate
    return None


def _text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return ""


def _where(path: Path, key: str) -> str:
    """``file:line:col`` of ``key`` in the table (the table's line when the key is not seen)."""
    lines = _text(path).splitlines()
    in_table = False
    table_line = 1
    for n, line in enumerate(lines, 1):
        stripped = line.strip()
        if stripped.startswith("["):
            in_table = stripped.startswith("[tool.journeydsl]")
            table_line = n if in_table else table_line
            continue
        if in_table and re.match(rf"{re.escape(key)}\s*=", stripped):
            return f"{path}:{n}:{line.index(key[0]) + 1}"
    return f"{path}:{table_line}:1"


def load_config(start: Path | None = None) -> Config:
    """The settings that apply in ``start`` (default: the current folder)."""
    path = find_config(start or Path.cwd())
    if path is None:
        return Config()
    try:
        data = tomllib.loads(_text(path))
    except tomllib.TOMLDecodeError as exc:
        fail_usage(f"{path}: {exc}")
    table: Any = data.get("tool", {}).get("journeydsl", {})
    if not isinstance(table, dict):
        fail_usage(f"{_where(path, 'journeydsl')}: [tool.journeydsl] is a table")
    for key in table:
        if key not in _KEYS:
            best = closest(key, _KEYS)
            fail_usage(
                f"{_where(path, key)}: unknown key '{key}' in [tool.journeydsl]"
                + (f" — did you mean '{best}'?" if best else f"; the keys are {', '.join(_KEYS)}")
            )
    base = path.parent
    return Config(
        file=path,
        select=_codes(path, "select", table.get("select", [])),
        ignore=_codes(path, "ignore", table.get("ignore", [])),
        policies=_path(path, "policies", table.get("policies"), base),
        root=_path(path, "root", table.get("root"), base),
    )


def _path(file: Path, key: str, value: Any, base: Path) -> Path | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        fail_usage(f"{_where(file, key)}: '{key}' is a path, written as a string")
    return base / value


def _codes(file: Path, key: str, value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        fail_usage(f"{_where(file, key)}: '{key}' is a list of codes, e.g. [\"JD506\"]")
    return parse_codes(value, _where(file, key))


def parse_codes(values: Iterable[str], where: str) -> tuple[str, ...]:
    """Codes or code prefixes (``JD205``, ``JD5``), each checked against the code registry."""
    from journeydsl.diagnostics import CODES

    out = []
    for raw in values:
        code = raw.strip().upper()
        if not _CODE.match(code) or not any(c.startswith(code) for c in CODES):
            best = closest(code, CODES)
            fail_usage(
                f"{where}: '{raw}' is not a diagnostic code or a prefix of one"
                + (f" — did you mean '{best}'?" if best else " (e.g. JD205, or JD5 for all JD5xx)")
            )
        out.append(code)
    return tuple(out)


def code_filter(select: Sequence[str], ignore: Sequence[str]) -> Callable[[str], bool]:
    """A predicate on codes: selected (every code when ``select`` is empty) and not ignored."""

    def keep(code: str) -> bool:
        if select and not any(code.startswith(s) for s in select):
            return False
        return not any(code.startswith(i) for i in ignore)

    return keep
