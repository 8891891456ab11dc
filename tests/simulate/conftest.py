"""Shared helpers for the simulation tests: run the CLI in-process and capture its output, and
build a synthetic simulation."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from journeydsl.cli import main
from journeydsl.compiler import compile_file
from journeydsl.simulate.behaviour import load_behaviour
from journeydsl.simulate.driver import Simulation
from journeydsl.simulate.population import Population
from journeydsl.simulate.population_general import GeneralPopulation, population_for

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
EVENTS = EXAMPLES / "events"
BEHAVIOUR = EXAMPLES / "behaviour"
ONBOARDING = str(EXAMPLES / "onboarding_new_cardholder.journey")
DORMANT = str(EXAMPLES / "dormant_reactivation.journey")


class Cli:
    """Runs ``journeydsl ARGS`` and returns ``(exit code, stdout, stderr)``."""

    def __init__(self, capsys: pytest.CaptureFixture[str]) -> None:
        self.capsys = capsys

    def __call__(self, *argv: str) -> tuple[int, str, str]:
        code = main(list(argv))
        captured = self.capsys.readouterr()
        return code, captured.out, captured.err


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Cli:
    """The CLI, in-process."""
    return Cli(capsys)


def onboarding_args(*extra: str) -> list[str]:
    """``simulate`` on the shipped onboarding events and profiles."""
    return [
        "simulate",
        ONBOARDING,
        "--events",
        str(EVENTS / "onboarding.jsonl"),
        "--profiles",
        str(EVENTS / "onboarding_profiles.jsonl"),
        *extra,
    ]


def dormant_args(*extra: str) -> list[str]:
    """``simulate`` on the shipped dormant events and profiles, history before 5 January."""
    return [
        "simulate",
        DORMANT,
        "--events",
        str(EVENTS / "dormant.jsonl"),
        "--profiles",
        str(EVENTS / "dormant_profiles.jsonl"),
        "--start",
        "2026-01-05T00:00:00+07:00",
        *extra,
    ]


def synthetic_simulation(
    journey_path: str, model_path: str, size: int, seed: int, **options: Any
) -> tuple[Simulation, Population | GeneralPopulation]:
    """A simulation of ``size`` synthetic customers of the behaviour model over 60 days, its
    population attached and ready to run; ``options`` go to :class:`Simulation`."""
    journey = compile_file(journey_path).journey
    assert journey is not None
    model = load_behaviour(model_path).model
    population = population_for(model, size, seed)
    sim = Simulation(
        [journey],
        population.profiles,
        start=model.start,
        until=model.start + timedelta(days=60),
        channels=population.channels(),
        **options,
    )
    population.attach(sim)
    return sim, population
