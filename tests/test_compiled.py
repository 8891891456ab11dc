"""The optional compiled build (mypyc): which modules it compiles, and that a run knows which
build it is. ``.ci/run`` runs the whole suite on both builds; with
``JOURNEYDSL_EXPECT_COMPILED=1`` (its compiled run) the tests below insist on the compiled one,
so that the second run cannot silently test the pure-Python package again."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import journeydsl
from journeydsl._compiled import build, compiled_modules, mypyc_attr

ROOT = Path(__file__).resolve().parents[1]
EXPECT_COMPILED = os.environ.get("JOURNEYDSL_EXPECT_COMPILED") == "1"


def hot_modules() -> list[str]:
    """The modules pyproject.toml's mypyc hook compiles, by dotted name."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    hook = config["tool"]["hatch"]["build"]["targets"]["wheel"]["hooks"]["mypyc"]
    return sorted(p.strip("/").removesuffix(".py").replace("/", ".") for p in hook["include"])


def test_the_hot_modules_named_for_the_compiled_build_exist() -> None:
    """Every module the compiled build names is a module of the package (a rename would leave
    it out of the build silently)."""
    for name in hot_modules():
        assert (ROOT / (name.replace(".", "/") + ".py")).is_file(), name


def test_the_build_is_the_one_expected() -> None:
    """The compiled build runs exactly the hot modules compiled; the pure build none."""
    if EXPECT_COMPILED:
        assert compiled_modules() == hot_modules()
        assert build() == f"compiled: {len(hot_modules())} modules"
    elif compiled_modules():
        assert compiled_modules() == hot_modules()
    else:
        assert build() == "pure Python"


def test_the_version_says_which_build_runs() -> None:
    """``journeydsl --version`` names the build (what an operator reports with a bug)."""
    out = subprocess.run(
        [sys.executable, "-m", "journeydsl", "--version"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONSAFEPATH": "1"},
    ).stdout
    assert out.strip() == f"journeydsl {journeydsl.__version__} ({build()})"


@pytest.mark.skipif(bool(compiled_modules()), reason="the mark is read by mypyc when compiled")
def test_the_subclass_mark_is_a_no_op_in_the_pure_build() -> None:
    """Outside a compiled build the mark changes nothing about the class it marks."""

    class Plain:
        pass

    assert mypyc_attr(allow_interpreted_subclasses=True)(Plain) is Plain


def test_hosts_can_subclass_the_engine_and_the_memory_stores() -> None:
    """The classes hosts extend in Python stay open to subclasses in both builds."""
    from journeydsl.runtime.engine import Engine
    from journeydsl.runtime.stores.memory import (
        MemoryEventStore,
        MemoryProfileStore,
        MemoryStateStore,
    )

    for cls in (Engine, MemoryEventStore, MemoryProfileStore, MemoryStateStore):
        sub = type(f"My{cls.__name__}", (cls,), {})
        assert issubclass(sub, cls)
