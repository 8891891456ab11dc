"""The options of ``journeydsl simulate``, ``explain`` and ``preview`` (argparse only: building
the CLI parser imports nothing heavy)."""

from __future__ import annotations

import argparse

from journeydsl.cli.common import add_root_option
from journeydsl.cli.variants import add_param_arguments

__all__ = [
    "DEFAULT_DAYS",
    "add_explain_arguments",
    "add_input_arguments",
    "add_simulate_arguments",
]

#: Length of a run without --until or --days (the driver's default, repeated here so that
#: building the CLI parser imports nothing heavy).
DEFAULT_DAYS = 90


def add_input_arguments(
    p: argparse.ArgumentParser, policies_help: str, *, several: bool = False
) -> None:
    """The journey (``several``: one or more) and the input options that ``simulate``,
    ``explain`` and ``preview`` share."""
    if several:
        p.add_argument(
            "journeys",
            nargs="+",
            metavar="JOURNEY",
            help="the journey file (.journey or .yaml); several run together on one engine, "
            "sharing contact policies and history, and are reported each and in total",
        )
    else:
        p.add_argument("journey", metavar="JOURNEY", help="the journey file (.journey or .yaml)")
    p.add_argument("--policies", metavar="FILE", help=policies_help)
    rec = p.add_argument_group("recorded mode")
    rec.add_argument("--events", metavar="E.jsonl", help="recorded events (JSON Lines)")
    rec.add_argument(
        "--enrol",
        metavar="N.jsonl",
        help='customers entered from code (JSON Lines: {"customer_id", "at", "data"?}), as '
        "Engine.enroll does: how a journey with `entry manual` is simulated",
    )
    rec.add_argument("--profiles", metavar="P.jsonl", help="customer profiles (JSON Lines)")
    rec.add_argument(
        "--default-consent",
        action="store_true",
        help="customers without a profile line consent to every channel (default: to none)",
    )
    syn = p.add_argument_group("synthetic mode")
    syn.add_argument("--population", type=int, metavar="N", help="simulate N synthetic customers")
    syn.add_argument(
        "--behaviour",
        metavar="B.yaml",
        help="the behaviour model (YAML; --behavior is the same option)",
    )
    syn.add_argument("--seed", type=int, default=0, metavar="S", help="random seed (default 0)")
    when = p.add_argument_group("time range")
    when.add_argument(
        "--start",
        metavar="T",
        help="start (ISO 8601; default: the first event, or the behaviour file's start); "
        "earlier events are history",
    )
    when.add_argument("--until", metavar="T", help=f"end (default: start + {DEFAULT_DAYS} days)")
    when.add_argument("--days", type=int, metavar="D", help="end D days after the start")
    p.add_argument(
        "--progress",
        action="store_true",
        help="show progress on stderr: a bar on a terminal (the default there), otherwise a "
        "line every second with the rate, elapsed time and ETA (by default every 10 s)",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    add_param_arguments(p, sweep=False)
    add_root_option(p)


def add_simulate_arguments(p: argparse.ArgumentParser) -> None:
    """The options of ``journeydsl simulate``."""
    add_input_arguments(
        p,
        "run under this contact-policy file (docs/policies.md); the report shows what each "
        "policy deferred, dropped or rerouted, and the uplift against the holdout",
        several=True,
    )
    p.add_argument(
        "--format",
        choices=("text", "json", "html"),
        default="text",
        help="report format (default text; html: one self-contained page, use with --output)",
    )
    p.add_argument("-o", "--output", metavar="F", help="write the report here instead of stdout")
    p.add_argument(
        "--csv",
        metavar="DIR",
        help="also write the report's tables as CSV files into DIR (funnel, outcomes, messages, "
        "suppression reasons, tickets, rewards; with --compare the comparison's tables)",
    )
    p.add_argument(
        "--detail",
        action="store_true",
        help="html: embed every action and instance (the --format json document) in the page; "
        "by default it embeds the aggregate figures only, whatever the population",
    )
    p.add_argument("--trace", metavar="CUSTOMER_ID", help="also print this customer's timeline")
    p.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="N",
        help="run the customers in N processes, split by a stable hash of their id "
        "(the output is the same as with 1)",
    )
    p.add_argument(
        "--compare",
        metavar="OTHER_JOURNEY",
        help="also run this journey on the same customers and report both side by side, with "
        "paired 95%% intervals for the outcome rates and the cost per channel",
    )
    p.add_argument(
        "--compare-policies",
        metavar="OTHER_POLICIES",
        help="also run the journey under this other contact-policy file on the same customers "
        "and report both side by side, with each capacity limit's use per day (e.g. 300 "
        "against 500 telesales calls a day)",
    )
    p.add_argument(
        "--sweep",
        metavar="NAME=V1,V2,...",
        help="simulate the journey once per value of this parameter (`param NAME = …` in the "
        "journey), on the same customers, and report the variants side by side, each against "
        "the first with paired 95%% intervals",
    )
    from journeydsl.cli.spread import add_spread_arguments

    add_spread_arguments(p)


def add_explain_arguments(p: argparse.ArgumentParser) -> None:
    """The options of ``journeydsl explain``."""
    add_input_arguments(
        p,
        "run under this contact-policy file (docs/policies.md); the log then shows each "
        "message the policies deferred, dropped or rerouted, with the rule that decided",
    )
    p.add_argument("--customer", required=True, metavar="ID", help="the customer to explain")
    stored = p.add_argument_group("a live run's state")
    stored.add_argument(
        "--db",
        metavar="STATE",
        help="explain what a run stored instead of simulating: the state database of "
        "`journeydsl run` or the workers (a SQLite file, read beside its writer, or "
        "postgresql://…)",
    )
    stored.add_argument(
        "--actions",
        metavar="A.jsonl",
        help="with --db: the run's actions file, to list what was delivered",
    )
