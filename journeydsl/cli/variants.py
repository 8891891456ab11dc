"""``simulate --param NAME=VALUE`` and ``--sweep NAME=V1,V2,…``: which journeys a run simulates,
each a file with the journey parameters it is compiled with (see
:mod:`journeydsl.compiler.params`)."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field

from journeydsl.cli.common import UsageError

__all__ = ["Variant", "add_param_arguments", "variants"]


@dataclass(frozen=True)
class Variant:
    """One journey to simulate: its file, the parameter values it is compiled with, and the
    contact-policy file it runs under in place of the run's (``--compare-policies``)."""

    path: str
    params: tuple[tuple[str, str], ...] = field(default=())
    policies: str | None = None

    @property
    def label(self) -> str:
        """How reports name it: the file, with its overrides (``reminder_interval=2d``) and its
        own policy file."""
        given = [f"{k}={v}" for k, v in self.params]
        if self.policies is not None:
            given.append(f"policies {self.policies}")
        return f"{self.path} ({', '.join(given)})" if given else self.path


def add_param_arguments(p: argparse.ArgumentParser, *, sweep: bool) -> None:
    """``--param``, and ``--sweep`` with ``sweep``."""
    p.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="give a journey parameter (`param NAME = …` in the journey) another value of its "
        "type, e.g. reminder_interval=2d (repeatable)",
    )
    if sweep:
        p.add_argument(
            "--sweep",
            metavar="NAME=V1,V2,...",
            help="simulate the journey once per value of this parameter, on the same customers, "
            "and report the variants side by side (each against the first, with paired 95%% "
            "intervals)",
        )


def _pair(text: str, option: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name.strip() or not value.strip():
        raise UsageError(f"{option} {text!r}: expected NAME=VALUE, e.g. reminder_interval=2d")
    return name.strip(), value.strip()


def variants(args: argparse.Namespace) -> list[Variant]:
    """The journeys the options describe: the journey with its ``--param`` values, one per
    ``--sweep`` value (the first value is the baseline), or the journey and ``--compare``."""
    given = dict(_pair(t, "--param") for t in getattr(args, "param", None) or [])
    sweep = getattr(args, "sweep", None)
    other_policies = getattr(args, "compare_policies", None)
    if sweep is None:
        out = [Variant(args.journey, tuple(given.items()))]
        other = getattr(args, "compare", None)
        if other is not None and other_policies is not None:
            raise UsageError(
                "--compare and --compare-policies do not go together: compare another journey "
                "or other policies, one at a time"
            )
        if other is not None:
            out.append(Variant(other))
        if other_policies is not None:
            out.append(Variant(args.journey, tuple(given.items()), other_policies))
        return out
    if getattr(args, "compare", None) is not None or other_policies is not None:
        raise UsageError(
            "--sweep does not go with --compare or --compare-policies; sweep compares its own "
            "variants"
        )
    name, text = _pair(sweep, "--sweep")
    values = [v.strip() for v in text.split(",")]
    if len(values) < 2 or not all(values):
        raise UsageError(f"--sweep {sweep!r}: give two or more values, e.g. {name}=2d,3d,4d")
    if len(set(values)) != len(values):
        raise UsageError(f"--sweep {sweep!r}: a value is given twice")
    if name in given:
        raise UsageError(f"--sweep {name} and --param {name} do not go together")
    return [Variant(args.journey, (*given.items(), (name, v))) for v in values]
