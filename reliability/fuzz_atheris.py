"""Coverage-guided fuzzing with atheris (libFuzzer for Python), on the hostile-input targets.

    python -m reliability.fuzz_atheris TARGET [libFuzzer flags, e.g. -runs=20000 -seed=1]

TARGET is ``yaml``, ``dsl``, ``behaviour`` or ``events``. The fuzzer feeds the bytes it evolves
(from a seed corpus of the example files) to the same entry points the hypothesis campaign uses
(:mod:`reliability.hostile`); an exception those entry points may not raise is a crash, which
libFuzzer reports with the input that caused it and stops. Crash classes already known and pinned
(``reliability.hostile.KNOWN``) are counted, not reported, so the fuzzer goes on looking for new
ones. atheris is not a dependency of journeydsl: ``pip install atheris`` (wheels exist for
CPython 3.11 on Linux x86-64).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

TARGETS = ("yaml", "dsl", "behaviour", "events")
_DONE = re.compile(r"Done (\d+) runs")


def available() -> bool:
    """Whether atheris can be imported here."""
    try:
        import atheris  # type: ignore[import-untyped]  # noqa: F401
    except ImportError:
        return False
    return True


def _entry(target: str) -> Callable[[bytes], None]:
    import atheris

    # Everything the targets reach, journeydsl's lazily imported stages included, is imported
    # (and so instrumented for coverage) here.
    with atheris.instrument_imports(include=["journeydsl", "yaml", "lark"]):
        import journeydsl.budget
        import journeydsl.compiler.checks
        import journeydsl.compiler.lower
        import journeydsl.syntax.parser
        import journeydsl.syntax.yaml_loader  # noqa: F401
        from journeydsl.compiler import compile_source
        from journeydsl.runtime.engine import Engine
        from journeydsl.simulate.behaviour import load_behaviour
        from journeydsl.testing import (
            MemoryEventStore,
            MemoryProfileStore,
            MemoryStateStore,
            SteppableClock,
        )
        from journeydsl.yamlfile import InputError
    from reliability._common import EXAMPLES, JOURNEYS, START, compiled
    from reliability.hostile import KNOWN, _origin

    def known(exc: BaseException) -> bool:
        return any((target, type(exc).__name__, _origin(exc)) == k for k in KNOWN)

    def text_of(data: bytes) -> str:
        # As a file would be read (undecodable bytes are JD110 before any parsing), keeping the
        # structure of the seed corpus that libFuzzer mutates.
        return data.decode("utf-8", errors="replace")

    if target in ("yaml", "dsl"):
        name = str(EXAMPLES / ("fuzz.yaml" if target == "yaml" else "fuzz.journey"))

        def compile_one(data: bytes) -> None:
            compile_source(text_of(data), name)

        return compile_one
    if target == "behaviour":

        def behaviour_one(data: bytes) -> None:
            try:
                load_behaviour("fuzz/behaviour.yaml", text_of(data))
            except InputError:
                pass
            except Exception as exc:
                if not known(exc):
                    raise

        return behaviour_one
    engine = Engine(
        [compiled(j) for j in JOURNEYS],
        events=MemoryEventStore(),
        profiles=MemoryProfileStore(),
        state=MemoryStateStore(),
        clock=SteppableClock(START),
        unhandled="withhold",  # no gateways: the fuzzer looks for crashes, not deliveries
    )

    def event_one(data: bytes) -> None:
        # What `journeydsl run` does with one line: JSON, an object, then the engine.
        try:
            raw: Any = json.loads(data.decode("utf-8"))
        except (ValueError, RecursionError):
            return
        if isinstance(raw, dict):
            engine.ingest(raw)

    return event_one


def _corpus(target: str, folder: Path) -> None:
    from reliability._common import EXAMPLES, stream

    if target == "events":
        events, _ = stream(5, 1)
        for i, e in enumerate(events[:20]):
            (folder / f"e{i}").write_text(json.dumps(e), encoding="utf-8")
        return
    pattern = {"yaml": "*.yaml", "dsl": "*.journey", "behaviour": "behaviour/*.yaml"}[target]
    for i, path in enumerate(sorted(EXAMPLES.glob(pattern))):
        (folder / f"s{i}").write_bytes(path.read_bytes())


def _report(stderr: str, folder: Path) -> dict[str, str]:
    """The exception libFuzzer stopped on, and the input that raised it."""
    start = stderr.find("=== Uncaught Python exception: ===")
    crash = next(iter(sorted(folder.glob("crash-*"))), None)
    return {
        "exception": stderr[start : start + 2500] if start >= 0 else stderr[-800:],
        "input": repr(crash.read_bytes()[:600]) if crash else "",
    }


def campaign(runs: int, seed: int) -> dict[str, Any]:
    """Each target for ``runs`` executions in its own process; what libFuzzer reported."""
    if not available():
        return {"available": False}
    out: dict[str, Any] = {"available": True}
    for target in TARGETS:
        with tempfile.TemporaryDirectory(prefix="jd-atheris-") as tmp:
            corpus = Path(tmp) / "corpus"
            corpus.mkdir()
            _corpus(target, corpus)
            cmd = [
                sys.executable,
                "-m",
                "reliability.fuzz_atheris",
                target,
                f"-runs={runs}",
                f"-seed={seed}",
                "-max_len=4096",
                "-rss_limit_mb=2048",
                f"-artifact_prefix={tmp}/",
                str(corpus),
            ]
            done = subprocess.run(
                cmd,
                capture_output=True,
                text=True,
                errors="replace",
                timeout=3600,
                check=False,
                cwd=Path(__file__).resolve().parent.parent,
            )
            found = _DONE.findall(done.stderr)
            out[target] = {
                "runs": int(found[-1]) if found else None,
                "crashed": done.returncode != 0,
            }
            if done.returncode != 0:
                out[target]["report"] = _report(done.stderr, Path(tmp))
    return out


def main(argv: list[str]) -> None:
    """``python -m reliability.fuzz_atheris TARGET [libFuzzer flags]``."""
    if not argv or argv[0] not in TARGETS:
        raise SystemExit(f"usage: python -m reliability.fuzz_atheris {{{','.join(TARGETS)}}} ...")
    import atheris

    entry = _entry(argv[0])
    atheris.Setup([sys.argv[0], *argv[1:]], entry)
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv[1:])
