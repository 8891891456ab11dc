"""The package's layers point down only: the runtime never imports the simulator or the CLI
(nor the simulator the CLI; neither runs on the test doubles of journeydsl.testing), the
expression language and the IR never import the compiler (nor expr the catalog loader), the
ground-floor modules import no layer above them, and the CLI is the top layer: nothing but
``python -m journeydsl`` imports it, and nothing outside it reads command-line arguments. Read
from the source (every import, function-level ones too)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "journeydsl"

#: (the modules under this prefix, must not import anything under these prefixes)
RULES = [
    (
        "journeydsl.runtime",
        ("journeydsl.simulate", "journeydsl.cli", "journeydsl.testing", "journeydsl.compiler"),
    ),
    ("journeydsl.simulate", ("journeydsl.cli", "journeydsl.testing")),
    (
        "journeydsl.expr",
        ("journeydsl.compiler", "journeydsl.runtime", "journeydsl.simulate", "journeydsl.catalog"),
    ),
    ("journeydsl.ir", ("journeydsl.compiler", "journeydsl.runtime", "journeydsl.simulate")),
    (
        "journeydsl.zones",
        ("journeydsl.compiler", "journeydsl.runtime", "journeydsl.simulate", "journeydsl.cli"),
    ),
    (
        "journeydsl.yamlfile",
        ("journeydsl.compiler", "journeydsl.runtime", "journeydsl.simulate", "journeydsl.cli"),
    ),
    (
        "journeydsl.yamlnodes",
        ("journeydsl.compiler", "journeydsl.runtime", "journeydsl.simulate", "journeydsl.cli"),
    ),
    (
        "journeydsl.jsonio",
        ("journeydsl.compiler", "journeydsl.runtime", "journeydsl.simulate", "journeydsl.cli"),
    ),
    (
        "journeydsl.confine",
        ("journeydsl.compiler", "journeydsl.runtime", "journeydsl.simulate", "journeydsl.cli"),
    ),
    (
        "journeydsl.calendars",
        ("journeydsl.compiler", "journeydsl.runtime", "journeydsl.simulate", "journeydsl.cli"),
    ),
    (
        "journeydsl.money",
        ("journeydsl.compiler", "journeydsl.runtime", "journeydsl.simulate", "journeydsl.cli"),
    ),
    (
        "journeydsl.durations",
        ("journeydsl.compiler", "journeydsl.runtime", "journeydsl.simulate", "journeydsl.cli"),
    ),
]


def _module(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports, anywhere in it, as absolute names."""
    found: set[str] = set()
    package = _module(path).rsplit(".", 0 if path.name == "__init__.py" else 1)[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def _under(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


MODULES = {_module(p): p for p in sorted(PACKAGE.rglob("*.py"))}


@pytest.mark.parametrize(("layer", "forbidden"), RULES, ids=[r[0] for r in RULES])
def test_a_layer_imports_nothing_above_it(layer: str, forbidden: tuple[str, ...]) -> None:
    """No module of ``layer`` imports a module of a layer above it."""
    members = {m: p for m, p in MODULES.items() if _under(m, layer)}
    assert members, f"no module under {layer}: the rule checks nothing"
    wrong = sorted(
        f"{module} imports {name}"
        for module, path in members.items()
        for name in _imports(path)
        if any(_under(name, f) for f in forbidden)
    )
    assert wrong == []


#: The modules outside journeydsl.cli that may import it: the ``python -m journeydsl`` door.
CLI_DOORS = {"journeydsl.__main__"}


def test_the_cli_is_the_top_layer() -> None:
    """No module outside journeydsl.cli imports it (but ``__main__``), and none outside it
    imports argparse: argument handling, printing and exit codes belong to the commands."""
    outside = {m: p for m, p in MODULES.items() if not _under(m, "journeydsl.cli")}
    assert "journeydsl.runtime.engine" in outside
    assert "journeydsl.cli.run" in MODULES
    wrong = sorted(
        f"{module} imports {name}"
        for module, path in outside.items()
        for name in _imports(path)
        if (_under(name, "journeydsl.cli") and module not in CLI_DOORS) or _under(name, "argparse")
    )
    assert wrong == []


def test_the_import_reader_sees_function_level_and_relative_imports(tmp_path: Path) -> None:
    """The checker itself: an import inside a function and a relative one are both seen."""
    sample = PACKAGE / "cli" / "quarantine.py"
    names = _imports(sample)
    assert "journeydsl.cli.run" in names  # imported inside replay_command
    assert "journeydsl.cli.stores" in names  # imported at the top


def test_every_expression_module_imports_first() -> None:
    """The checker's parts recurse through ``journeydsl.expr.checker`` as a module: each of them
    can be the first one a program imports (no name is taken from a half-initialised module)."""
    import subprocess
    import sys

    names = sorted(m for m in MODULES if _under(m, "journeydsl.expr"))
    script = (
        "import importlib, sys\n"
        f"for name in {names!r}:\n"
        "    for loaded in [m for m in sys.modules if m.startswith('journeydsl')]:\n"
        "        del sys.modules[loaded]\n"
        "    importlib.import_module(name)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_no_module_is_over_800_lines_and_the_engine_host_api_under_400() -> None:
    """Modules stay small enough to read: none in journeydsl/ is over 800 lines, and the
    engine's host API (runtime/engine.py) is under 400; the work lives in the parts it calls."""
    sizes = {m: len(p.read_text(encoding="utf-8").splitlines()) for m, p in MODULES.items()}
    assert sorted(m for m, n in sizes.items() if n > 800) == []
    assert sizes["journeydsl.runtime.engine"] < 400


def test_the_compiled_modules_never_reach_an_optional_extra() -> None:
    """Nothing the compiled build's modules import, however indirectly (type-only imports too),
    is a module of an optional extra (psycopg, confluent_kafka, prometheus_client,
    opentelemetry): the build type-checks them without those installed, and fails."""
    from tests.test_compiled import hot_modules

    parent: dict[str, str | None] = {}
    todo: list[tuple[str, str | None]] = [(m, None) for m in hot_modules()]
    while todo:
        name, via = todo.pop()
        if name in parent:
            continue
        parent[name] = via
        if name in MODULES:
            todo.extend((n, name) for n in _imports(MODULES[name]) if n in MODULES or _extra(n))
    reached = [n for n in parent if _extra(n)]
    chains = []
    for name in reached:
        chain, at = [name], parent[name]
        while at is not None:
            chain.append(at)
            at = parent[at]
        chains.append(" <- ".join(chain))
    assert not reached, "\n".join(chains)


#: The top-level modules of the optional extras (pyproject.toml's postgres, kafka, metrics, otel).
EXTRAS = ("psycopg", "confluent_kafka", "prometheus_client", "opentelemetry")


def _extra(name: str) -> bool:
    return name.split(".")[0] in EXTRAS
